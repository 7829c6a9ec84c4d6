// The kubelet's planner (runtime/supervisor/pod_plan.h): probe thresholds and periods, grace
// periods and preStop hooks, asserted as the actions and the status a user sees.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runtime/supervisor/pod_plan.h"
#include "tests/unit/supervisor/pod_plan_fixtures.h"

namespace ticketctl::supervisor::plan {
namespace {

using namespace fixtures;

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

}  // namespace
}  // namespace ticketctl::supervisor::plan
