#pragma once
// The kubelet of ticketctl: runs every stored pod as local processes and reports what they do.
// Level-based: each sync compares the pods in the store with the processes it supervises,
// starts what is missing (image -> command, environment, pod IP), stops what is no longer
// wanted, restarts with Kubernetes' back-off, runs probes, and writes pod status and events.
// One thread owns all process state: it waits (epoll) on the containers' output pipes, on
// SIGCHLD (signalfd; SIGCHLD must be blocked in every thread before any is started) and on
// wake-ups, and takes the store's lock only to read pods and write their status.
// start/wake/stop may be called from any thread.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "runtime/images/builder.h"
#include "runtime/images/resolver.h"
#include "runtime/net/backend.h"
#include "runtime/net/host_sockets.h"
#include "runtime/store/shared.h"
#include "runtime/supervisor/cgroup.h"
#include "runtime/supervisor/env.h"
#include "runtime/supervisor/pod_plan.h"
#include "runtime/supervisor/probe.h"
#include "runtime/supervisor/process.h"
#include "runtime/supervisor/process_tree.h"

namespace ticketctl::supervisor {

namespace kubelet_detail {
struct Attempt;
struct PendingEvent;
}  // namespace kubelet_detail

struct KubeletOptions {
  std::filesystem::path pods_dir;  // logs and pid files: <pods_dir>/<ns>_<pod>_<uid>/<container>/
  project::Config project;
  // Injected into every pod (appended to LD_PRELOAD) with the net table's path; empty: none.
  std::filesystem::path preload_library;
  std::filesystem::path net_table;
  // ticketctl-shim, the parent of each container's main process, which records its exit status
  // (<run dir>/exit) for a control plane that adopts it; empty: none, and the exit code of an
  // adopted container that ends is unknown.
  std::filesystem::path shim;
  // Asked before a container starts: why its image is not ready yet (being built, or its build
  // failed), as a waiting reason and message; nullopt: start it. Empty: images need no build.
  std::function<std::optional<images::BuildWait>(const std::string& image)> build_gate;
  // persistentVolumeClaims' directories (<claims_dir>/<ns>_<claim>_<uid>); empty: claims are
  // not served.
  std::filesystem::path claims_dir;
  std::chrono::milliseconds backoff_initial{10000};
  std::chrono::milliseconds backoff_max{300000};
  uint64_t log_max_bytes = 10 * 1024 * 1024;
  int log_max_files = 5;
  std::vector<std::string> host_env = {"PATH", "HOME", "LANG", "TZ", "TERM"};
  uint32_t pod_ip_base = 0x7f500000;  // 127.80.0.0/16
  uint32_t pod_ip_mask_bits = 16;
  uint32_t pod_ip_first_offset = 2;  // where this project starts looking for free pod IPs
  // Called (without the store's lock) after the kubelet wrote pod status, so controllers that
  // read readiness (deployments, endpoints) run again.
  std::function<void()> on_status_written;
  // A line per pod state change and, when `echo_logs`, every log line with a [pod] prefix:
  // what `up` in the foreground prints. Called on the kubelet thread.
  std::function<void(const std::string& pod, const std::string& line, bool is_log)> report;
};

// A container run as its control plane recorded it: <pods_dir>/<ns>_<pod>_<uid>/<container>/pid
// ("<pid> <start ticks>" of its shim, or of its main process without one; present while the run
// lasts), exec.json beside it (how it was started: argv, env, workingDir, podIP, startedAt,
// restartCount, gracePeriodSeconds, cgroup, trackingCgroup, pod, namespace; written before the
// run begins) and, once it ended
// under a shim, exit ("exited N" or "signaled N").
struct RecordedRun {
  std::filesystem::path dir;
  std::string uid, ns, pod, container;
  pid_t pid = 0;
  unsigned long long start_ticks = 0;
  // The recorded process still runs: the same pid, started at the same moment, leading its own
  // process group.
  bool alive = false;
  Json exec;  // exec.json; null when missing or unreadable
  // Every process of the run: its tracking cgroup (exec.json's "trackingCgroup"), else found from
  // its shim and its FIFOs.
  ContainerProcesses processes() const;
};
std::vector<RecordedRun> recorded_runs(const std::filesystem::path& pods_dir);

// What `down` does when no control plane runs: stops every container a dead one left running
// (SIGTERM to each of its processes, wherever they moved: see process_tree.h; SIGKILL after its
// grace period, all in parallel), waits until none is left, and removes their pid files.
// `grace_over`: their grace period already ran out (a control plane that could not finish was
// killed), so SIGKILL at once.
struct LeftoverStop {
  int containers = 0;               // how many had processes
  std::vector<std::string> killed;  // "pod X: N processes did not exit within Gs and were killed"
};
LeftoverStop stop_leftover_containers(const std::filesystem::path& pods_dir,
                                      bool grace_over = false);

class Kubelet {
 public:
  Kubelet(store::Shared& store, KubeletOptions options);
  ~Kubelet();
  Kubelet(const Kubelet&) = delete;
  Kubelet& operator=(const Kubelet&) = delete;

  // Finds the containers a previous control plane left running (pid files whose process still
  // has the recorded start time and leads its own process group) to adopt them in the first
  // sync, then starts the thread. Adopted containers keep their PIDs, pod IP and log; those whose
  // pod is no longer stored are stopped; a pid file whose process is gone is a container that
  // exited unsupervised, and is restarted as its pod's restartPolicy says.
  void start();
  // Something in the store changed: sync soon.
  void wake();
  // Stops every pod in parallel (SIGTERM to every process of each container, SIGKILL after its
  // grace period), waits until none of their processes is left, then ends the thread.
  void stop();
  // After stop(): one line per container whose processes had to be killed while stopping, e.g.
  // "pod X: 200 processes did not exit within 30s and were killed".
  const std::vector<std::string>& kill_report() const { return kill_report_; }

 private:
  struct Pod;
  struct Container;
  struct Stream;
  // A start the planner asked for, carried out after the store's lock is released.
  struct PlannedStart {
    Pod* pod;
    Container* container;
    const Json* pod_json;
    bool restart;  // restartCount goes up once it started
  };
  void find_leftovers();
  bool adopt(Pod& pod, Container& c, const RecordedRun& run);
  void adopt_orphans();
  void run();
  // One pass of the level-based loop (kubelet_sync.cpp), in these steps:
  void sync();
  Pod& add_pod(const std::string& uid, const Json& pod_json,
               std::vector<kubelet_detail::PendingEvent>& events);
  void plan_stored_pods(std::map<std::string, Json>& wanted,
                        std::chrono::steady_clock::time_point now,
                        std::vector<PlannedStart>& starts,
                        std::vector<kubelet_detail::PendingEvent>& events);
  void start_planned(const std::vector<PlannedStart>& starts,
                     std::vector<kubelet_detail::PendingEvent>& events);
  void stop_unwanted(const std::map<std::string, Json>& wanted,
                     const std::set<std::string>& stored);
  // preStop hooks that ended, and grace periods that ran out.
  void step_stops(std::chrono::steady_clock::time_point now,
                  std::vector<kubelet_detail::PendingEvent>& events);
  // Probe outcomes taken, next attempts started.
  void step_probes(const std::map<std::string, Json>& wanted,
                   std::chrono::steady_clock::time_point now,
                   std::vector<kubelet_detail::PendingEvent>& events);
  // Under the store's lock: status, events, and Terminating pods whose processes are gone
  // removed. Whether anything was written.
  bool write_status(const std::map<std::string, Json>& wanted,
                    std::vector<kubelet_detail::PendingEvent>& events);
  void reap();
  void drain(int fd);
  void close_stream(int fd);
  void watch_fd(int fd);  // readable -> the thread's epoll_wait returns it
  void watch_output(const Pod& pod, Container& c, int stdout_fd, int stderr_fd);
  // Starts `probe` against `target` on a background thread; `attempt.done` turns true (and the
  // kubelet is woken) once `attempt.outcome` is written.
  void start_probe(Json probe, const std::string& pod_ip, const Json& container,
                   SpawnSpec exec_base, const kubelet_detail::Attempt& attempt);
  // The container's main process ended: its group is killed, its output read to the end.
  void finish(Container& c, Json terminated);
  void adopted_exited(int pidfd);
  bool start_container(Pod& pod, Container& c, const Json& pod_json);
  // Starts stopping a container as the planner says: its preStop hook first when it has one,
  // then SIGTERM to its group, SIGKILL when the grace period ends.
  void begin_stop(const Pod& pod, Container& c, std::chrono::seconds grace);
  // An exec preStop hook's process was reaped.
  void hook_exited(pid_t pid, int exit_code);
  // The hook's process (killed when `kill`) and attempt are no longer watched.
  void forget_hook(Container& c, bool kill);
  // A container's processes had to be killed: said in the foreground and, while stopping, kept
  // for kill_report().
  void note_kill(const Container& c, std::string line);
  // Removes the directories under pods_dir of pods neither stored (by uid) nor supervised.
  void collect_run_dirs(const std::map<std::string, Json>& stored);
  void sync_volumes(const store::Store& store, const std::map<std::string, Json>& wanted);
  std::string allocate_ip();
  std::chrono::steady_clock::time_point next_deadline() const;

  store::Shared& store_;
  KubeletOptions options_;
  images::Resolver resolver_;
  plan::Backoff backoff_;
  std::map<std::string, std::unique_ptr<Pod>> pods_;  // by uid
  std::map<int, std::unique_ptr<Stream>> streams_;    // by pipe fd
  std::map<pid_t, Container*> by_pid_;
  std::map<pid_t, Container*> hook_pids_;  // exec preStop hooks, children like containers
  // A probe or an httpGet preStop hook on a thread of its own: a slow one holds up no reaping,
  // restart or log capture. Joined once done (and all at stop()).
  struct Background {
    std::shared_ptr<std::atomic<bool>> done;
    std::thread thread;
  };
  std::vector<Background> background_;
  ChildExits probe_children_;  // exec probes' children, which reap() leaves to their threads
  // Adopted containers are not this process's children: their exit is seen through a pidfd.
  std::map<int, Container*> by_pidfd_;
  // Found by start(), consumed by the first sync: uid -> container name -> what to adopt, and
  // uid -> container -> how it ended while no control plane watched it.
  std::map<std::string, std::map<std::string, RecordedRun>> adoptable_;
  std::map<std::string, std::map<std::string, Json>> exited_unsupervised_;  // -> terminated
  // Looked for when the first container with a memory limit starts (detect() may move this
  // process into a cgroup of its own).
  std::optional<MemoryCgroups> cgroups_;
  std::vector<std::filesystem::path> spent_cgroups_;  // removed once their processes are gone
  // Where every process of a container is kept; not available: process_tree.h walks /proc.
  std::optional<TrackingCgroups> tracking_;
  // What containers that ended left running; sent SIGKILL until nothing is left of them.
  std::vector<ContainerProcesses> remains_;
  bool swept_everything_ = false;
  bool run_dirs_collected_ = false;  // stop(): every descendant of this process is a remain
  std::optional<std::chrono::steady_clock::time_point> streams_deadline_;
  std::vector<std::string> kill_report_;
  uint32_t next_ip_ = 0;
  net::RecentLoopbackAddresses host_addresses_;  // other projects' pods and the host's sockets
  int epoll_fd_ = -1, signal_fd_ = -1, wake_fd_ = -1;
  std::atomic<bool> stopping_{false};  // set by stop() on another thread
  std::thread thread_;
};

}  // namespace ticketctl::supervisor
