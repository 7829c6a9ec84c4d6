#include "runtime/daemon/gate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <regex>

#include "runtime/controllers/endpoints.h"
#include "runtime/core/rfc3339.h"
#include "runtime/logs/pod_logs.h"
#include "runtime/manifest/reasons.h"

namespace ticketctl::daemon {
namespace {

int64_t int_or(const Json& v, int64_t fallback) {
  return v.is_number_integer() ? v.get<int64_t>() : fallback;
}

constexpr int64_t kStableAfterCrashNs = int64_t{10} * 1'000'000'000;

// Waiting reasons nothing clears without the user: the kubelet retries them, in vain.
bool is_permanent(const std::string& reason) {
  static const std::set<std::string> kPermanent = {
      reasons::kErrImageNotMapped, reasons::kErrImageBinaryMissing, reasons::kBuildFailed,
      reasons::kErrDockerfile, reasons::kRunContainerError};
  return kPermanent.count(reason) > 0;
}

bool owned_by(const Json& object, const std::string& uid) {
  for (const Json& ref : json_at(json_at(object, "metadata"), "ownerReferences"))
    if (json_at(ref, "controller") == true && str(json_at(ref, "uid")) == uid) return true;
  return false;
}

int64_t revision_of(const Json& object) {
  const std::string r = str(json_at(json_at(json_at(object, "metadata"), "annotations"),
                                    "deployment.kubernetes.io/"
                                    "revision"));
  int64_t n = 0;
  for (char c : r) {
    if (!std::isdigit(static_cast<unsigned char>(c)) || n > (int64_t{1} << 50)) return 0;
    n = n * 10 + (c - '0');
  }
  return n;
}

// The newest ReplicaSet of a Deployment: the one with the Deployment's revision, else the highest.
const Json* newest_replicaset(const Json& d, const std::vector<Json>& replicasets) {
  const std::string uid = str(json_at(d["metadata"], "uid"));
  const int64_t want = revision_of(d);
  const Json* best = nullptr;
  for (const Json& rs : replicasets) {
    if (!owned_by(rs, uid)) continue;
    if (want > 0 && revision_of(rs) == want) return &rs;
    if (!best || revision_of(rs) > revision_of(*best)) best = &rs;
  }
  return best;
}

// The pod's newest Warning event, "Reason: message".
std::string newest_warning(const Json& pod, const std::vector<Json>& events) {
  const std::string ns = str(json_at(pod["metadata"], "namespace")),
                    name = str(json_at(pod["metadata"], "name"));
  const Json* best = nullptr;
  std::string best_time;
  for (const Json& e : events) {
    const Json& involved = json_at(e, "involvedObject");
    if (str(json_at(e, "type")) != "Warning" || str(json_at(involved, "kind")) != "Pod" ||
        str(json_at(involved, "name")) != name || str(json_at(involved, "namespace")) != ns)
      continue;
    std::string time = str(json_at(e, "lastTimestamp"));
    if (time.empty()) time = str(json_at(e, "eventTime"));
    // RFC 3339 times in UTC sort as text; later in the list wins a tie.
    if (!best || time >= best_time) {
      best = &e;
      best_time = time;
    }
  }
  if (!best) return {};
  return str(json_at(*best, "reason")) + ": " + str(json_at(*best, "message"));
}

// What keeps one container of a pod of the newest ReplicaSet from being ready, if anything.
std::optional<Blocker> container_blocker(const Json& pod, const Json& status, const Json& spec,
                                         const GateOptions& options, int64_t now_ns) {
  Blocker b;
  b.pod = str(json_at(pod["metadata"], "name"));
  b.container = str(json_at(status, "name"));
  b.image = str(json_at(spec, "image"));
  const Json& state = json_at(status, "state");
  const Json& waiting = json_at(state, "waiting");
  const Json& terminated = json_at(state, "terminated");
  const Json& last = json_at(json_at(status, "lastState"), "terminated");
  const int restarts = static_cast<int>(int_or(json_at(status, "restartCount"), 0));
  // A crash counts once it ended: the runs before this one, plus this one if it is over.
  const bool ended =
      !terminated.is_null() || str(json_at(waiting, "reason")) == reasons::kCrashLoopBackOff;
  b.crashes = restarts + (ended ? 1 : 0);
  const Json& ran = !terminated.is_null() ? terminated : last;
  b.exit_code = static_cast<int>(int_or(json_at(ran, "exitCode"), 0));
  b.restarted = terminated.is_null() &&
                str(json_at(waiting, "reason")) != reasons::kCrashLoopBackOff && restarts > 0;
  if (!waiting.is_null()) {
    b.reason = str(json_at(waiting, "reason"));
    b.message = str(json_at(waiting, "message"));
  } else if (!terminated.is_null()) {
    b.reason = str(json_at(terminated, "reason"));
    if (b.reason.empty()) b.reason = "Terminated";
    b.message = str(json_at(terminated, "message"));
  } else if (json_at(status, "ready") != true) {
    b.reason = "NotReady";
    b.message = "running, not ready";
  }
  // A container that crashed often enough fails the gate, even in a moment it is ready, unless
  // it has run since its last crash for longer than a crash loop allows (a gate attached to an
  // app that recovered long ago).
  bool crashed_lately = json_at(status, "ready") != true;
  if (const std::optional<int64_t> at = rfc3339::parse_nanos(str(json_at(ran, "finishedAt"))))
    crashed_lately = crashed_lately || now_ns - *at < kStableAfterCrashNs;
  if (b.crashes >= options.max_restarts && options.max_restarts > 0 && crashed_lately) {
    b.permanent = true;
    if (b.reason.empty() || b.reason == "NotReady") b.reason = reasons::kCrashLoopBackOff;
    b.message = fmt::format("crashed {} times (exit code {}); the gate allows {} (--max-restarts)",
                            b.crashes, b.exit_code, options.max_restarts);
  }
  if (is_permanent(b.reason)) b.permanent = true;
  if (b.reason == reasons::kCreateContainerConfigError)
    b.hint =
        "create what it reads, e.g. `kubectl create secret generic NAME --from-literal=KEY=VALUE`; "
        "the pod starts once it exists";
  if (b.reason.empty()) return std::nullopt;
  return b;
}

Json container_spec(const Json& pod, const std::string& name) {
  for (const Json& c : json_at(json_at(pod, "spec"), "containers"))
    if (str(json_at(c, "name")) == name) return c;
  return Json::object();
}

// kubectl's DeploymentStatusViewer, with the gate's extra failure reasons.
DeploymentVerdict judge(const Json& d, const GateSnapshot& s, const GateOptions& options,
                        bool deadline_passed) {
  DeploymentVerdict v;
  const Json& meta = json_at(d, "metadata");
  v.ns = str(json_at(meta, "namespace"));
  v.name = str(json_at(meta, "name"));
  const Json& status = json_at(d, "status");
  auto count = [&](const char* key) { return int_or(json_at(status, key), 0); };
  const int64_t replicas = int_or(json_at(json_at(d, "spec"), "replicas"), 1);
  const int64_t updated = count("updatedReplicas");
  bool deadline_exceeded = false;
  for (const Json& c : json_at(status, "conditions"))
    if (str(json_at(c, "type")) == reasons::kProgressing &&
        str(json_at(c, "reason")) == reasons::kProgressDeadlineExceeded)
      deadline_exceeded = true;
  const bool unobserved = int_or(json_at(meta, "generation"), 1) > count("observedGeneration");
  if (unobserved)
    v.summary = "waiting for the deployment spec update to be observed";
  else if (deadline_exceeded)
    v.summary = fmt::format("exceeded its progress deadline ({}s)",
                            int_or(json_at(json_at(d, "spec"), "progressDeadlineSeconds"), 600));
  else if (updated < replicas)
    v.summary = fmt::format("{} out of {} new replicas have been updated", updated, replicas);
  else if (count("replicas") > updated)
    v.summary = fmt::format("{} old replicas are pending termination", count("replicas") - updated);
  else if (count("availableReplicas") < updated)
    v.summary =
        fmt::format("{} of {} updated replicas are available", count("availableReplicas"), updated);
  else
    v.verdict = Verdict::Stable;

  // What blocks it: the pods of its newest ReplicaSet only, so an old pod that stays Ready
  // cannot hide a new template that will never run. Until the controller has seen the latest
  // spec, the newest ReplicaSet may still be the previous template's: its pods judge nothing.
  const Json* rs = unobserved ? nullptr : newest_replicaset(d, s.replicasets);
  if (rs) {
    const std::string rs_uid = str(json_at(json_at(*rs, "metadata"), "uid"));
    for (const Json& pod : s.pods) {
      if (!owned_by(pod, rs_uid)) continue;
      if (!json_at(json_at(pod, "metadata"), "deletionTimestamp").is_null()) continue;
      for (const Json& c : json_at(json_at(pod, "status"), "containerStatuses")) {
        std::optional<Blocker> b = container_blocker(
            pod, c, container_spec(pod, str(json_at(c, "name"))), options, s.now_ns);
        if (!b) continue;
        b->event = newest_warning(pod, s.events);
        v.blockers.push_back(std::move(*b));
      }
      // A pod the kubelet has not reported yet blocks without a container to name.
      if (json_at(json_at(pod, "status"), "containerStatuses").empty() &&
          !controllers::pod_ready(pod) && v.verdict != Verdict::Stable) {
        Blocker b;
        b.pod = str(json_at(pod["metadata"], "name"));
        b.reason = "Pending";
        b.event = newest_warning(pod, s.events);
        v.blockers.push_back(std::move(b));
      }
    }
  }
  const auto permanent = std::find_if(v.blockers.begin(), v.blockers.end(),
                                      [](const Blocker& b) { return b.permanent; });
  if (v.verdict == Verdict::Stable && permanent == v.blockers.end()) {
    v.blockers.clear();
    return v;
  }
  if (permanent != v.blockers.end()) {
    v.verdict = Verdict::Failed;
    v.summary = fmt::format("pod {} container {}: {}", permanent->pod, permanent->container,
                            permanent->reason);
  } else if (deadline_exceeded) {
    v.verdict = Verdict::Failed;
  } else if (deadline_passed) {
    v.verdict = Verdict::TimedOut;
  }
  return v;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// `Error: x`, `TypeError: x`, `Error [ERR_X]: x`, `Uncaught SomeException: x`,
// `MongooseServerSelectionError: x` — what Node, Python and Java print for an uncaught error.
bool is_error_line(const std::string& line) {
  static const std::regex kError(
      R"(^\s*(Uncaught\s+)?([A-Za-z_.$]*(Error|Exception))(\s*\[[A-Z0-9_]+\])?:)");
  return line.size() < 4096 && std::regex_search(line, kError);
}

}  // namespace

int exit_code(Verdict v) {
  switch (v) {
    case Verdict::Stable:
      return 0;
    case Verdict::Failed:
      return 1;
    case Verdict::TimedOut:
      return 3;
    case Verdict::Progressing:
      break;
  }
  return 3;
}

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::Stable:
      return "Stable";
    case Verdict::Failed:
      return "Failed";
    case Verdict::TimedOut:
      return "TimedOut";
    case Verdict::Progressing:
      break;
  }
  return "Progressing";
}

std::vector<DeploymentVerdict> judge_deployments(const GateSnapshot& snapshot,
                                                 const GateOptions& options, bool deadline_passed) {
  std::vector<DeploymentVerdict> out;
  out.reserve(snapshot.deployments.size());
  for (const Json& d : snapshot.deployments)
    out.push_back(judge(d, snapshot, options, deadline_passed));
  return out;
}

Verdict overall(const std::vector<DeploymentVerdict>& verdicts) {
  bool all_stable = true, timed_out = false;
  for (const DeploymentVerdict& v : verdicts) {
    if (v.verdict == Verdict::Failed) return Verdict::Failed;
    all_stable = all_stable && v.verdict == Verdict::Stable;
    timed_out = timed_out || v.verdict == Verdict::TimedOut;
  }
  if (all_stable) return Verdict::Stable;
  return timed_out ? Verdict::TimedOut : Verdict::Progressing;
}

bool has_error_line(const std::vector<std::string>& lines) {
  return std::any_of(lines.begin(), lines.end(), is_error_line);
}

std::vector<std::string> error_excerpt(const std::vector<std::string>& lines, size_t tail) {
  size_t at = lines.size();
  for (size_t i = lines.size(); i-- > 0;)
    if (is_error_line(lines[i])) {
      at = i;
      break;
    }
  std::vector<std::string> out;
  if (at == lines.size()) {
    for (size_t i = lines.size() > tail ? lines.size() - tail : 0; i < lines.size(); ++i)
      out.push_back(lines[i]);
    return out;
  }
  // Node prints the throwing source line as "/app/index.js:12", the code and a caret above the
  // error, a blank line between.
  static const std::regex kLocation(R"(^\S+:\d+$)");
  for (size_t back = 1; back <= 4 && back <= at; ++back)
    if (std::regex_match(lines[at - back], kLocation)) {
      out.push_back(lines[at - back]);
      break;
    }
  out.push_back(lines[at]);
  for (size_t i = at + 1; i < lines.size() && i <= at + 8; ++i)
    if (trim(lines[i]).rfind("at ", 0) == 0) {
      out.push_back(lines[i]);
      break;
    }
  return out;
}

std::optional<std::string> crash_hint(const std::vector<std::string>& lines,
                                      const std::string& image,
                                      const std::function<std::string(int port)>& port_holder) {
  static const std::regex kModule(R"(Cannot find module '([^']+)')");
  static const std::regex kNotFound(R"(^sh: \d+: ([\w.@/-]+): not found)");
  static const std::regex kPort(R"(EADDRINUSE\D*?(?:[0-9a-fA-F.:\[\]]*:)?(\d{1,5})\b)");
  const std::string name = image.empty() ? "IMAGE" : image;
  for (size_t i = lines.size(); i-- > 0;) {
    const std::string& line = lines[i];
    if (line.size() > 4096) continue;
    std::smatch m;
    if (line.find("ERR_OSSL_EVP_UNSUPPORTED") != std::string::npos ||
        line.find("digital envelope routines::unsupported") != std::string::npos)
      return fmt::format(
          "hint: old webpack on today's Node needs OpenSSL's legacy provider: in ticketctl.yaml "
          "set images: {{{}: {{env: {{NODE_OPTIONS: --openssl-legacy-provider}}}}}}",
          name);
    if (std::regex_search(line, m, kModule)) {
      const std::string module = m[1];
      if (module.front() == '/' || module.front() == '.')
        return fmt::format(
            "hint: {} does not exist: check the command and context of image {} (ticketctl.yaml "
            "images: or its Dockerfile's WORKDIR/CMD)",
            module, name);
      return fmt::format(
          "hint: module {} is not installed: run the image's install step (`npm install` in "
          "image {}'s directory, or `ticketctl up --build`)",
          module, name);
    }
    if (std::regex_search(line, m, kNotFound))
      return fmt::format(
          "hint: {} is not installed: run the image's install step (`npm install` in image {}'s "
          "directory, or `ticketctl up --build`)",
          std::string(m[1]), name);
    if (std::regex_search(line, m, kPort)) {
      const int port = std::stoi(m[1]);
      const std::string holder = port_holder ? port_holder(port) : std::string();
      return holder.empty() ? fmt::format("hint: port {} is already in use in the pod", port)
                            : fmt::format("hint: port {} is already in use: {}", port, holder);
    }
  }
  return std::nullopt;
}

}  // namespace ticketctl::daemon
