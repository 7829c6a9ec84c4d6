// Carrying out the planner's stops and probes (pod_plan.h): preStop hooks and signals within the
// grace period, and probe attempts, each on a thread of its own (an attempt may take up to its
// timeout; a slow one holds up no reaping, restart or log capture).

#include <signal.h>

#include <fmt/format.h>

#include "runtime/core/oplog.h"
#include "runtime/supervisor/cgroup.h"
#include "runtime/supervisor/kubelet_internal.h"
#include "runtime/supervisor/probe.h"
#include "runtime/supervisor/process.h"

namespace ticketctl::supervisor {
using Clock = std::chrono::steady_clock;
using kubelet_detail::Attempt;
using kubelet_detail::PendingEvent;
using std::chrono::milliseconds;
using std::chrono::seconds;

void Kubelet::begin_stop(const Pod& pod, Container& c, seconds grace) {
  if (c.pid == 0 || c.stopping) return;
  const plan::StopPlan stop = plan::plan_stop(c, grace, Clock::now());
  c.label = pod.containers.size() > 1 ? fmt::format("pod {}, container {}", pod.name, c.name)
                                      : fmt::format("pod {}", pod.name);
  if (stop.kill_now) {
    c.procs.kill();
    return;
  }
  if (stop.term_now) {
    c.procs.signal(SIGTERM);
    return;
  }
  if (stop.hook == "exec") {
    SpawnSpec spec = c.process;  // the container's environment and directory
    spec.discard_output = true;
    spec.argv = stop.exec_argv;
    // It runs in the container, as in Kubernetes: what it starts is the container's too.
    Result<int> procs =
        c.tracking_cgroup.empty() ? Result<int>(-1) : MemoryCgroups::open_procs(c.tracking_cgroup);
    if (procs.ok()) spec.cgroup_procs_fds[0] = procs.value();
    Result<Spawned> child = spawn_process(spec);
    if (spec.cgroup_procs_fds[0] >= 0) ::close(spec.cgroup_procs_fds[0]);
    if (child.ok()) {
      c.hook_pid = child.value().pid;
      hook_pids_[c.hook_pid] = &c;
    } else {
      c.hook->error = child.error().message;  // reported when the hook is looked at
      c.hook->finished = true;
    }
  } else if (stop.hook == "httpGet") {
    c.hook_attempt = Attempt::make();
    start_probe(stop.http_probe, pod.ip, c.spec, {}, c.hook_attempt);
  }
}

void Kubelet::hook_exited(pid_t pid, int exit_code) {
  auto hook = hook_pids_.find(pid);
  Container& c = *hook->second;
  if (c.hook) {
    c.hook->finished = true;
    c.hook->exit_code = exit_code;
  }
  c.hook_pid = 0;
  signal_group(pid, SIGKILL);  // what the hook left behind
  hook_pids_.erase(hook);
}

void Kubelet::forget_hook(Container& c, bool kill) {
  if (c.hook_pid > 0) {
    if (kill) signal_group(c.hook_pid, SIGKILL);  // reaped by reap(), then forgotten
    hook_pids_.erase(c.hook_pid);
  }
  c.hook_pid = 0;
  c.hook_attempt = {};
}

void Kubelet::step_stops(Clock::time_point now, std::vector<PendingEvent>& events) {
  for (auto& [uid, pod] : pods_) {
    for (auto& cp : pod->containers) {
      Container& c = *cp;
      if (c.hook && c.hook->kind == "httpGet" && c.hook_attempt.ended()) {
        c.hook->finished = true;
        c.hook->http = *c.hook_attempt.outcome;
      }
      const plan::StopStep step = plan::plan_stop_step(c, now);
      if (step.kind == plan::StopStep::kEndHook) {
        forget_hook(c, step.hook_timed_out);
        c.procs.signal(SIGTERM);
      } else if (step.kind == plan::StopStep::kKill) {
        if (const int n = c.procs.kill(); n > 0)
          note_kill(
              c, fmt::format("{}: {} process{} did not exit within {}s and {} killed", c.label, n,
                             n == 1 ? "" : "es", c.grace_seconds, n == 1 ? "was" : "were"));
      }
      if (step.event)
        events.push_back({kubelet_detail::pod_ref(*pod), step.event->type, step.event->reason,
                          step.event->message});
    }
  }
}

void Kubelet::start_probe(Json probe, const std::string& pod_ip, const Json& container,
                          SpawnSpec exec_base, const Attempt& attempt) {
  // Its own copies: the container may be gone, or restarted, before the attempt ends.
  background_.push_back(
      {attempt.done, std::thread([this, probe = std::move(probe), ip = pod_ip, spec = container,
                                  base = std::move(exec_base), done = attempt.done,
                                  outcome = attempt.outcome]() mutable {
         *outcome = run_probe(probe, ProbeTarget{ip, &spec, std::move(base), &probe_children_});
         done->store(true);
         wake();
       })});
}

void Kubelet::step_probes(const std::map<std::string, Json>& wanted, Clock::time_point now,
                          std::vector<PendingEvent>& events) {
  // Threads that are done are joined.
  std::erase_if(background_, [](Background& t) {
    if (!t.done->load()) return false;
    t.thread.join();
    return true;
  });
  for (auto& [uid, pod] : pods_) {
    auto w = wanted.find(uid);
    if (pod->deleting || w == wanted.end()) continue;
    for (auto& cp : pod->containers) {
      Container& c = *cp;
      if (c.pid == 0 || c.stopping) continue;
      // Attempts that ended are the planner's input.
      for (plan::ProbeKind kind :
           {plan::ProbeKind::kStartup, plan::ProbeKind::kLiveness, plan::ProbeKind::kReadiness}) {
        Attempt& attempt = c.probe_attempts[static_cast<int>(kind)];
        std::optional<plan::ProbeState>& state = c.probe(kind);
        if (!attempt.ended() || !state || state->result) continue;
        state->result = std::move(*attempt.outcome);
        state->attempt_running = false;
        attempt = {};
      }
      plan::ProbePlan probes = plan::plan_probes(c, now);
      for (plan::ProbeKind kind : probes.start) {
        Attempt& attempt = c.probe_attempts[static_cast<int>(kind)];
        attempt = Attempt::make();
        start_probe(c.probe(kind)->spec, pod->ip, c.spec, c.process, attempt);
      }
      for (plan::Event& e : probes.events)
        events.push_back({w->second, e.type, e.reason, std::move(e.message)});
      if (probes.restart) begin_stop(*pod, c, seconds(pod->grace_seconds));
      if (probes.check_port > 0)
        plan::port_checked(c, tcp_probe(pod->ip, probes.check_port, milliseconds(200)).ok, now);
    }
  }
}

void Kubelet::note_kill(const Container& c, std::string line) {
  oplog::warn("kubelet", "{}", line);
  if (options_.report) options_.report(c.pod_name, line, false);
  if (stopping_) kill_report_.push_back(std::move(line));
}

}  // namespace ticketctl::supervisor
