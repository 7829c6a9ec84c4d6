// `ticketctl logs`: a container's log through the API's pods/log subresource, as kubectl prints
// it. The target is a pod, a Deployment (one of its pods) or a label selector (every matching
// pod); with -f each stream is followed, several at once on a thread each.

#include <sys/stat.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "cli/api_verbs.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "runtime/api/resources.h"
#include "runtime/controllers/endpoints.h"

namespace ticketctl::cli {
namespace {

struct LogsArgs {
  std::vector<std::string> words;  // POD | TYPE/NAME, then optionally CONTAINER
  std::string ns = "default";
  std::string selector, container, since, since_time;
  bool follow = false, timestamps = false, previous = false, prefix = false;
  bool all_containers = false;
  int64_t tail = -1;
  int max_requests = 5;
  StateDirArg state;
};

// One log request: a pod's container (empty: the pod's only one, or the server's error).
struct Source {
  std::string pod, container;
};

std::string escape_query(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')
      out += c;
    else
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
  }
  return out;
}

// A Go duration as kubectl's --since takes it ("5m", "1h30m", "1.5s"), in whole seconds rounded
// up as kubectl sends them; nullopt when it is not one.
std::optional<int64_t> parse_duration_seconds(const std::string& text) {
  static const std::pair<std::string_view, double> kUnits[] = {
      {"ns", 1e-9}, {"us", 1e-6}, {"µs", 1e-6}, {"ms", 1e-3}, {"s", 1}, {"m", 60}, {"h", 3600}};
  if (text.empty()) return std::nullopt;
  double seconds = 0;
  size_t at = 0;
  while (at < text.size()) {
    const size_t start = at;
    while (at < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[at])) || text[at] == '.'))
      ++at;
    if (at == start) return std::nullopt;
    const std::string number = text.substr(start, at - start);
    char* end = nullptr;
    const double value = std::strtod(number.c_str(), &end);
    if (end != number.c_str() + number.size()) return std::nullopt;  // ".", "1.2.3"
    bool matched = false;
    // kUnits lists "ms" before "m", so "5ms" is not read as 5 minutes and an "s".
    for (const auto& [unit, scale] : kUnits) {
      if (text.compare(at, unit.size(), unit) != 0) continue;
      seconds += value * scale;
      at += unit.size();
      matched = true;
      break;
    }
    if (!matched) return std::nullopt;
  }
  return static_cast<int64_t>(std::ceil(seconds));
}

std::string log_path(const std::string& ns, const Source& s, const LogsArgs& a,
                     std::optional<int64_t> since_seconds) {
  std::string q;
  auto add = [&](const std::string& kv) { q += (q.empty() ? "?" : "&") + kv; };
  if (!s.container.empty()) add("container=" + escape_query(s.container));
  if (a.follow) add("follow=true");
  if (a.previous) add("previous=true");
  if (a.timestamps) add("timestamps=true");
  if (a.tail >= 0) add(fmt::format("tailLines={}", a.tail));
  if (since_seconds && *since_seconds > 0) add(fmt::format("sinceSeconds={}", *since_seconds));
  if (!a.since_time.empty()) add("sinceTime=" + escape_query(a.since_time));
  return api::find_resource("pods")->path(ns, s.pod) + "/log" + q;
}

// kubectl's wording: a 400 from pods/log is a BadRequest.
std::string log_error(const Error& e) {
  if (e.code == ErrorCode::Invalid) return "Error from server (BadRequest): " + e.message;
  return server_error(e);
}

// Writes streams to stdout whole lines at a time, so concurrent streams never mix within a line.
class LineWriter {
 public:
  // `concurrent`: other streams write at the same time.
  LineWriter(std::string prefix, bool concurrent, std::mutex& out_mutex)
      : prefix_(std::move(prefix)), concurrent_(concurrent), mu_(out_mutex) {}
  void add(std::string_view chunk) {
    if (prefix_.empty() && !concurrent_) {
      // The only stream, unprefixed: pass it through, even a line not finished yet.
      std::lock_guard<std::mutex> lock(mu_);
      std::cout << chunk << std::flush;
      return;
    }
    pending_.append(chunk);
    const size_t last = pending_.rfind('\n');
    if (last == std::string::npos) return;
    std::string out;
    for (size_t start = 0; start <= last;) {
      const size_t eol = pending_.find('\n', start);
      out += prefix_;
      out.append(pending_, start, eol - start + 1);
      start = eol + 1;
    }
    pending_.erase(0, last + 1);
    std::lock_guard<std::mutex> lock(mu_);
    std::cout << out << std::flush;
  }
  void finish() {
    if (pending_.empty()) return;
    std::lock_guard<std::mutex> lock(mu_);
    std::cout << prefix_ << pending_ << '\n' << std::flush;
    pending_.clear();
  }

 private:
  std::string prefix_, pending_;
  bool concurrent_;
  std::mutex& mu_;
};

// kubectl's choice of one pod for a controller: a live one, ready before not ready, newest first.
const Json* pick_pod(const std::vector<Json>& pods) {
  const Json* best = nullptr;
  auto rank = [](const Json& p) {
    return std::make_tuple(!p["metadata"].contains("deletionTimestamp"), controllers::pod_ready(p),
                           p["metadata"].value("creationTimestamp", ""));
  };
  for (const Json& p : pods)
    if (!best || rank(p) > rank(*best)) best = &p;
  return best;
}

std::vector<Source> sources_of(const Json& pod, const LogsArgs& a) {
  const std::string name = pod["metadata"].value("name", "");
  std::vector<std::string> containers;
  for (const Json& c : pod["spec"].value("containers", Json::array()))
    containers.push_back(c.value("name", ""));
  std::vector<Source> out;
  if (a.all_containers) {
    for (const std::string& c : containers) out.push_back({name, c});
  } else if (!a.container.empty()) {
    out.push_back({name, a.container});
  } else {
    // Several containers and none named: the server says which to choose from.
    out.push_back({name, containers.size() == 1 ? containers[0] : ""});
  }
  return out;
}

// The pods a target names: POD, pod/NAME or deploy/NAME. Prints the error and returns nullopt.
std::optional<std::vector<Json>> target_pods(api::ApiClient& client, const LogsArgs& a) {
  const std::string& target = a.words[0];
  const size_t slash = target.find('/');
  const api::Resource* r = slash == std::string::npos ? api::find_resource("pods")
                                                      : api::find_resource(target.substr(0, slash));
  const std::string name = slash == std::string::npos ? target : target.substr(slash + 1);
  if (name.empty()) {
    std::cerr << "error: a name is required: " << target << "NAME\n";
    return std::nullopt;
  }
  if (!r || (r->kind != "Pod" && r->kind != "Deployment")) {
    std::cerr << "error: cannot get logs from " << target.substr(0, slash)
              << ": only pods and deployments have logs here\n";
    return std::nullopt;
  }
  Result<Json> object = client.get(r->path(a.ns, name));
  if (!object.ok()) {
    std::cerr << server_error(object.error()) << '\n';
    return std::nullopt;
  }
  if (r->kind == "Pod") return std::vector<Json>{object.value()};
  Result<Json> list =
      client.get(api::find_resource("pods")->path(a.ns) +
                 selector_query(label_selector_text(object.value()["spec"]["selector"]), ""));
  if (!list.ok()) {
    std::cerr << server_error(list.error()) << '\n';
    return std::nullopt;
  }
  std::vector<Json> pods(list.value()["items"].begin(), list.value()["items"].end());
  const Json* pod = pick_pod(pods);
  if (!pod) {
    std::cerr << "error: deployment " << name << " has no pods\n";
    return std::nullopt;
  }
  if (pods.size() > 1)
    std::cerr << "Found " << pods.size() << " pods, using pod/"
              << (*pod)["metadata"].value("name", "") << '\n';
  return std::vector<Json>{*pod};
}

int stream_source(api::ApiClient& client, const std::string& path, LineWriter& out,
                  std::mutex& err_mutex) {
  Result<bool> done = client.stream(path, [&](std::string_view chunk) {
    out.add(chunk);
    return true;
  });
  out.finish();
  if (done.ok()) return kExitOk;
  std::lock_guard<std::mutex> lock(err_mutex);
  std::cerr << log_error(done.error()) << '\n';
  return kExitFailure;
}

}  // namespace

// `logs ingress`: the ingress's access log, one JSON line per request, as the control plane
// writes it (<state>/ingress/access.log); -f keeps reading what is appended, and follows the
// file across rotations (access.log → access.log.1, then a new access.log).
int print_ingress_log(const daemon::StateDir& dir, int64_t tail, bool follow) {
  const std::filesystem::path file = dir.root / "ingress" / "access.log";
  const auto inode_of = [&file]() -> ino_t {
    struct stat st {};
    return ::stat(file.c_str(), &st) == 0 ? st.st_ino : 0;
  };
  ino_t inode = inode_of();
  std::ifstream in(file);
  if (!in) {
    std::cerr << "error: no ingress access log at " << file.string()
              << " (the ingress writes it once `ticketctl up` runs)\n";
    return kExitFailure;
  }
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(std::move(line));
    if (tail >= 0 && static_cast<int64_t>(last.size()) > tail) last.pop_front();
  }
  for (const std::string& line : last) std::cout << line << '\n';
  std::cout.flush();
  if (!follow) return kExitOk;
  in.clear();
  std::string partial;
  while (std::cout) {
    // Polls the file: it only grows, and a reader must not slow the ingress that writes it.
    std::string line;
    while (std::getline(in, line)) {
      if (in.eof()) {  // no newline yet: the writer is mid-line
        partial += line;
        break;
      }
      std::cout << partial << line << '\n';
      partial.clear();
    }
    std::cout.flush();
    in.clear();
    // Rotated: what the old file still had is read above; go on with the new one.
    if (const ino_t now = inode_of(); now != 0 && now != inode) {
      in.close();
      in.open(file);
      inode = now;
      partial.clear();
      continue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return kExitOk;
}

Handler attach_logs(CLI::App& verb) {
  auto a = std::make_shared<LogsArgs>();
  verb.add_option("target", a->words,
                  "POD, pod/NAME or deploy/NAME, optionally followed by a container name; "
                  "`ingress` for the ingress's access log");
  verb.add_option("-n,--namespace", a->ns, "Namespace")->capture_default_str();
  verb.add_option("-l,--selector", a->selector,
                  "Every pod matching this label selector (prefixes each line with its source)");
  verb.add_option("-c,--container", a->container, "Container (needed when a pod has several)");
  verb.add_flag("-f,--follow", a->follow, "Stream new lines until the container's run ends");
  CLI::Option* tail = verb.add_option(
      "--tail", a->tail, "Lines of recent log to show; -1: all (10 with a selector, as kubectl)");
  verb.add_option("--since", a->since, "Only lines newer than this duration, e.g. 30s, 5m, 1h");
  verb.add_option("--since-time", a->since_time, "Only lines after this RFC 3339 time");
  verb.add_flag("--timestamps", a->timestamps, "Show each line's RFC3339Nano timestamp");
  verb.add_flag("-p,--previous", a->previous,
                "The previous run of the container (after a restart)");
  verb.add_flag("--prefix", a->prefix, "Prefix each line with [pod/NAME/CONTAINER]");
  verb.add_flag("--all-containers", a->all_containers, "Every container of the pod(s)");
  verb.add_option("--max-log-requests", a->max_requests,
                  "With -l and -f, at most this many streams at once")
      ->capture_default_str();
  a->state.attach(verb);
  return [a, tail] {
    if (a->words.empty() && a->selector.empty()) {
      std::cerr << "error: expected POD, TYPE/NAME or -l SELECTOR\n"
                   "Run 'ticketctl logs --help' for usage.\n";
      return kExitUsage;
    }
    if (a->words.size() > 2) {
      std::cerr << "error: expected at most a target and a container name, got " << a->words.size()
                << " arguments\n";
      return kExitUsage;
    }
    if (!a->words.empty() && !a->selector.empty()) {
      std::cerr << "error: only one of a selector or a resource may be given\n";
      return kExitUsage;
    }
    if (a->words.size() == 2) {
      if (!a->container.empty()) {
        std::cerr << "error: only one of -c or an inline container name may be given\n";
        return kExitUsage;
      }
      a->container = a->words[1];
    }
    if (a->all_containers && !a->container.empty()) {
      std::cerr << "error: --all-containers=true should not be specified with container name "
                << a->container << '\n';
      return kExitUsage;
    }
    if (a->words.size() == 1 && a->words[0] == "ingress" && a->selector.empty())
      return print_ingress_log(a->state.dir(), a->tail, a->follow);
    std::optional<int64_t> since_seconds;
    if (!a->since.empty()) {
      since_seconds = parse_duration_seconds(a->since);
      if (!since_seconds) {
        std::cerr << "error: invalid argument \"" << a->since
                  << "\" for \"--since\" flag: expected a duration such as 30s, 5m or 1h\n";
        return kExitFailure;
      }
    }
    if (since_seconds && !a->since_time.empty()) {
      std::cerr << "error: at most one of `sinceTime` or `sinceSeconds` may be specified\n";
      return kExitFailure;
    }
    Result<api::ApiClient> client = a->state.connect();
    if (!client.ok()) {
      std::cerr << "error: " << client.error().message << '\n';
      return kExitFailure;
    }

    std::vector<Json> pods;
    if (!a->selector.empty()) {
      Result<Json> list = client.value().get(api::find_resource("pods")->path(a->ns) +
                                             selector_query(a->selector, ""));
      if (!list.ok()) {
        std::cerr << server_error(list.error()) << '\n';
        return kExitFailure;
      }
      pods.assign(list.value()["items"].begin(), list.value()["items"].end());
      if (pods.empty()) {
        std::cerr << "No resources found in " << a->ns << " namespace.\n";
        return kExitOk;
      }
      a->prefix = true;  // several pods' lines are told apart by their source
      if (tail->count() == 0) a->tail = 10;
    } else {
      std::optional<std::vector<Json>> found = target_pods(client.value(), *a);
      if (!found) return kExitFailure;
      pods = std::move(*found);
    }
    std::vector<Source> sources;
    for (const Json& pod : pods)
      for (Source& s : sources_of(pod, *a)) sources.push_back(std::move(s));

    std::mutex out_mutex, err_mutex;
    auto prefix_of = [&](const Source& s) {
      return a->prefix && !s.container.empty() ? fmt::format("[pod/{}/{}] ", s.pod, s.container)
                                               : std::string();
    };
    if (!a->follow || sources.size() == 1) {
      int status = kExitOk;
      for (const Source& s : sources) {
        LineWriter out(prefix_of(s), false, out_mutex);
        if (stream_source(client.value(), log_path(a->ns, s, *a, since_seconds), out, err_mutex) !=
            kExitOk)
          status = kExitFailure;
      }
      return status;
    }
    if (static_cast<int>(sources.size()) > a->max_requests) {
      std::cerr << "error: you are attempting to follow " << sources.size()
                << " log streams, but maximum allowed concurrency is " << a->max_requests
                << ", use --max-log-requests to increase the limit\n";
      return kExitFailure;
    }
    // Followed streams run at once, one thread and one connection each (a client is per thread).
    std::vector<int> results(sources.size(), kExitOk);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < sources.size(); ++i) {
      threads.emplace_back([&, i] {
        LineWriter out(prefix_of(sources[i]), true, out_mutex);
        Result<api::ApiClient> own = a->state.connect();
        if (!own.ok()) {
          std::lock_guard<std::mutex> lock(err_mutex);
          std::cerr << "error: " << own.error().message << '\n';
          results[i] = kExitFailure;
          return;
        }
        results[i] = stream_source(own.value(), log_path(a->ns, sources[i], *a, since_seconds), out,
                                   err_mutex);
      });
    }
    for (std::thread& t : threads) t.join();
    for (int r : results)
      if (r != kExitOk) return kExitFailure;
    return kExitOk;
  };
}

}  // namespace ticketctl::cli
