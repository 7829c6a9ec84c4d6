#pragma once
// What the kubelet's executor keeps per pod and container, shared by kubelet*.cpp only: the
// planner's state (pod_plan.h) plus what carrying it out needs (processes, pipes, cgroups, the
// probe and hook attempts on their threads).

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "runtime/store/store.h"
#include "runtime/supervisor/kubelet.h"
#include "runtime/logs/log_file.h"
#include "runtime/supervisor/pod_plan.h"

namespace ticketctl::supervisor {

namespace kubelet_detail {

inline std::string str(const Json& v) {
  return v.is_string() ? v.get<std::string>() : std::string();
}

inline int int_field(const Json& v, std::string_view key, int fallback) {
  const Json& f = json_at(v, key);
  return f.is_number_integer() ? f.get<int>() : fallback;
}

// How a run recorded in `run_dir` ended when this process was not its parent: its shim wrote
// the status to `exit`.
Json recorded_exit(const std::filesystem::path& run_dir, const std::string& started_at, pid_t pid);
// The OOM killer's verdict on a run's memory cgroup (none: not enforced).
void mark_oom_kill(Json& terminated, const std::filesystem::path& cgroup);

// An attempt (a probe, an httpGet preStop hook) on a thread of its own: `done` turns true once
// `outcome` is written.
struct Attempt {
  std::shared_ptr<std::atomic<bool>> done;
  std::shared_ptr<ProbeOutcome> outcome;
  static Attempt make() {
    return {std::make_shared<std::atomic<bool>>(false), std::make_shared<ProbeOutcome>()};
  }
  bool running() const { return done && !done->load(); }
  bool ended() const { return done && done->load(); }
};

// The pod an event is about, also when it is no longer stored.
inline Json pod_ref(const plan::PodState& pod) {
  return Json{{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", pod.name}, {"namespace", pod.ns}, {"uid", pod.uid}}}};
}

struct PendingEvent {
  Json object;
  std::string type, reason, message;
};

}  // namespace kubelet_detail

struct Kubelet::Stream {
  int fd = -1;
  bool is_stderr = false;
  std::shared_ptr<logs::LogFile> log;
  std::string pod;      // "posts-depl-abc12", for the foreground prefix
  std::string partial;  // an unfinished line, for the foreground echo
};

struct Kubelet::Container : plan::ContainerState {
  std::string pod_name;  // for the foreground report
  unsigned long long start_ticks = 0;
  // The probe attempts in progress, by plan::ProbeKind.
  kubelet_detail::Attempt probe_attempts[3];
  // The preStop hook's process (exec: a child of this process until reaped) or attempt
  // (httpGet).
  pid_t hook_pid = 0;
  kubelet_detail::Attempt hook_attempt;
  std::shared_ptr<logs::LogFile> log;
  SpawnSpec process;  // how it was started: exec probes run with the same env and directory
  std::filesystem::path pid_file;
  std::filesystem::path cgroup;              // this run's memory cgroup, when its limit is enforced
  std::string limit_not_enforced;            // why, for a Warning event once it started
  std::filesystem::path tracking_cgroup;     // this run's tracking cgroup; empty: found in /proc
  ContainerProcesses procs;                  // every process of this run
  std::string label;                         // "pod X" or "pod X, container c", for the kill report
  std::vector<std::string> volume_warnings;  // hostPath outside the project, once it started
};

struct Kubelet::Pod : plan::PodState {
  std::filesystem::path dir;
  std::vector<std::unique_ptr<Container>> containers;
  // Its volumes were set up on this kubelet (or its containers adopted): emptyDirs are no
  // longer reset.
  bool volumes_prepared = false;

  std::vector<plan::ContainerState*> states() const {
    std::vector<plan::ContainerState*> all;
    for (const auto& c : containers) all.push_back(c.get());
    return all;
  }
  bool all_gone() const {
    for (const auto& c : containers)
      if (c->pid != 0) return false;
    return true;
  }
};

}  // namespace ticketctl::supervisor
