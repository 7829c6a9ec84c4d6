// The kubelet's planner (runtime/supervisor/pod_plan.h): every row of the restart-policy matrix,
// the back-off sequence and its reset, adoption, and the pod status, asserted as the actions and
// the status a user sees. Probes and stops: pod_plan_probe_stop_test.cpp.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runtime/supervisor/pod_plan.h"
#include "tests/unit/supervisor/pod_plan_fixtures.h"

namespace ticketctl::supervisor::plan {
namespace {

using namespace fixtures;
using std::chrono::minutes;

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
