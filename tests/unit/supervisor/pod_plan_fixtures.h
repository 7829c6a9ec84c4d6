#pragma once
// What the pod_plan tests share: a pod and a container as the planner sees them, a fixed clock.

#include <string>

#include "runtime/supervisor/pod_plan.h"

namespace ticketctl::supervisor::plan::fixtures {

inline const Clock::time_point t0 = Clock::time_point() + std::chrono::hours(1);
inline const std::string kWall = "2026-01-02T03:04:05Z";

inline PodState pod(const std::string& policy = "Always") {
  PodState p;
  p.uid = "u-1";
  p.ns = "default";
  p.name = "auth-abc";
  p.ip = "127.80.0.5";
  p.restart_policy = policy;
  p.start_time = kWall;
  return p;
}

inline ContainerState container(Json spec = Json::object()) {
  ContainerState c;
  c.name = "auth";
  spec["name"] = "auth";
  spec["image"] = "auth-image";
  c.spec = std::move(spec);
  return c;
}

// A container that ran from `started` and ended as `terminated`.
inline ContainerState exited(Json terminated, Clock::time_point started = t0) {
  ContainerState c = container();
  mark_started(c, 100, kWall, started);
  mark_exited(c, std::move(terminated));
  return c;
}

inline Json status_of(PodState& p, const ContainerState& c) {
  return pod_status(p, {&c}, kWall)["containerStatuses"][0];
}

inline std::string phase_of(PodState& p, const ContainerState& c) {
  return pod_status(p, {&c}, kWall)["phase"].get<std::string>();
}

// What a step says happened; a missing event compares unequal instead of crashing the test.
inline Event event_of(const StopStep& step) {
  return step.event.value_or(Event{"(none)", "(none)", "(none)"});
}

}  // namespace ticketctl::supervisor::plan::fixtures
