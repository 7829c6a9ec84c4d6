#include "runtime/daemon/up_report.h"

#include <unistd.h>

#include <set>
#include <vector>

#include "runtime/logs/pod_logs.h"

namespace ticketctl::daemon {

ForegroundPrinter::ForegroundPrinter(std::FILE* out)
    : out_(out), colour_(::isatty(::fileno(out)) != 0) {}

void ForegroundPrinter::print(const std::string& pod, const std::string& line, bool is_log) {
  std::lock_guard<std::mutex> l(mu_);
  auto [it, inserted] = colours_.try_emplace(pod, static_cast<int>(colours_.size() % 6));
  if (colour_)
    std::fprintf(out_, "\033[%dm[%s]\033[0m %s%s\n", 31 + it->second, pod.c_str(),
                 is_log ? "" : "\033[2m", (line + (is_log ? "" : "\033[0m")).c_str());
  else
    std::fprintf(out_, "[%s] %s\n", pod.c_str(), line.c_str());
  std::fflush(out_);
}

void ReportLines::print(const std::string& line) {
  std::lock_guard<std::mutex> l(mu_);
  std::FILE* to = out_ ? out_ : stderr;
  std::fprintf(to, "%s\n", line.c_str());
  std::fflush(to);
}

void ReportLines::close() {
  std::lock_guard<std::mutex> l(mu_);
  if (out_) std::fclose(out_);
  out_ = nullptr;
}

GateSources store_sources(store::Shared& store, const std::filesystem::path& pods_dir) {
  GateSources sources;
  sources.snapshot = [&store] {
    GateSnapshot snapshot;
    store::Shared::Locked s = store.lock();
    snapshot.deployments = s->list("deployments.apps", "");
    snapshot.replicasets = s->list("replicasets.apps", "");
    snapshot.pods = s->list("pods", "");
    snapshot.events = s->list("events", "");
    snapshot.now_ns = logs::unix_now_ns();
    return snapshot;
  };
  sources.logs = [pods_dir](const Json& pod, const std::string& container, bool previous) {
    logs::LogOptions options;
    options.container = container;
    options.previous = previous;
    options.tail_lines = 200;
    std::vector<std::string> lines;
    Result<logs::LogRun> run = logs::choose_log_run(pod, pods_dir, options);
    if (!run.ok()) return lines;
    std::string text;
    logs::LogReader(run.value(), options, logs::unix_now_ns()).poll(text);
    for (size_t start = 0, eol; (eol = text.find('\n', start)) != std::string::npos;
         start = eol + 1)
      lines.push_back(text.substr(start, eol - start));
    return lines;
  };
  return sources;
}

void print_ingress_hosts(store::Shared& store, const IngressPorts& ports, std::FILE* out) {
  if (ports.http <= 0) return;
  std::set<std::string> hosts;
  {
    store::Shared::Locked s = store.lock();
    for (const Json& ing : s->list("ingresses.networking.k8s.io", ""))
      for (const Json& rule : json_at(json_at(ing, "spec"), "rules"))
        hosts.insert(json_at(rule, "host").is_string() ? rule["host"].get<std::string>() : "");
  }
  if (hosts.empty()) return;
  std::fprintf(out, "Open the app through the ingress (http://%s:%d):\n", ports.address.c_str(),
               ports.http);
  for (const std::string& host : hosts) {
    if (host.empty()) {
      std::fprintf(out, "  curl http://%s:%d/\n", ports.address.c_str(), ports.http);
      continue;
    }
    std::fprintf(out, "  curl -H 'Host: %s' http://%s:%d/\n", host.c_str(), ports.address.c_str(),
                 ports.http);
    std::fprintf(out, "  or add \"%s %s\" to /etc/hosts and open http://%s:%d/ in a browser\n",
                 ports.address.c_str(), host.c_str(), host.c_str(), ports.http);
  }
  std::fprintf(out,
               "  (browsers resolve *.localhost to loopback: add e.g. \"%s\" as a host of the "
               "Ingress and open http://%s:%d/)\n",
               "posts.localhost", "posts.localhost", ports.http);
  std::fflush(out);
}

}  // namespace ticketctl::daemon
