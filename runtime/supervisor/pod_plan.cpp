#include "runtime/supervisor/pod_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "runtime/manifest/reasons.h"

namespace ticketctl::supervisor::plan {
namespace {

int int_field(const Json& v, std::string_view key, int fallback) {
  const Json& f = json_at(v, key);
  return f.is_number_integer() ? f.get<int>() : fallback;
}

}  // namespace

Json exit_state(const std::string& started_at, pid_t pid, int code, int signal,
                const std::string& finished_at) {
  if (signal != 0) code = 128 + signal;
  Json terminated = {{"exitCode", code},
                     {"reason", code == 0 ? reasons::kCompleted : reasons::kError},
                     {"startedAt", started_at},
                     {"finishedAt", finished_at},
                     {"containerID", fmt::format("ticketctl://{}", pid)}};
  if (signal != 0) terminated["signal"] = signal;
  return terminated;
}

Json exit_unknown(const std::string& started_at, pid_t pid, const std::string& finished_at) {
  Json terminated = {{"exitCode", 137},
                     {"reason", reasons::kContainerStatusUnknown},
                     {"message",
                      "the container ended while it was not a child of this control plane, so "
                      "its exit code is unknown"},
                     {"finishedAt", finished_at}};
  if (!started_at.empty()) terminated["startedAt"] = started_at;
  if (pid > 0) terminated["containerID"] = fmt::format("ticketctl://{}", pid);
  return terminated;
}

Json recorded_exit(std::string_view record, const std::string& started_at, pid_t pid,
                   const std::string& finished_at) {
  std::istringstream in{std::string(record)};
  std::string how;
  int value = -1;
  if (!(in >> how >> value) || (how != "exited" && how != "signaled"))
    return exit_unknown(started_at, pid, finished_at);
  return exit_state(started_at, pid, how == "exited" ? value : -1, how == "signaled" ? value : 0,
                    finished_at);
}

void mark_oom_kill(Json& terminated, uint64_t oom_kills) {
  if (oom_kills == 0 || int_field(terminated, "exitCode", 0) == 0) return;
  terminated["reason"] = reasons::kOOMKilled;
  terminated.erase("message");
}

int ProbeState::period() const {
  return std::max(1, int_field(spec, "periodSeconds", 10));
}
int ProbeState::success_threshold() const {
  return std::max(1, int_field(spec, "successThreshold", 1));
}
int ProbeState::failure_threshold() const {
  return std::max(1, int_field(spec, "failureThreshold", 3));
}

std::optional<ProbeState>& ContainerState::probe(ProbeKind kind) {
  switch (kind) {
    case ProbeKind::kStartup:
      return startup;
    case ProbeKind::kLiveness:
      return liveness;
    case ProbeKind::kReadiness:
      break;
  }
  return readiness;
}

bool restart_wanted(std::string_view policy, int exit_code) {
  return policy == "Always" || (policy == "OnFailure" && exit_code != 0);
}

milliseconds backoff_delay(int step, const Backoff& backoff) {
  if (step <= 0) return milliseconds(0);
  return std::min(backoff.max, backoff.initial * (1 << std::min(step - 1, 20)));
}

IdlePlan plan_idle(ContainerState& c, const PodState& pod, Clock::time_point now,
                   const Backoff& backoff) {
  IdlePlan plan;
  if (!c.terminated.is_null() && !c.in_backoff) {
    // Exited: restart as the policy says, after the back-off.
    if (!restart_wanted(pod.restart_policy, int_field(c.terminated, "exitCode", 0))) return plan;
    if (now - c.started_steady >= kBackoffReset) c.backoff_step = 0;
    const milliseconds delay = backoff_delay(c.backoff_step, backoff);
    ++c.backoff_step;
    c.backoff_delay = delay;
    c.in_backoff = true;
    c.restart_at = now + delay;
    if (delay.count() > 0)
      plan.event = Event{"Warning", "BackOff",
                         fmt::format("Back-off restarting failed container {} in pod {}_{}({})",
                                     c.name, pod.name, pod.ns, pod.uid)};
  }
  if (c.in_backoff && now < c.restart_at) return plan;
  plan.start = true;
  plan.restart = c.in_backoff;
  return plan;
}

std::optional<Event> start_failed_event(const ContainerState& c, const std::string& before) {
  if (c.waiting_reason + c.waiting_message == before) return std::nullopt;
  return Event{"Warning", "Failed",
               c.waiting_reason == reasons::kCreateContainerConfigError
                   ? "Error: " + c.waiting_message
                   : c.waiting_message};
}

std::vector<Event> started_events(const ContainerState& c) {
  return {{"Normal", "Created", fmt::format("Created container {}", c.name)},
          {"Normal", "Started", fmt::format("Started container {}", c.name)}};
}

void mark_started(ContainerState& c, pid_t pid, const std::string& started_at,
                  Clock::time_point now) {
  c.pid = pid;
  c.ever_started = true;
  c.started_at = started_at;
  c.started_steady = now;
  c.terminated = nullptr;
  c.in_backoff = false;
  c.waiting_reason.clear();
  c.waiting_message.clear();
  c.ready = false;
  c.stopping = c.killed = false;
  arm_probes(c, now, true);
}

void mark_exited(ContainerState& c, Json terminated) {
  c.hook.reset();
  c.pid = 0;
  c.ready = false;
  c.stopping = false;
  c.last_terminated = terminated;
  c.terminated = std::move(terminated);
}

void arm_probes(ContainerState& c, Clock::time_point now, bool initial_delay) {
  auto schedule = [&](std::optional<ProbeState>& state, const char* field) {
    const Json& p = json_at(c.spec, field);
    if (p.is_null()) {
      state.reset();
      return;
    }
    state = ProbeState{};
    state->spec = p;
    state->next = now + seconds(initial_delay ? int_field(p, "initialDelaySeconds", 0) : 0);
  };
  schedule(c.readiness, "readinessProbe");
  schedule(c.liveness, "livenessProbe");
  schedule(c.startup, "startupProbe");
  c.startup_done = !c.startup;
  c.next_port_check = now;
}

bool run_adoptable(bool alive, const Json& exec_record) {
  return alive && exec_record.is_object();
}

PodState pod_from_stored(const std::string& uid, const Json& pod, const std::string& now_wall) {
  const Json& meta = json_at(pod, "metadata");
  const Json& spec = json_at(pod, "spec");
  PodState p;
  p.uid = uid;
  p.ns = str(json_at(meta, "namespace"));
  p.name = str(json_at(meta, "name"));
  p.restart_policy = spec.is_object() ? spec.value("restartPolicy", "Always") : "Always";
  p.grace_seconds = int_field(spec, "terminationGracePeriodSeconds", kDefaultGraceSeconds);
  p.start_time = now_wall;
  return p;
}

ContainerState container_from_stored(const Json& container_spec, const Json& pod_status) {
  ContainerState c;
  c.name = str(json_at(container_spec, "name"));
  c.spec = container_spec;
  for (const Json& s : json_at(pod_status, "containerStatuses"))
    if (str(json_at(s, "name")) == c.name) {
      c.restart_count = int_field(s, "restartCount", 0);
      const Json& last = json_at(json_at(s, "lastState"), "terminated");
      if (last.is_object()) c.last_terminated = last;
    }
  return c;
}

void mark_exited_unsupervised(ContainerState& c, const Json& terminated,
                              const std::string& now_wall) {
  c.ever_started = true;
  c.terminated = c.last_terminated =
      terminated.is_null() ? exit_unknown("", 0, now_wall) : terminated;
}

void mark_adopted(ContainerState& c, pid_t pid, const Json& exec_record, Clock::time_point now) {
  c.pid = pid;
  c.ever_started = true;
  c.started_at = str(json_at(exec_record, "startedAt"));
  c.started_steady = now;
  c.restart_count = int_field(exec_record, "restartCount", 0);
  c.waiting_reason.clear();
  // It has been running: its probes' initial delays are long over.
  arm_probes(c, now, false);
}

void restore_pod_status(PodState& pod, const Json& pod_status) {
  const std::string since = str(json_at(pod_status, "startTime"));
  if (!since.empty()) pod.start_time = since;
  for (const Json& cond : json_at(pod_status, "conditions")) {
    pod.condition_value[str(json_at(cond, "type"))] = json_at(cond, "status") == "True";
    pod.condition_since[str(json_at(cond, "type"))] = str(json_at(cond, "lastTransitionTime"));
  }
}

std::vector<Event> begin_delete(PodState& pod, const Json& pod_metadata,
                                const std::vector<ContainerState*>& containers) {
  std::vector<Event> events;
  pod.deleting = true;
  const Json& grace = json_at(pod_metadata, "deletionGracePeriodSeconds");
  if (grace.is_number_integer()) pod.grace_seconds = grace.get<int>();
  for (const ContainerState* c : containers)
    if (c->pid != 0)
      events.push_back({"Normal", "Killing", fmt::format("Stopping container {}", c->name)});
  return events;
}

StopPlan plan_stop(ContainerState& c, seconds grace, Clock::time_point now) {
  StopPlan plan;
  c.stopping = true;
  c.killed = false;
  c.kill_at = now + grace;
  c.grace_seconds = static_cast<int>(grace.count());
  if (grace.count() == 0) {
    plan.kill_now = true;
    c.killed = true;
    return plan;
  }
  // Kubernetes runs the preStop hook, then sends SIGTERM; the grace period covers both.
  const Json& pre_stop = json_at(json_at(c.spec, "lifecycle"), "preStop");
  HookState hook;
  if (const Json& exec = json_at(pre_stop, "exec"); exec.is_object()) {
    hook.kind = "exec";
    for (const Json& a : json_at(exec, "command")) plan.exec_argv.push_back(str(a));
  } else if (const Json& http = json_at(pre_stop, "httpGet"); http.is_object()) {
    hook.kind = "httpGet";
    plan.http_probe = {{"httpGet", http}, {"timeoutSeconds", grace.count()}};
  } else if (const Json& sleep = json_at(pre_stop, "sleep"); sleep.is_object()) {
    hook.kind = "sleep";
    hook.until = now + seconds(int_field(sleep, "seconds", 0));
  } else {
    plan.term_now = true;
    return plan;
  }
  plan.hook = hook.kind;
  c.hook = std::move(hook);
  return plan;
}

std::optional<std::string> hook_failure(const ContainerState& c, bool timed_out) {
  const HookState& hook = *c.hook;
  if (timed_out)
    return fmt::format("PreStopHook ({}) did not finish within the grace period", hook.kind);
  if (hook.kind == "exec" && hook.exit_code != 0) {
    std::string command;
    for (const Json& a :
         json_at(json_at(json_at(json_at(c.spec, "lifecycle"), "preStop"), "exec"), "command"))
      command += (command.empty() ? "" : " ") + str(a);
    return fmt::format(
        "Exec lifecycle hook ([{}]) for Container {:?} failed - error: {}", command, c.name,
        hook.error.empty() ? fmt::format("command '{}' exited with {}", command, hook.exit_code)
                           : hook.error);
  }
  if (hook.kind == "httpGet" && !(hook.http && hook.http->ok))
    return fmt::format("HTTP lifecycle hook for Container {:?} failed - error: {}", c.name,
                       hook.http ? hook.http->message : std::string());
  return std::nullopt;
}

StopStep plan_stop_step(ContainerState& c, Clock::time_point now) {
  StopStep step;
  if (c.pid == 0 || !c.stopping || c.killed) return step;
  if (c.hook) {
    const bool ended =
        ((c.hook->kind == "exec" || c.hook->kind == "httpGet") && c.hook->finished) ||
        (c.hook->kind == "sleep" && now >= c.hook->until);
    if (!ended && now < c.kill_at) return step;
    step.kind = StopStep::kEndHook;
    step.hook_timed_out = !ended;
    if (std::optional<std::string> failure = hook_failure(c, !ended))
      step.event = Event{"Warning", "FailedPreStopHook", std::move(*failure)};
    c.hook.reset();
    if (!ended) c.kill_at = now + kHookOverrun;
    return step;
  }
  if (now < c.kill_at) return step;
  c.killed = true;
  step.kind = StopStep::kKill;
  step.event = Event{"Warning", "ExceededGracePeriod",
                     "Container runtime did not kill the pod within specified grace period."};
  return step;
}

ProbePlan plan_probes(ContainerState& c, Clock::time_point now) {
  ProbePlan plan;
  // The outcome of an attempt that ended since the last look; the next attempt starts when its
  // period is up and none is in progress (periods count from an attempt's start).
  auto step = [&](ProbeKind kind) -> std::optional<ProbeOutcome> {
    ProbeState& p = *c.probe(kind);
    std::optional<ProbeOutcome> ended = std::move(p.result);
    p.result.reset();
    if (!p.attempt_running && now >= p.next) {
      p.attempt_running = true;
      p.next = now + seconds(p.period());
      plan.start.push_back(kind);
    }
    return ended;
  };
  auto restart_for = [&](const char* which, const std::string& message) {
    plan.events.push_back(
        {"Warning", "Unhealthy", fmt::format("{} probe failed: {}", which, message)});
    plan.events.push_back({"Normal", "Killing",
                           fmt::format("Container {} failed {} probe, will be restarted", c.name,
                                       std::string(which) == "Liveness" ? "liveness" : "startup")});
    plan.restart = true;
  };
  if (c.startup && !c.startup_done) {
    if (const std::optional<ProbeOutcome> r = step(ProbeKind::kStartup)) {
      if (r->ok) {
        c.startup_done = true;
      } else if (++c.startup->failures >= c.startup->failure_threshold()) {
        restart_for("Startup", r->message);
        return plan;
      }
    }
  }
  if (!c.startup_done) return plan;
  if (c.liveness) {
    if (const std::optional<ProbeOutcome> r = step(ProbeKind::kLiveness); r && !r->ok) {
      if (++c.liveness->failures >= c.liveness->failure_threshold()) {
        c.liveness->failures = 0;
        restart_for("Liveness", r->message);
        return plan;
      }
    } else if (r) {
      c.liveness->failures = 0;
    }
  }
  if (c.readiness) {
    const std::optional<ProbeOutcome> r = step(ProbeKind::kReadiness);
    if (!r) return plan;
    if (r->ok) {
      c.readiness->failures = 0;
      if (++c.readiness->successes >= c.readiness->success_threshold()) c.ready = true;
    } else {
      c.readiness->successes = 0;
      if (c.ready || c.readiness->failures == 0)
        plan.events.push_back({"Warning", "Unhealthy", "Readiness probe failed: " + r->message});
      if (++c.readiness->failures >= c.readiness->failure_threshold()) c.ready = false;
    }
    return plan;
  }
  // No readinessProbe: ready once the first declared port accepts connections (ticketctl's
  // documented default), or at once when it declares none.
  const Json& ports = json_at(c.spec, "ports");
  if (c.ready) return plan;
  if (!ports.is_array() || ports.empty()) {
    c.ready = true;
    return plan;
  }
  if (now < c.next_port_check) return plan;
  const Json& port = json_at(ports[0], "containerPort");
  plan.check_port = port.is_number_integer() ? port.get<int>() : 0;
  return plan;
}

void port_checked(ContainerState& c, bool accepts, Clock::time_point now) {
  c.ready = accepts;
  c.next_port_check = now + milliseconds(accepts ? 0 : 50);
}

Json pod_status(PodState& pod, const std::vector<const ContainerState*>& containers,
                const std::string& now_wall) {
  Json statuses = Json::array();
  bool all_ready = true, any_pending = false, all_done = true, any_failed = false;
  for (const ContainerState* cp : containers) {
    const ContainerState& c = *cp;
    Json state;
    if (c.pid != 0) {
      state = {{"running", {{"startedAt", c.started_at}}}};
    } else if (!c.terminated.is_null() && !c.in_backoff) {
      state = {{"terminated", c.terminated}};
    } else {
      Json waiting = {{"reason", c.in_backoff ? reasons::kCrashLoopBackOff : c.waiting_reason}};
      if (c.in_backoff)
        waiting["message"] =
            fmt::format("back-off {}s restarting failed container={} pod={}_{}({})",
                        std::chrono::duration_cast<seconds>(c.backoff_delay).count(), c.name,
                        pod.name, pod.ns, pod.uid);
      else if (!c.waiting_message.empty())
        waiting["message"] = c.waiting_message;
      state = {{"waiting", waiting}};
    }
    if (!c.ever_started) any_pending = true;
    if (c.pid != 0 || c.in_backoff || c.terminated.is_null()) all_done = false;
    if (!c.terminated.is_null() && int_field(c.terminated, "exitCode", 0) != 0) any_failed = true;
    all_ready = all_ready && c.ready;
    Json s = {{"name", c.name},
              {"state", state},
              {"lastState", c.last_terminated.is_null() || c.restart_count == 0
                                ? Json::object()
                                : Json{{"terminated", c.last_terminated}}},
              {"ready", c.ready},
              {"restartCount", c.restart_count},
              {"image", str(json_at(c.spec, "image"))},
              {"imageID", ""},
              {"started", c.pid != 0 && c.startup_done}};
    if (c.pid != 0) s["containerID"] = fmt::format("ticketctl://{}", c.pid);
    statuses.push_back(std::move(s));
  }
  std::string phase = "Running";
  if (any_pending && !all_done) phase = "Pending";
  if (all_done) phase = any_failed ? "Failed" : "Succeeded";
  // Conditions keep the time they last changed.
  auto condition = [&](const char* type, bool value) {
    auto known = pod.condition_value.find(type);
    if (known == pod.condition_value.end() || known->second != value) {
      pod.condition_value[type] = value;
      pod.condition_since[type] = now_wall;
    }
    return Json{{"type", type},
                {"status", value ? "True" : "False"},
                {"lastProbeTime", nullptr},
                {"lastTransitionTime", pod.condition_since[type]}};
  };
  const bool ready = all_ready && phase == "Running";
  return Json{
      {"phase", phase},
      {"conditions",
       {condition(reasons::kInitialized, true), condition(reasons::kReady, ready),
        condition(reasons::kContainersReady, ready), condition(reasons::kPodScheduled, true)}},
      {"hostIP", "127.0.0.1"},
      {"hostIPs", {{{"ip", "127.0.0.1"}}}},
      {"podIP", pod.ip},
      {"podIPs", {{{"ip", pod.ip}}}},
      {"startTime", pod.start_time},
      {"containerStatuses", statuses},
      {"qosClass", "BestEffort"}};
}

}  // namespace ticketctl::supervisor::plan
