#pragma once
// The readiness gate of `up --timeout`, foreground `up` and `ticketctl test`: a pure decision over
// the stored Deployments, ReplicaSets, Pods and Events (values in, verdicts out), and a thin
// reporter that reads them from the store or the API and prints what a CI log needs.
//
// A Deployment is Stable exactly when `kubectl rollout status` would say "successfully rolled
// out": observedGeneration current, updated == replicas == available, no old replica left. It is
// Failed at once when a pod of its newest ReplicaSet crashed max_restarts times or waits for a
// reason that cannot clear by itself (unmapped image, missing program, failed build, unreadable
// Dockerfile, a command that cannot run) -- a container counts as crash-looping until it has run
// 10 s since its last crash --, or when the deployment controller marked it
// ProgressDeadlineExceeded. CreateContainerConfigError blocks but clears once the Secret or
// ConfigMap exists, so it keeps the Deployment Progressing. Past the caller's deadline, whatever
// is still Progressing is TimedOut.
//
// Threads: the free functions are pure; a GateReporter belongs to the thread that polls it.

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "runtime/manifest/json.h"

namespace ticketctl::daemon {

enum class Verdict { Stable, Progressing, Failed, TimedOut };

// The documented exit status of a gate that ended with `v`: 0 stable, 1 failed, 3 timed out.
int exit_code(Verdict v);
const char* to_string(Verdict v);

struct GateOptions {
  int max_restarts = 2;  // crashes of one container that fail the gate
  // How long every Deployment must stay stable, with no container restarting, before the
  // reporter calls it stable: a crash at start-up comes within this time.
  std::chrono::milliseconds settle{500};
};

// One pod that keeps its Deployment from being stable.
struct Blocker {
  std::string pod, container, image;
  std::string reason;   // CrashLoopBackOff, ErrImageNotMapped, NotReady, ...
  std::string message;  // the container state's message
  std::string event;    // the pod's newest Warning event: "Unhealthy: Readiness probe failed: ..."
  int crashes = 0;
  int exit_code = 0;       // of the last terminated run, when it crashed
  bool permanent = false;  // fails the gate at once
  bool restarted = false;  // the error is in the previous run's log, not the current one
  std::string hint;        // what fixes it, when the reason alone says (missing Secret)
};

struct DeploymentVerdict {
  std::string ns, name;
  Verdict verdict = Verdict::Progressing;
  std::string summary;  // kubectl's rollout line, or why it failed
  std::vector<Blocker> blockers;
  std::string ref() const { return ns + ":deployment/" + name; }
};

// Everything the decision reads: lists as the store or the API returns them.
struct GateSnapshot {
  std::vector<Json> deployments, replicasets, pods, events;
  int64_t now_ns = 0;  // wall clock, nanoseconds since the epoch (for finishedAt times)
};

// The verdict of every Deployment, in the snapshot's order. `deadline_passed` turns Progressing
// into TimedOut.
std::vector<DeploymentVerdict> judge_deployments(const GateSnapshot& snapshot,
                                                 const GateOptions& options, bool deadline_passed);
// Failed if any failed, Stable if all are, else TimedOut/Progressing as the Deployments are.
Verdict overall(const std::vector<DeploymentVerdict>& verdicts);

// From a crashed run's output, the lines a reader needs: the last error line (`Error: ...`,
// `TypeError: ...`, `Error [ERR_X]: ...`), the source location Node prints above it and the
// stack's first frame; without an error line, the last `tail` lines.
std::vector<std::string> error_excerpt(const std::vector<std::string>& lines, size_t tail = 5);
// Whether `lines` hold an error line error_excerpt would pick.
bool has_error_line(const std::vector<std::string>& lines);

// A one-line hint for output that matches a known cause, or nullopt: the OpenSSL legacy provider
// for old webpack, a module that is not installed, a port already in use (`port_holder(port)`
// names who holds it; may return "").
std::optional<std::string> crash_hint(const std::vector<std::string>& lines,
                                      const std::string& image,
                                      const std::function<std::string(int port)>& port_holder);

// Who listens on TCP `port` on this machine: "pid 123 (node)" from /proc, or "" when unknown.
std::string host_port_holder(int port);

// Where the reporter reads from: the store in the control plane, the API in the CLI.
struct GateSources {
  std::function<GateSnapshot()> snapshot;
  // The last lines of a container's current run, or of its previous one.
  std::function<std::vector<std::string>(const Json& pod, const std::string& container,
                                         bool previous)>
      logs;
};

// Polls the sources and prints like skaffold's status check: each Deployment as it becomes
// ready, each new blocking reason as it appears, and, when the gate ends, every blocking object
// with its reason, event, error lines and hint.
class GateReporter {
 public:
  GateReporter(GateSources sources, GateOptions options, std::FILE* out);
  // One look; returns the overall verdict (Stable/Failed/TimedOut end the gate). Stable only
  // once it held for options.settle.
  Verdict poll(bool deadline_passed);
  double elapsed_seconds() const;
  // The last verdicts, for a caller's own summary (e.g. JUnit).
  const std::vector<DeploymentVerdict>& last() const { return last_; }
  // The full report of one Deployment (reason, events, error lines, hints), as printed.
  std::vector<std::string> details(const DeploymentVerdict& d) const;

 private:
  GateSources sources_;
  GateOptions options_;
  std::FILE* out_;
  std::chrono::steady_clock::time_point start_;
  std::vector<DeploymentVerdict> last_;
  GateSnapshot snapshot_;
  std::set<std::string> ready_, seen_, failed_;
  std::map<std::string, std::chrono::steady_clock::time_point> stable_at_;
  std::optional<std::chrono::steady_clock::time_point> stable_since_;
  int64_t stable_restarts_ = 0;
};

}  // namespace ticketctl::daemon
