// The kubelet's planner (runtime/supervisor/pod_plan.h): every row of the restart-policy matrix,
// the back-off sequence and its reset, probe thresholds and periods, grace periods and preStop
// hooks, and adoption, asserted as the actions and the pod status a user sees.

#include "runtime/supervisor/pod_plan.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ticketctl::supervisor::plan {
namespace {

using std::chrono::minutes;

const Clock::time_point t0 = Clock::time_point() + std::chrono::hours(1);
const std::string kWall = "2026-01-02T03:04:05Z";

PodState pod(const std::string& policy = "Always") {
  PodState p;
  p.uid = "u-1";
  p.ns = "default";
  p.name = "auth-abc";
  p.ip = "127.80.0.5";
  p.restart_policy = policy;
  p.start_time = kWall;
  return p;
}

ContainerState container(Json spec = Json::object()) {
  ContainerState c;
  c.name = "auth";
  spec["name"] = "auth";
  spec["image"] = "auth-image";
  c.spec = std::move(spec);
  return c;
}

// A container that ran from `started` and ended as `terminated`.
ContainerState exited(Json terminated, Clock::time_point started = t0) {
  ContainerState c = container();
  mark_started(c, 100, kWall, started);
  mark_exited(c, std::move(terminated));
  return c;
}

Json status_of(PodState& p, const ContainerState& c) {
  return pod_status(p, {&c}, kWall)["containerStatuses"][0];
}

std::string phase_of(PodState& p, const ContainerState& c) {
  return pod_status(p, {&c}, kWall)["phase"].get<std::string>();
}

// What a step says happened; a missing event compares unequal instead of crashing the test.
Event event_of(const StopStep& step) {
  return step.event.value_or(Event{"(none)", "(none)", "(none)"});
}

// ---- Restart policy × how the run ended ----------------------------------------------------

struct Ending {
  const char* name;
  Json terminated;
  int exit_code;
  const char* reason;
};

std::vector<Ending> endings() {
  Json oom = exit_state(kWall, 100, -1, 9, kWall);
  mark_oom_kill(oom, 1);
  return {{"exit 0", exit_state(kWall, 100, 0, 0, kWall), 0, "Completed"},
          {"exit 1", exit_state(kWall, 100, 1, 0, kWall), 1, "Error"},
          {"SIGTERM", exit_state(kWall, 100, -1, 15, kWall), 143, "Error"},
          {"OOMKilled", oom, 137, "OOMKilled"}};
}

TEST(KubeletPlanRestart, PolicyMatrix) {
  const std::map<std::string, std::vector<bool>> restarts = {
      {"Always", {true, true, true, true}},
      {"OnFailure", {false, true, true, true}},
      {"Never", {false, false, false, false}}};
  for (const auto& [policy, expected] : restarts) {
    const std::vector<Ending> ends = endings();
    for (size_t i = 0; i < ends.size(); ++i) {
      SCOPED_TRACE(policy + " / " + ends[i].name);
      EXPECT_EQ(restart_wanted(policy, ends[i].exit_code), expected[i]);
      PodState p = pod(policy);
      ContainerState c = exited(ends[i].terminated);
      const IdlePlan plan = plan_idle(c, p, t0 + minutes(1), Backoff{});
      EXPECT_EQ(plan.start, expected[i]);
      EXPECT_EQ(plan.restart, expected[i]);
      EXPECT_FALSE(plan.event);  // the first restart is at once: no BackOff
      Json s = status_of(p, c);
      if (expected[i]) {
        EXPECT_EQ(s["state"]["waiting"]["reason"], "CrashLoopBackOff");
        EXPECT_EQ(phase_of(p, c), "Running");
      } else {
        // It stays terminated: how it ended is its state, and the pod's phase says so.
        EXPECT_EQ(s["state"]["terminated"]["exitCode"], ends[i].exit_code);
        EXPECT_EQ(s["state"]["terminated"]["reason"], ends[i].reason);
        EXPECT_EQ(phase_of(p, c), ends[i].exit_code == 0 ? "Succeeded" : "Failed");
      }
      EXPECT_EQ(s["restartCount"], 0);
      EXPECT_EQ(s["lastState"], Json::object());  // no restart yet
    }
  }
}

TEST(KubeletPlanRestart, ExitStatesAsKubernetesReportsThem) {
  Json signaled = exit_state("s", 42, -1, 9, "f");
  EXPECT_EQ(signaled["exitCode"], 137);
  EXPECT_EQ(signaled["signal"], 9);
  EXPECT_EQ(signaled["reason"], "Error");
  EXPECT_EQ(signaled["containerID"], "ticketctl://42");
  EXPECT_EQ(signaled["startedAt"], "s");
  EXPECT_EQ(signaled["finishedAt"], "f");
  Json clean = exit_state("s", 42, 0, 0, "f");
  EXPECT_EQ(clean["reason"], "Completed");
  EXPECT_FALSE(clean.contains("signal"));
}

TEST(KubeletPlanRestart, OomKillOnlyMarksAFailedRun) {
  Json ok = exit_state(kWall, 1, 0, 0, kWall);
  mark_oom_kill(ok, 3);
  EXPECT_EQ(ok["reason"], "Completed");
  Json failed = exit_state(kWall, 1, 1, 0, kWall);
  mark_oom_kill(failed, 0);
  EXPECT_EQ(failed["reason"], "Error");
  Json unknown = exit_unknown(kWall, 1, kWall);
  mark_oom_kill(unknown, 1);
  EXPECT_EQ(unknown["reason"], "OOMKilled");
  EXPECT_FALSE(unknown.contains("message"));
}

TEST(KubeletPlanRestart, RestartedRunKeepsTheLastStateAndCounts) {
  PodState p = pod();
  ContainerState c = exited(exit_state(kWall, 100, 2, 0, kWall));
  const IdlePlan plan = plan_idle(c, p, t0 + minutes(1), Backoff{});
  ASSERT_TRUE(plan.start && plan.restart);
  ++c.restart_count;  // the executor counts the restart once it started
  mark_started(c, 101, "2026-01-02T03:05:00Z", t0 + minutes(1));
  Json s = status_of(p, c);
  EXPECT_EQ(s["restartCount"], 1);
  EXPECT_EQ(s["state"]["running"]["startedAt"], "2026-01-02T03:05:00Z");
  EXPECT_EQ(s["lastState"]["terminated"]["exitCode"], 2);
  EXPECT_EQ(s["lastState"]["terminated"]["reason"], "Error");
  EXPECT_EQ(s["containerID"], "ticketctl://101");
}

TEST(KubeletPlanRestart, StartFailureEventsOnlyWhenNews) {
  ContainerState c = container();
  c.waiting_reason = "CreateContainerConfigError";
  c.waiting_message = "secret \"jwt\" not found";
  const std::optional<Event> e = start_failed_event(c, "ContainerCreating");
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, (Event{"Warning", "Failed", "Error: secret \"jwt\" not found"}));
  EXPECT_FALSE(start_failed_event(c, c.waiting_reason + c.waiting_message));
  c.waiting_reason = "ImageBuilding";
  c.waiting_message = "building";
  EXPECT_EQ(start_failed_event(c, "").value_or(Event{}).message, "building");
  const std::vector<Event> started = started_events(c);
  ASSERT_EQ(started.size(), 2u);
  EXPECT_EQ(started[0], (Event{"Normal", "Created", "Created container auth"}));
  EXPECT_EQ(started[1], (Event{"Normal", "Started", "Started container auth"}));
}

// ---- Back-off ------------------------------------------------------------------------------

TEST(KubeletPlanBackoff, DoublesFromTenSecondsToFiveMinutes) {
  const Backoff b;
  const std::vector<int> expected_s = {0, 10, 20, 40, 80, 160, 300, 300, 300};
  for (size_t step = 0; step < expected_s.size(); ++step)
    EXPECT_EQ(backoff_delay(static_cast<int>(step), b), seconds(expected_s[step])) << step;
  EXPECT_EQ(backoff_delay(1000, b), seconds(300));  // no overflow
}

TEST(KubeletPlanBackoff, CrashLoopSequenceWithEventsAndStatus) {
  PodState p = pod();
  ContainerState c = container();
  Clock::time_point now = t0;
  mark_started(c, 100, kWall, now);
  const std::vector<int> expected_s = {0, 10, 20, 40, 80, 160, 300, 300};
  for (size_t i = 0; i < expected_s.size(); ++i) {
    SCOPED_TRACE(i);
    now += seconds(1);  // each run crashes after a second
    mark_exited(c, exit_state(kWall, c.pid, 1, 0, kWall));
    IdlePlan plan = plan_idle(c, p, now, Backoff{});
    EXPECT_EQ(c.backoff_delay, seconds(expected_s[i]));
    EXPECT_EQ(c.restart_at, now + seconds(expected_s[i]));
    if (expected_s[i] == 0) {
      EXPECT_TRUE(plan.start);
      EXPECT_FALSE(plan.event);
    } else {
      EXPECT_FALSE(plan.start);
      ASSERT_TRUE(plan.event);
      EXPECT_EQ(*plan.event,
                (Event{"Warning", "BackOff",
                       "Back-off restarting failed container auth in pod auth-abc_default(u-1)"}));
      Json s = status_of(p, c);
      EXPECT_EQ(s["state"]["waiting"]["reason"], "CrashLoopBackOff");
      EXPECT_EQ(s["state"]["waiting"]["message"],
                "back-off " + std::to_string(expected_s[i]) +
                    "s restarting failed container=auth pod=auth-abc_default(u-1)");
      // Looked at again before its time: still waiting, no second event.
      plan = plan_idle(c, p, c.restart_at - milliseconds(1), Backoff{});
      EXPECT_FALSE(plan.start);
      EXPECT_FALSE(plan.event);
      now = c.restart_at;
      plan = plan_idle(c, p, now, Backoff{});
      EXPECT_TRUE(plan.start);
      EXPECT_TRUE(plan.restart);
    }
    ++c.restart_count;
    mark_started(c, c.pid + 1, kWall, now);
  }
  EXPECT_EQ(status_of(p, c)["restartCount"], 8);
}

TEST(KubeletPlanBackoff, ResetsAfterTenMinutesOfRunning) {
  PodState p = pod();
  ContainerState c = container();
  Clock::time_point now = t0;
  for (int i = 0; i < 3; ++i) {  // waits of 0, 10 and 20 s: the next would be 40 s
    mark_started(c, 100 + i, kWall, now);
    now += seconds(1);
    mark_exited(c, exit_state(kWall, c.pid, 1, 0, kWall));
    plan_idle(c, p, now, Backoff{});
    now = c.restart_at;
  }
  EXPECT_EQ(c.backoff_delay, seconds(20));
  // A run that lasted 9:59 does not reset it...
  mark_started(c, 200, kWall, now);
  now += minutes(10) - seconds(1);
  mark_exited(c, exit_state(kWall, c.pid, 1, 0, kWall));
  plan_idle(c, p, now, Backoff{});
  EXPECT_EQ(c.backoff_delay, seconds(40));
  now = c.restart_at;
  // ... one of 10 minutes does: restarted at once, then 10 s again.
  mark_started(c, 201, kWall, now);
  now += minutes(10);
  mark_exited(c, exit_state(kWall, c.pid, 1, 0, kWall));
  EXPECT_TRUE(plan_idle(c, p, now, Backoff{}).start);
  EXPECT_EQ(c.backoff_delay, seconds(0));
  mark_started(c, 202, kWall, now);
  now += seconds(1);
  mark_exited(c, exit_state(kWall, c.pid, 1, 0, kWall));
  plan_idle(c, p, now, Backoff{});
  EXPECT_EQ(c.backoff_delay, seconds(10));
}

TEST(KubeletPlanBackoff, ConfiguredConstantsAreUsed) {
  const Backoff fast{milliseconds(100), milliseconds(250)};
  EXPECT_EQ(backoff_delay(1, fast), milliseconds(100));
  EXPECT_EQ(backoff_delay(2, fast), milliseconds(200));
  EXPECT_EQ(backoff_delay(3, fast), milliseconds(250));
}

// ---- Probes --------------------------------------------------------------------------------

// Runs the attempts plan_probes started and gives them `ok` as outcome.
void finish_attempts(ContainerState& c, const ProbePlan& plan, bool ok,
                     const std::string& message = "boom") {
  for (ProbeKind kind : plan.start) {
    ProbeState& p = *c.probe(kind);
    p.attempt_running = false;
    p.result = ProbeOutcome{ok, ok ? "" : message};
  }
}

ContainerState probed(const char* field, Json probe) {
  ContainerState c = container(Json{{field, std::move(probe)}});
  mark_started(c, 100, kWall, t0);
  return c;
}

TEST(KubeletPlanProbes, DefaultsAndClamping) {
  ProbeState p;
  p.spec = Json::object();
  EXPECT_EQ(p.period(), 10);
  EXPECT_EQ(p.failure_threshold(), 3);
  EXPECT_EQ(p.success_threshold(), 1);
  p.spec = {{"periodSeconds", 0}, {"failureThreshold", -1}, {"successThreshold", 0}};
  EXPECT_EQ(p.period(), 1);
  EXPECT_EQ(p.failure_threshold(), 1);
  EXPECT_EQ(p.success_threshold(), 1);
}

TEST(KubeletPlanProbes, InitialDelayAndPeriod) {
  ContainerState c = probed("readinessProbe", {{"initialDelaySeconds", 5}, {"periodSeconds", 3}});
  EXPECT_TRUE(plan_probes(c, t0 + seconds(4)).start.empty());
  ProbePlan plan = plan_probes(c, t0 + seconds(5));
  ASSERT_EQ(plan.start, std::vector<ProbeKind>{ProbeKind::kReadiness});
  // One attempt at a time, also once its period is up.
  EXPECT_TRUE(plan_probes(c, t0 + seconds(9)).start.empty());
  finish_attempts(c, plan, true);
  // Periods count from an attempt's start: 5 + 3.
  plan = plan_probes(c, t0 + seconds(7));
  EXPECT_TRUE(plan.start.empty());
  EXPECT_TRUE(c.ready);  // the outcome is taken although no attempt starts
  EXPECT_EQ(plan_probes(c, t0 + seconds(8)).start, std::vector<ProbeKind>{ProbeKind::kReadiness});
}

TEST(KubeletPlanProbes, AdoptedContainerSkipsInitialDelay) {
  ContainerState c = container(Json{{"readinessProbe", {{"initialDelaySeconds", 60}}}});
  mark_adopted(c, 77, Json{{"startedAt", kWall}, {"restartCount", 4}}, t0);
  EXPECT_EQ(plan_probes(c, t0).start, std::vector<ProbeKind>{ProbeKind::kReadiness});
  EXPECT_EQ(c.restart_count, 4);
  EXPECT_EQ(c.started_at, kWall);
}

TEST(KubeletPlanProbes, ReadinessThresholds) {
  ContainerState c = probed(
      "readinessProbe", {{"periodSeconds", 1}, {"successThreshold", 2}, {"failureThreshold", 3}});
  PodState p = pod();
  Clock::time_point now = t0;
  // The attempt the previous look started ends with `ok`; the next look takes it.
  auto look = [&](std::optional<bool> ok) {
    if (ok) {
      c.readiness->attempt_running = false;
      c.readiness->result = ProbeOutcome{*ok, *ok ? "" : "HTTP probe failed with statuscode: 503"};
    }
    ProbePlan plan = plan_probes(c, now);
    EXPECT_EQ(plan.start, std::vector<ProbeKind>{ProbeKind::kReadiness});
    EXPECT_FALSE(plan.restart);  // readiness never restarts
    now += seconds(1);
    return plan;
  };
  auto ready_condition = [&] { return pod_status(p, {&c}, kWall)["conditions"][1]; };
  look(std::nullopt);
  look(true);
  EXPECT_FALSE(c.ready);  // one success of two
  EXPECT_EQ(ready_condition()["status"], "False");
  look(true);
  EXPECT_TRUE(c.ready);
  EXPECT_EQ(ready_condition()["type"], "Ready");
  EXPECT_EQ(ready_condition()["status"], "True");
  const ProbePlan first = look(false);
  ASSERT_EQ(first.events.size(), 1u);
  EXPECT_EQ(first.events[0],
            (Event{"Warning", "Unhealthy",
                   "Readiness probe failed: HTTP probe failed with statuscode: 503"}));
  EXPECT_TRUE(c.ready);  // 1 of 3
  EXPECT_EQ(look(false).events.size(), 1u);
  EXPECT_TRUE(c.ready);  // 2 of 3
  look(false);
  EXPECT_FALSE(c.ready);  // 3 of 3
  EXPECT_EQ(ready_condition()["status"], "False");
  EXPECT_TRUE(look(false).events.empty());  // not ready and still failing: said already
  look(true);
  EXPECT_FALSE(c.ready);  // successes count again from zero
  look(true);
  EXPECT_TRUE(c.ready);
}

TEST(KubeletPlanProbes, ReadinessFailingFromTheStartIsSaidOnce) {
  ContainerState c = probed("readinessProbe", {{"periodSeconds", 1}});
  Clock::time_point now = t0;
  std::vector<size_t> events;
  for (int i = 0; i < 4; ++i) {
    const ProbePlan plan = plan_probes(c, now);
    events.push_back(plan.events.size());
    finish_attempts(c, plan, false, "connection refused");
    now += seconds(1);
  }
  // The first look starts the first attempt; the first failure is said, the next are not.
  EXPECT_EQ(events, (std::vector<size_t>{0, 1, 0, 0}));
  EXPECT_FALSE(c.ready);
}

TEST(KubeletPlanProbes, LivenessRestartsAfterFailureThreshold) {
  ContainerState c = probed("livenessProbe", {{"periodSeconds", 1}, {"failureThreshold", 2}});
  Clock::time_point now = t0;
  auto look = [&](std::optional<bool> ok) {
    if (ok) {
      c.liveness->attempt_running = false;
      c.liveness->result = ProbeOutcome{*ok, *ok ? "" : "dial tcp: connection refused"};
    }
    ProbePlan plan = plan_probes(c, now);
    now += seconds(1);
    return plan;
  };
  look(std::nullopt);
  EXPECT_FALSE(look(false).restart);  // 1 of 2
  EXPECT_FALSE(look(true).restart);   // a success resets the count
  EXPECT_FALSE(look(false).restart);
  const ProbePlan plan = look(false);
  EXPECT_TRUE(plan.restart);
  ASSERT_EQ(plan.events.size(), 2u);
  EXPECT_EQ(plan.events[0],
            (Event{"Warning", "Unhealthy", "Liveness probe failed: dial tcp: connection refused"}));
  EXPECT_EQ(plan.events[1], (Event{"Normal", "Killing",
                                   "Container auth failed liveness probe, will be restarted"}));
  EXPECT_EQ(c.liveness->failures, 0);
  // Without a readinessProbe and ports it was ready at once.
  EXPECT_TRUE(c.ready);
}

TEST(KubeletPlanProbes, StartupProbeHoldsTheOthersBack) {
  ContainerState c =
      container(Json{{"startupProbe", {{"periodSeconds", 1}, {"failureThreshold", 2}}},
                     {"livenessProbe", {{"periodSeconds", 1}}},
                     {"readinessProbe", {{"periodSeconds", 1}}}});
  mark_started(c, 100, kWall, t0);
  PodState p = pod();
  ProbePlan plan = plan_probes(c, t0);
  EXPECT_EQ(plan.start, std::vector<ProbeKind>{ProbeKind::kStartup});
  EXPECT_EQ(status_of(p, c)["started"], false);
  finish_attempts(c, plan, true);
  plan = plan_probes(c, t0 + milliseconds(500));  // the next startup attempt is not due yet
  EXPECT_TRUE(c.startup_done);
  EXPECT_EQ(plan.start, (std::vector<ProbeKind>{ProbeKind::kLiveness, ProbeKind::kReadiness}));
  EXPECT_EQ(status_of(p, c)["started"], true);

  ContainerState failing = container(Json{{"startupProbe", {{"failureThreshold", 2}}}});
  mark_started(failing, 100, kWall, t0);
  plan = plan_probes(failing, t0);
  finish_attempts(failing, plan, false, "timeout");
  plan = plan_probes(failing, t0 + seconds(10));
  EXPECT_FALSE(plan.restart);
  finish_attempts(failing, plan, false, "timeout");
  plan = plan_probes(failing, t0 + seconds(11));
  EXPECT_TRUE(plan.restart);
  ASSERT_EQ(plan.events.size(), 2u);
  EXPECT_EQ(plan.events[1].message, "Container auth failed startup probe, will be restarted");
}

TEST(KubeletPlanProbes, WithoutReadinessProbeTheFirstPortDecides) {
  ContainerState c =
      container(Json{{"ports", {{{"containerPort", 3000}}, {{"containerPort", 4000}}}}});
  mark_started(c, 100, kWall, t0);
  ProbePlan plan = plan_probes(c, t0);
  EXPECT_EQ(plan.check_port, 3000);
  port_checked(c, false, t0);
  EXPECT_EQ(plan_probes(c, t0 + milliseconds(49)).check_port, 0);  // looked at again in 50 ms
  EXPECT_EQ(plan_probes(c, t0 + milliseconds(50)).check_port, 3000);
  port_checked(c, true, t0 + milliseconds(50));
  EXPECT_TRUE(c.ready);
  EXPECT_EQ(plan_probes(c, t0 + seconds(1)).check_port, 0);  // ready stays
}

// ---- Grace periods and preStop -------------------------------------------------------------

TEST(KubeletPlanStop, GraceZeroKillsAtOnce) {
  ContainerState c = container();
  mark_started(c, 100, kWall, t0);
  const StopPlan s = plan_stop(c, seconds(0), t0);
  EXPECT_TRUE(s.kill_now);
  EXPECT_TRUE(c.killed);
  EXPECT_EQ(plan_stop_step(c, t0 + seconds(100)).kind, StopStep::kWait);  // killed already
}

TEST(KubeletPlanStop, NoHookTermThenKillAtTheDeadline) {
  ContainerState c = container(Json{{"lifecycle", {{"preStop", {{"tcpSocket", {{"port", 1}}}}}}}});
  mark_started(c, 100, kWall, t0);
  const StopPlan s = plan_stop(c, seconds(30), t0);
  EXPECT_TRUE(s.term_now);
  EXPECT_TRUE(s.hook.empty());
  EXPECT_EQ(c.grace_seconds, 30);
  EXPECT_EQ(plan_stop_step(c, t0 + seconds(29)).kind, StopStep::kWait);
  const StopStep step = plan_stop_step(c, t0 + seconds(30));
  EXPECT_EQ(step.kind, StopStep::kKill);
  EXPECT_EQ(event_of(step),
            (Event{"Warning", "ExceededGracePeriod",
                   "Container runtime did not kill the pod within specified grace period."}));
  EXPECT_EQ(plan_stop_step(c, t0 + seconds(31)).kind, StopStep::kWait);  // once
}

TEST(KubeletPlanStop, ExecHookThenTerm) {
  ContainerState c = container(
      Json{{"lifecycle", {{"preStop", {{"exec", {{"command", {"sh", "-c", "exit 3"}}}}}}}}});
  mark_started(c, 100, kWall, t0);
  const StopPlan s = plan_stop(c, seconds(10), t0);
  EXPECT_EQ(s.hook, "exec");
  EXPECT_EQ(s.exec_argv, (std::vector<std::string>{"sh", "-c", "exit 3"}));
  EXPECT_FALSE(s.term_now);
  EXPECT_EQ(plan_stop_step(c, t0 + seconds(1)).kind, StopStep::kWait);  // the hook runs
  c.hook->finished = true;
  c.hook->exit_code = 3;
  const StopStep step = plan_stop_step(c, t0 + seconds(2));
  EXPECT_EQ(step.kind, StopStep::kEndHook);
  EXPECT_FALSE(step.hook_timed_out);
  EXPECT_EQ(event_of(step).reason, "FailedPreStopHook");
  EXPECT_EQ(event_of(step).message,
            "Exec lifecycle hook ([sh -c exit 3]) for Container \"auth\" failed - error: command "
            "'sh -c exit 3' exited with 3");
  EXPECT_FALSE(c.hook);
  EXPECT_EQ(c.kill_at, t0 + seconds(10));  // the grace period is unchanged
  EXPECT_EQ(plan_stop_step(c, t0 + seconds(10)).kind, StopStep::kKill);
}

TEST(KubeletPlanStop, ExecHookThatSucceedsOrCouldNotStart) {
  ContainerState c =
      container(Json{{"lifecycle", {{"preStop", {{"exec", {{"command", {"true"}}}}}}}}});
  mark_started(c, 100, kWall, t0);
  plan_stop(c, seconds(10), t0);
  c.hook->finished = true;
  c.hook->exit_code = 0;
  const StopStep ok = plan_stop_step(c, t0);
  EXPECT_EQ(ok.kind, StopStep::kEndHook);
  EXPECT_FALSE(ok.event);

  mark_started(c, 101, kWall, t0);
  plan_stop(c, seconds(10), t0);
  c.hook->finished = true;
  c.hook->error = "cannot execute true: No such file or directory";
  EXPECT_EQ(event_of(plan_stop_step(c, t0)).message,
            "Exec lifecycle hook ([true]) for Container \"auth\" failed - error: cannot execute "
            "true: No such file or directory");
}

TEST(KubeletPlanStop, SleepHookThatOutlastsTheGracePeriod) {
  ContainerState c = container(Json{{"lifecycle", {{"preStop", {{"sleep", {{"seconds", 60}}}}}}}});
  mark_started(c, 100, kWall, t0);
  EXPECT_EQ(plan_stop(c, seconds(5), t0).hook, "sleep");
  EXPECT_EQ(plan_stop_step(c, t0 + seconds(4)).kind, StopStep::kWait);
  const StopStep step = plan_stop_step(c, t0 + seconds(5));
  EXPECT_EQ(step.kind, StopStep::kEndHook);
  EXPECT_TRUE(step.hook_timed_out);
  EXPECT_EQ(event_of(step), (Event{"Warning", "FailedPreStopHook",
                                   "PreStopHook (sleep) did not finish within the grace period"}));
  // SIGTERM gets two more seconds, then SIGKILL.
  EXPECT_EQ(c.kill_at, t0 + seconds(7));
  EXPECT_EQ(plan_stop_step(c, t0 + seconds(6)).kind, StopStep::kWait);
  EXPECT_EQ(plan_stop_step(c, t0 + seconds(7)).kind, StopStep::kKill);
}

TEST(KubeletPlanStop, SleepHookWithinTheGracePeriod) {
  ContainerState c = container(Json{{"lifecycle", {{"preStop", {{"sleep", {{"seconds", 3}}}}}}}});
  mark_started(c, 100, kWall, t0);
  plan_stop(c, seconds(30), t0);
  EXPECT_EQ(plan_stop_step(c, t0 + seconds(2)).kind, StopStep::kWait);
  const StopStep step = plan_stop_step(c, t0 + seconds(3));
  EXPECT_EQ(step.kind, StopStep::kEndHook);
  EXPECT_FALSE(step.event);
  EXPECT_EQ(c.kill_at, t0 + seconds(30));
}

TEST(KubeletPlanStop, HttpGetHookTimesOutWithTheGracePeriod) {
  ContainerState c = container(
      Json{{"lifecycle", {{"preStop", {{"httpGet", {{"path", "/bye"}, {"port", 80}}}}}}}});
  mark_started(c, 100, kWall, t0);
  const StopPlan s = plan_stop(c, seconds(12), t0);
  EXPECT_EQ(s.hook, "httpGet");
  EXPECT_EQ(s.http_probe["timeoutSeconds"], 12);
  EXPECT_EQ(s.http_probe["httpGet"]["path"], "/bye");
  c.hook->finished = true;
  c.hook->http = ProbeOutcome{false, "connection refused"};
  EXPECT_EQ(event_of(plan_stop_step(c, t0 + seconds(1))).message,
            "HTTP lifecycle hook for Container \"auth\" failed - error: connection refused");
}

TEST(KubeletPlanStop, DeletionGracePeriodOverridesThePods) {
  PodState p = pod_from_stored("u-9",
                               Json{{"metadata", {{"name", "a"}, {"namespace", "ns"}}},
                                    {"spec", {{"terminationGracePeriodSeconds", 45}}}},
                               kWall);
  EXPECT_EQ(p.grace_seconds, 45);
  EXPECT_EQ(p.restart_policy, "Always");
  ContainerState running = container(), idle = container();
  idle.name = "idle";
  mark_started(running, 100, kWall, t0);
  const std::vector<Event> events = begin_delete(
      p, Json{{"deletionTimestamp", kWall}, {"deletionGracePeriodSeconds", 5}}, {&running, &idle});
  EXPECT_TRUE(p.deleting);
  EXPECT_EQ(p.grace_seconds, 5);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], (Event{"Normal", "Killing", "Stopping container auth"}));

  PodState defaults = pod_from_stored("u-8", Json{{"metadata", {{"name", "b"}}}}, kWall);
  EXPECT_EQ(defaults.grace_seconds, 30);
  begin_delete(defaults, Json{{"deletionTimestamp", kWall}}, {});
  EXPECT_EQ(defaults.grace_seconds, 30);
}

// ---- Adoption ------------------------------------------------------------------------------

TEST(KubeletPlanAdoption, WhichRunsAreAdopted) {
  EXPECT_TRUE(run_adoptable(true, Json{{"startedAt", kWall}}));
  EXPECT_FALSE(run_adoptable(true, Json()));                       // no record
  EXPECT_FALSE(run_adoptable(false, Json{{"startedAt", kWall}}));  // pid gone or reused
}

TEST(KubeletPlanAdoption, DiedMeanwhileWithTheShimsStatus) {
  Json exited3 = recorded_exit("exited 3\n", "s", 55, "f");
  EXPECT_EQ(exited3["exitCode"], 3);
  EXPECT_EQ(exited3["reason"], "Error");
  EXPECT_EQ(exited3["containerID"], "ticketctl://55");
  Json killed = recorded_exit("signaled 9", "s", 55, "f");
  EXPECT_EQ(killed["exitCode"], 137);
  EXPECT_EQ(killed["signal"], 9);
  EXPECT_EQ(recorded_exit("exited 0", "s", 55, "f")["reason"], "Completed");
}

TEST(KubeletPlanAdoption, ShimGoneIsContainerStatusUnknown) {
  for (const char* record : {"", "garbage", "exited", "stopped 3"}) {
    SCOPED_TRACE(record);
    Json t = recorded_exit(record, "s", 55, "f");
    EXPECT_EQ(t["exitCode"], 137);
    EXPECT_EQ(t["reason"], "ContainerStatusUnknown");
    EXPECT_EQ(t["startedAt"], "s");
  }
  Json bare = exit_unknown("", 0, "f");
  EXPECT_FALSE(bare.contains("startedAt"));
  EXPECT_FALSE(bare.contains("containerID"));
}

TEST(KubeletPlanAdoption, EndedUnsupervisedIsRestartedAsThePolicySays) {
  Json stored_status = Json::parse(R"js({"containerStatuses": [{"name": "auth",
      "restartCount": 2, "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]})js");
  for (const char* policy : {"Always", "OnFailure", "Never"}) {
    SCOPED_TRACE(policy);
    PodState p = pod(policy);
    ContainerState c = container_from_stored(Json{{"name", "auth"}}, stored_status);
    EXPECT_EQ(c.restart_count, 2);
    EXPECT_EQ(c.last_terminated["exitCode"], 1);
    mark_exited_unsupervised(c, Json(), kWall);  // the shim is gone too
    const IdlePlan plan = plan_idle(c, p, t0, Backoff{});
    EXPECT_EQ(plan.start, std::string(policy) != "Never");
    Json s = status_of(p, c);
    EXPECT_EQ(s["lastState"]["terminated"]["reason"], "ContainerStatusUnknown");
    EXPECT_EQ(s["lastState"]["terminated"]["exitCode"], 137);
    if (!plan.start) {
      EXPECT_EQ(s["state"]["terminated"]["reason"], "ContainerStatusUnknown");
      EXPECT_EQ(phase_of(p, c), "Failed");
    }
  }
  PodState p = pod("OnFailure");
  ContainerState c = container_from_stored(Json{{"name", "auth"}}, Json());
  mark_exited_unsupervised(c, recorded_exit("exited 0", "s", 9, "f"), kWall);
  EXPECT_FALSE(plan_idle(c, p, t0, Backoff{}).start);
  EXPECT_EQ(phase_of(p, c), "Succeeded");
}

TEST(KubeletPlanAdoption, AdoptedPodKeepsStartTimeAndConditions) {
  PodState p = pod();
  p.start_time = "now";
  restore_pod_status(p, Json::parse(R"js({"startTime": "2026-01-01T00:00:00Z", "conditions": [
      {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:05Z"}]})js"));
  EXPECT_EQ(p.start_time, "2026-01-01T00:00:00Z");
  ContainerState c = container();
  mark_adopted(c, 77, Json{{"startedAt", "2026-01-01T00:00:01Z"}}, t0);
  c.ready = true;
  Json status = pod_status(p, {&c}, kWall);
  EXPECT_EQ(status["startTime"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(status["conditions"][1]["lastTransitionTime"], "2026-01-01T00:00:05Z");
  EXPECT_EQ(status["conditions"][0]["lastTransitionTime"], kWall);  // newly known
  EXPECT_EQ(status["containerStatuses"][0]["state"]["running"]["startedAt"],
            "2026-01-01T00:00:01Z");
}

// ---- Status --------------------------------------------------------------------------------

TEST(KubeletPlanStatus, PendingWhileWaitingThenRunning) {
  PodState p = pod();
  ContainerState c = container();
  c.waiting_message = "";
  Json status = pod_status(p, {&c}, kWall);
  EXPECT_EQ(status["phase"], "Pending");
  EXPECT_EQ(status["podIP"], "127.80.0.5");
  EXPECT_EQ(status["containerStatuses"][0]["state"]["waiting"]["reason"], "ContainerCreating");
  EXPECT_EQ(status["conditions"][1]["status"], "False");
  mark_started(c, 100, kWall, t0);
  c.ready = true;
  status = pod_status(p, {&c}, "later");
  EXPECT_EQ(status["phase"], "Running");
  EXPECT_EQ(status["conditions"][1]["status"], "True");
  EXPECT_EQ(status["conditions"][1]["lastTransitionTime"], "later");
  EXPECT_EQ(status["conditions"][3]["lastTransitionTime"], kWall);  // PodScheduled unchanged
  EXPECT_EQ(status["containerStatuses"][0]["ready"], true);
  EXPECT_EQ(status["containerStatuses"][0]["started"], true);
}

TEST(KubeletPlanStatus, TwoContainersOneFailedNeverRestarted) {
  PodState p = pod("Never");
  ContainerState ok = exited(exit_state(kWall, 1, 0, 0, kWall));
  ContainerState bad = exited(exit_state(kWall, 2, 2, 0, kWall));
  bad.name = "bad";
  EXPECT_EQ(pod_status(p, {&ok, &bad}, kWall)["phase"], "Failed");
  ContainerState running = container();
  mark_started(running, 3, kWall, t0);
  EXPECT_EQ(pod_status(p, {&ok, &running}, kWall)["phase"], "Running");
}

}  // namespace
}  // namespace ticketctl::supervisor::plan
