// The gate's reporter (prints what the pure decision in gate.cpp found) and the one look at the
// host it needs: who holds a port.

#include <dirent.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "runtime/daemon/gate.h"
#include "runtime/manifest/reasons.h"

namespace ticketctl::daemon {
namespace {

// Reasons every pod passes through on its way up: not worth a line while the gate waits.
bool is_transient(const std::string& reason) {
  return reason == "NotReady" || reason == "Pending" || reason == reasons::kContainerCreating ||
         reason == reasons::kPodInitializing;
}

// Inodes of the TCP sockets listening on `port`, with their "address:port" as /proc shows them.
std::vector<std::pair<std::string, std::string>> listening_inodes(int port) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the header
    for (int n = 0; n < 100000 && std::getline(in, line); ++n) {
      std::istringstream fields(line);
      std::string sl, local, remote, state, queues, timer, retransmit, uid, timeout, inode;
      fields >> sl >> local >> remote >> state >> queues >> timer >> retransmit >> uid >> timeout >>
          inode;
      const size_t colon = local.rfind(':');
      if (state != "0A" || colon == std::string::npos) continue;
      if (std::strtol(local.c_str() + colon + 1, nullptr, 16) != port) continue;
      out.emplace_back(inode, local);
    }
  }
  return out;
}

}  // namespace

std::string host_port_holder(int port) {
  const auto inodes = listening_inodes(port);
  if (inodes.empty()) return {};
  DIR* proc = ::opendir("/proc");
  if (!proc) return {};
  std::string found;
  while (dirent* e = ::readdir(proc)) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    const std::string fd_dir = std::string("/proc/") + e->d_name + "/fd";
    DIR* fds = ::opendir(fd_dir.c_str());
    if (!fds) continue;  // another user's process
    while (dirent* f = ::readdir(fds)) {
      char target[64] = {};
      const std::string link = fd_dir + "/" + f->d_name;
      if (::readlink(link.c_str(), target, sizeof target - 1) <= 0) continue;
      for (const auto& [inode, local] : inodes)
        if (std::string(target) == "socket:[" + inode + "]") {
          std::ifstream comm(std::string("/proc/") + e->d_name + "/comm");
          std::string name;
          std::getline(comm, name);
          found = fmt::format("pid {} ({}) listens on it", e->d_name, name);
        }
      if (!found.empty()) break;
    }
    ::closedir(fds);
    if (!found.empty()) break;
  }
  ::closedir(proc);
  return found.empty() ? fmt::format("a process of another user listens on it") : found;
}

GateReporter::GateReporter(GateSources sources, GateOptions options, std::FILE* out)
    : sources_(std::move(sources)),
      options_(options),
      out_(out),
      start_(std::chrono::steady_clock::now()) {}

double GateReporter::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::vector<std::string> GateReporter::details(const DeploymentVerdict& d) const {
  std::vector<std::string> lines;
  lines.push_back(fmt::format(" - {}: {}", d.ref(), d.summary));
  for (const Blocker& b : d.blockers) {
    lines.push_back(fmt::format("    pod {}{}{}: {}{}{}", b.pod,
                                b.container.empty() ? "" : " container ", b.container, b.reason,
                                b.message.empty() ? "" : ": ", b.message));
    if (!b.event.empty()) lines.push_back("    event: " + b.event);
    const Json* pod = nullptr;
    for (const Json& p : snapshot_.pods)
      if (str(json_at(json_at(p, "metadata"), "name")) == b.pod) pod = &p;
    // Logs exist once the container ran: it crashed, or runs without becoming ready.
    std::vector<std::string> log;
    if (pod && sources_.logs && !b.container.empty() &&
        (b.crashes > 0 || b.reason == "NotReady" || b.reason == reasons::kError)) {
      log = sources_.logs(*pod, b.container, b.restarted);
      if (!has_error_line(log) && !b.restarted && b.crashes > 1) {
        std::vector<std::string> previous = sources_.logs(*pod, b.container, true);
        if (has_error_line(previous)) log = std::move(previous);
      }
    }
    for (const std::string& l : error_excerpt(log)) lines.push_back("    > " + l);
    const auto holder = [this, &b](int port) {
      for (const Json& p : snapshot_.pods)
        for (const Json& c : json_at(json_at(p, "spec"), "containers"))
          for (const Json& cp : json_at(c, "ports"))
            if (json_at(cp, "containerPort") == port &&
                str(json_at(json_at(p, "metadata"), "name")) == b.pod &&
                str(json_at(c, "name")) != b.container)
              return fmt::format("container {} of the same pod declares it", str(c["name"]));
      return host_port_holder(port);
    };
    if (std::optional<std::string> hint = crash_hint(log, b.image, holder))
      lines.push_back("    " + *hint);
    if (!b.hint.empty()) lines.push_back("    hint: " + b.hint);
  }
  return lines;
}

Verdict GateReporter::poll(bool deadline_passed) {
  snapshot_ = sources_.snapshot();
  last_ = judge_deployments(snapshot_, options_, deadline_passed);
  const Verdict verdict = overall(last_);
  std::vector<std::string> lines;
  std::vector<std::string> newly_ready;
  size_t pending = 0;
  const auto now = std::chrono::steady_clock::now();
  for (const DeploymentVerdict& d : last_) {
    // Said ready once it stayed stable for the settle time, so a pod that is Ready for the
    // moment before it crashes is not announced.
    if (d.verdict == Verdict::Stable) {
      const auto since = stable_at_.try_emplace(d.ref(), now).first->second;
      if (now - since >= options_.settle && ready_.insert(d.ref()).second)
        newly_ready.push_back(d.ref());
      if (ready_.count(d.ref())) continue;
    } else {
      stable_at_.erase(d.ref());
    }
    ++pending;
    if (d.verdict == Verdict::Stable) continue;
    if (d.verdict == Verdict::Failed) {
      if (failed_.insert(d.ref()).second)
        for (std::string& l : details(d)) lines.push_back(std::move(l));
      continue;
    }
    if (verdict == Verdict::TimedOut) {
      for (std::string& l : details(d)) lines.push_back(std::move(l));
      continue;
    }
    // Waiting: one line the first time each pod shows a reason worth knowing.
    for (const Blocker& b : d.blockers) {
      if (is_transient(b.reason) ||
          !seen_.insert(b.pod + "/" + b.container + "/" + b.reason).second)
        continue;
      lines.push_back(fmt::format(" - {}: pod {} container {}: {}{}{}", d.ref(), b.pod, b.container,
                                  b.reason, b.message.empty() ? "" : ": ", b.message));
      if (!b.hint.empty()) lines.push_back("    hint: " + b.hint);
    }
  }
  // Counted down as skaffold does, one line per Deployment that became ready.
  std::vector<std::string> ready_lines;
  for (size_t i = 0; i < newly_ready.size(); ++i) {
    const size_t still = pending + newly_ready.size() - 1 - i;
    ready_lines.push_back(still > 0 ? fmt::format(" - {} is ready. [{}/{} deployment(s) still "
                                                  "pending]",
                                                  newly_ready[i], still, last_.size())
                                    : fmt::format(" - {} is ready.", newly_ready[i]));
  }
  lines.insert(lines.begin(), ready_lines.begin(), ready_lines.end());
  for (const std::string& l : lines) std::fprintf(out_, "%s\n", l.c_str());
  if (!lines.empty()) std::fflush(out_);
  if (verdict != Verdict::Stable) {
    stable_since_.reset();
    return verdict;
  }
  // A pod without a readiness probe is Ready the moment it starts, before a program that
  // crashes at start-up has crashed: stability counts once it held, with no restart, for
  // options_.settle.
  int64_t restarts = 0;
  for (const Json& p : snapshot_.pods)
    for (const Json& c : json_at(json_at(p, "status"), "containerStatuses"))
      if (json_at(c, "restartCount").is_number_integer())
        restarts += c["restartCount"].get<int64_t>();
  if (!stable_since_ || restarts != stable_restarts_) {
    stable_since_ = now;
    stable_restarts_ = restarts;
  }
  return now - *stable_since_ >= options_.settle ? Verdict::Stable : Verdict::Progressing;
}

}  // namespace ticketctl::daemon
