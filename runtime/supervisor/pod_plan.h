#pragma once
// The kubelet's decisions, apart from its doing: restart policy and back-off, probe thresholds
// and readiness, grace periods and preStop hooks, how a run that ended is reported (also one
// that ended while no control plane watched it), and the pod status that results. Values in,
// values (and actions) out: no I/O, no store, no threads, and the clock is an argument, so every
// row of these tables has a unit test (tests/unit/supervisor/pod_plan_test.cpp). The kubelet
// (kubelet*.cpp) observes processes, calls in here, and carries out what comes back.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/manifest/json.h"
#include "runtime/manifest/reasons.h"
#include "runtime/supervisor/probe.h"

namespace ticketctl::supervisor::plan {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Kubernetes' crash-loop back-off: the first restart at once, then 10 s doubling up to 5 min;
// a run that lasted 10 minutes starts the sequence again.
struct Backoff {
  milliseconds initial{10000};
  milliseconds max{300000};
};
inline constexpr std::chrono::minutes kBackoffReset{10};
// A preStop hook that used the whole grace period leaves SIGTERM this much more, as the
// kubelet gives.
inline constexpr seconds kHookOverrun{2};
inline constexpr int kDefaultGraceSeconds = 30;

struct Event {
  std::string type, reason, message;
  bool operator==(const Event&) const = default;
};

// ---- How a run ended: state.terminated ------------------------------------------------------

// Of a run that exited with `code`, or was killed by `signal` (not 0: exitCode 128+signal).
Json exit_state(const std::string& started_at, pid_t pid, int code, int signal,
                const std::string& finished_at);
// Of a run that ended while this process was not its parent and could not learn how: Kubernetes
// reports a container it cannot account for the same way (ContainerStatusUnknown, 137).
Json exit_unknown(const std::string& started_at, pid_t pid, const std::string& finished_at);
// Of a run whose shim wrote `record` ("exited N" / "signaled N") to its run directory's `exit`;
// anything else (no shim, or the shim was killed too) is unknown.
Json recorded_exit(std::string_view record, const std::string& started_at, pid_t pid,
                   const std::string& finished_at);
// The kernel's OOM killer killed something in the run's memory cgroup (`oom_kills` times) and
// the run failed: Kubernetes says OOMKilled.
void mark_oom_kill(Json& terminated, uint64_t oom_kills);

// ---- A probe's schedule and counters (kubelet's prober worker, one per probe) ---------------

enum class ProbeKind { kStartup, kLiveness, kReadiness };

struct ProbeState {
  Json spec;  // the readinessProbe / livenessProbe / startupProbe object
  Clock::time_point next{};
  int successes = 0, failures = 0;
  // An attempt runs (the kubelet runs each on a thread of its own) ...
  bool attempt_running = false;
  // ... or ended with this, not yet taken into account.
  std::optional<ProbeOutcome> result;
  int period() const;
  int success_threshold() const;
  int failure_threshold() const;
};

// ---- A container as the planner sees it -----------------------------------------------------

// A preStop hook in progress: SIGTERM waits for it, within the grace period.
struct HookState {
  std::string kind;       // "exec", "httpGet", "sleep"
  bool finished = false;  // exec: reaped; httpGet: its attempt ended (outcome in `http`)
  int exit_code = -1;     // exec
  std::string error;      // exec: why it could not be started
  std::optional<ProbeOutcome> http;
  Clock::time_point until{};  // sleep
};

struct ContainerState {
  std::string name;
  Json spec;
  pid_t pid = 0;  // the main process, also its group; 0 when not running
  bool ever_started = false;
  std::string started_at;
  Clock::time_point started_steady{};
  int restart_count = 0;
  int backoff_step = 0;
  milliseconds backoff_delay{0};  // the wait before the pending restart, as status reports it
  bool in_backoff = false;
  Clock::time_point restart_at{};
  Json last_terminated;  // lastState.terminated
  Json terminated;       // state.terminated when it will not run again
  std::string waiting_reason = reasons::kContainerCreating, waiting_message;
  bool ready = false;
  bool startup_done = true;
  std::optional<ProbeState> readiness, liveness, startup;
  Clock::time_point next_port_check{};
  bool stopping = false;
  Clock::time_point kill_at{};
  bool killed = false;
  int grace_seconds = 0;  // of the stop in progress
  std::optional<HookState> hook;

  std::optional<ProbeState>& probe(ProbeKind kind);
};

struct PodState {
  std::string uid, ns, name, ip;
  std::string restart_policy = "Always";
  int grace_seconds = kDefaultGraceSeconds;
  bool deleting = false;
  std::string start_time;
  std::map<std::string, std::string> condition_since;  // type -> lastTransitionTime
  std::map<std::string, bool> condition_value;
  Json last_status;
};

// ---- Starting and restarting ----------------------------------------------------------------

// Whether `policy` (Always / OnFailure / Never) restarts a container that exited with `code`
// (a signal counts as 128+N, OOMKilled as 137: failures).
bool restart_wanted(std::string_view policy, int exit_code);

// The wait before restart number `step` (0: the first, at once) of the back-off sequence.
milliseconds backoff_delay(int step, const Backoff& backoff);

// A container that does not run and is not being stopped, of a pod not being deleted: whether
// to start it now. An exit the policy restarts enters back-off (a BackOff event when it waits).
struct IdlePlan {
  bool start = false;
  bool restart = false;  // the start is a restart: restartCount goes up once it succeeds
  std::optional<Event> event;
};
IdlePlan plan_idle(ContainerState& c, const PodState& pod, Clock::time_point now,
                   const Backoff& backoff);

// A start failed with c.waiting_reason/message (they were `before` until then): the Failed
// event, when that is news.
std::optional<Event> start_failed_event(const ContainerState& c, const std::string& before);
// A start succeeded: its events.
std::vector<Event> started_events(const ContainerState& c);
// The run `pid` started (`started_at` on the wall clock, `now` on the steady one).
void mark_started(ContainerState& c, pid_t pid, const std::string& started_at,
                  Clock::time_point now);
// The main process ended as `terminated` says.
void mark_exited(ContainerState& c, Json terminated);

// Probes scheduled from a (re)start: their initial delays count when `initial_delay`.
void arm_probes(ContainerState& c, Clock::time_point now, bool initial_delay);

// A run a previous control plane recorded is adopted when its process still runs (`alive`: the
// same pid, started at the recorded moment, leading its own group) and its record (exec.json)
// says how it was started; otherwise it is one that ended (recorded_exit says how), replaced.
bool run_adoptable(bool alive, const Json& exec_record);

// ---- A pod the kubelet meets for the first time -----------------------------------------------

// Its state from the stored pod: restart policy, grace period.
PodState pod_from_stored(const std::string& uid, const Json& pod, const std::string& now_wall);
// A container of it, keeping restartCount and lastState.terminated from the stored status (they
// stay known across control planes).
ContainerState container_from_stored(const Json& container_spec, const Json& pod_status);
// The container ended while no control plane supervised it (how: `terminated`, null when
// unknown): it counts as run once and is restarted as the policy says.
void mark_exited_unsupervised(ContainerState& c, const Json& terminated,
                              const std::string& now_wall);
// A container adopted from a previous control plane's record (exec.json).
void mark_adopted(ContainerState& c, pid_t pid, const Json& exec_record, Clock::time_point now);
// An adopted pod keeps its start time and conditions from the stored status.
void restore_pod_status(PodState& pod, const Json& pod_status);

// ---- Stopping -----------------------------------------------------------------------------

// The stored pod has a deletionTimestamp, seen now: its grace period (the deletion's overrides
// the pod's) and a Killing event for each running container, which are then stopped.
std::vector<Event> begin_delete(PodState& pod, const Json& pod_metadata,
                                const std::vector<ContainerState*>& containers);

// How to start stopping a running container within `grace`.
struct StopPlan {
  bool kill_now = false;  // grace 0: SIGKILL at once
  bool term_now = false;  // no hook (a tcpSocket one does nothing, as in Kubernetes): SIGTERM
  std::string hook;       // "exec", "httpGet", "sleep": run the preStop hook first
  std::vector<std::string> exec_argv;
  Json http_probe;  // httpGet: the hook as a probe, timed out at the grace period
};
StopPlan plan_stop(ContainerState& c, seconds grace, Clock::time_point now);

// A container being stopped, looked at again.
struct StopStep {
  enum Kind { kWait, kEndHook, kKill } kind = kWait;
  bool hook_timed_out = false;  // kEndHook: the hook's process (if any) is killed
  std::optional<Event> event;   // FailedPreStopHook / ExceededGracePeriod
};
StopStep plan_stop_step(ContainerState& c, Clock::time_point now);
// The message a failed preStop hook's event carries; nullopt when it succeeded.
std::optional<std::string> hook_failure(const ContainerState& c, bool timed_out);

// ---- Probes -------------------------------------------------------------------------------

// A running container that is not being stopped, of a pod not being deleted: the outcomes of
// ended attempts (in each ProbeState::result) are taken, readiness decided, and the next
// attempts scheduled.
struct ProbePlan {
  std::vector<ProbeKind> start;  // attempts to start now (their ProbeState is marked running)
  std::vector<Event> events;
  bool restart = false;  // a liveness or startup probe failed: stop the container
  int check_port = 0;    // no readinessProbe: ready once this port accepts (see port_checked)
};
ProbePlan plan_probes(ContainerState& c, Clock::time_point now);
// The outcome of the port check plan_probes asked for.
void port_checked(ContainerState& c, bool accepts, Clock::time_point now);

// ---- Status -------------------------------------------------------------------------------

// The pod's status as Kubernetes reports it (phase, conditions, containerStatuses); conditions'
// lastTransitionTime follow pod.condition_since / condition_value, updated here with `now_wall`
// for those that changed.
Json pod_status(PodState& pod, const std::vector<const ContainerState*>& containers,
                const std::string& now_wall);

}  // namespace ticketctl::supervisor::plan
