#include "runtime/supervisor/kubelet.h"

#include <arpa/inet.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>

#include "runtime/core/files.h"
#include "runtime/core/oplog.h"
#include "runtime/events/events.h"
#include "runtime/logs/log_file.h"
#include "runtime/logs/pod_logs.h"
#include "runtime/net/allocator.h"
#include "runtime/net/host_sockets.h"
#include "runtime/supervisor/probe.h"
#include "runtime/supervisor/process.h"
#include "runtime/supervisor/volumes.h"

namespace ticketctl::supervisor {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

std::string str(const Json& v) {
  return v.is_string() ? v.get<std::string>() : std::string();
}

int int_field(const Json& v, std::string_view key, int fallback) {
  const Json& f = json_at(v, key);
  return f.is_number_integer() ? f.get<int>() : fallback;
}

// A probe's schedule and counters (kubelet's prober worker, one per probe).
struct ProbeState {
  const Json* spec = nullptr;
  Clock::time_point next{};
  int successes = 0, failures = 0;
  // The attempt in progress on its own thread: `done` turns true once `outcome` is written.
  std::shared_ptr<std::atomic<bool>> done;
  std::shared_ptr<ProbeOutcome> outcome;
  int period() const { return std::max(1, int_field(*spec, "periodSeconds", 10)); }
  int success_threshold() const { return std::max(1, int_field(*spec, "successThreshold", 1)); }
  int failure_threshold() const { return std::max(1, int_field(*spec, "failureThreshold", 3)); }
};

// state.terminated of a run that exited with `code`, or was killed by `signal` (not 0).
Json exit_state(const std::string& started_at, pid_t pid, int code, int signal) {
  if (signal != 0) code = 128 + signal;
  Json terminated = {{"exitCode", code},
                     {"reason", code == 0 ? "Completed" : "Error"},
                     {"startedAt", started_at},
                     {"finishedAt", store::rfc3339_now()},
                     {"containerID", fmt::format("ticketctl://{}", pid)}};
  if (signal != 0) terminated["signal"] = signal;
  return terminated;
}

// How a container ended when this process was not its parent and could not learn: Kubernetes
// reports a container it cannot account for the same way.
Json exit_unknown(const std::string& started_at, pid_t pid) {
  Json terminated = {{"exitCode", 137},
                     {"reason", "ContainerStatusUnknown"},
                     {"message",
                      "the container ended while it was not a child of this control plane, so "
                      "its exit code is unknown"},
                     {"finishedAt", store::rfc3339_now()}};
  if (!started_at.empty()) terminated["startedAt"] = started_at;
  if (pid > 0) terminated["containerID"] = fmt::format("ticketctl://{}", pid);
  return terminated;
}

// How a run recorded in `run_dir` ended when this process was not its parent: its shim wrote
// the status to `exit`; without it (no shim, or the shim was killed too) it is unknown.
Json recorded_exit(const fs::path& run_dir, const std::string& started_at, pid_t pid) {
  std::ifstream in(run_dir / "exit");
  std::string how;
  int value = -1;
  if (!(in >> how >> value) || (how != "exited" && how != "signaled"))
    return exit_unknown(started_at, pid);
  return exit_state(started_at, pid, how == "exited" ? value : -1, how == "signaled" ? value : 0);
}

// The kernel's OOM killer killed something in the run's memory cgroup: Kubernetes says
// OOMKilled.
void mark_oom_kill(Json& terminated, const fs::path& cgroup) {
  if (cgroup.empty() || MemoryCgroups::oom_kills(cgroup) == 0 ||
      int_field(terminated, "exitCode", 0) == 0)
    return;
  terminated["reason"] = "OOMKilled";
  terminated.erase("message");
}

struct PendingEvent {
  Json object;
  std::string type, reason, message;
};

}  // namespace

struct Kubelet::Stream {
  int fd = -1;
  bool is_stderr = false;
  std::shared_ptr<logs::LogFile> log;
  std::string pod;      // "posts-depl-abc12", for the foreground prefix
  std::string partial;  // an unfinished line, for the foreground echo
};

struct Kubelet::Container {
  std::string name;
  std::string pod_name;  // for the foreground report
  Json spec;
  pid_t pid = 0;  // the main process, also its group; 0 when not running
  unsigned long long start_ticks = 0;
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
  std::string waiting_reason = "ContainerCreating", waiting_message;
  bool ready = false;
  bool startup_done = true;
  std::optional<ProbeState> readiness, liveness, startup;
  Clock::time_point next_port_check{};
  bool stopping = false;
  Clock::time_point kill_at{};
  bool killed = false;
  // A preStop hook in progress: SIGTERM waits for it, within the grace period.
  struct Hook {
    std::string kind;  // "exec", "httpGet", "sleep"
    pid_t pid = 0;     // exec: a child of this process until reaped
    int exit_code = -1;
    std::string error;                        // exec: why it could not be started
    Clock::time_point until{};                // sleep
    std::shared_ptr<std::atomic<bool>> done;  // httpGet: set by its thread
    std::shared_ptr<ProbeOutcome> outcome;    // httpGet: written before done
  };
  std::optional<Hook> hook;
  std::shared_ptr<logs::LogFile> log;
  SpawnSpec process;  // how it was started: exec probes run with the same env and directory
  fs::path pid_file;
  fs::path cgroup;                           // this run's memory cgroup, when its limit is enforced
  std::string limit_not_enforced;            // why, for a Warning event once it started
  fs::path tracking_cgroup;                  // this run's tracking cgroup; empty: found in /proc
  ContainerProcesses procs;                  // every process of this run
  std::string label;                         // "pod X" or "pod X, container c", for the kill report
  int grace_seconds = 0;                     // of the stop in progress
  std::vector<std::string> volume_warnings;  // hostPath outside the project, once it started
};

struct Kubelet::Pod {
  std::string uid, ns, name, ip;
  std::string restart_policy = "Always";
  int grace_seconds = 30;
  fs::path dir;
  std::vector<std::unique_ptr<Container>> containers;
  bool deleting = false;
  std::string start_time;
  std::map<std::string, std::string> condition_since;  // type -> lastTransitionTime
  std::map<std::string, bool> condition_value;
  Json last_status;
  bool running_reported = false;
  // Its volumes were set up on this kubelet (or its containers adopted): emptyDirs are no
  // longer reset.
  bool volumes_prepared = false;
};

Kubelet::Kubelet(store::Store& store, std::mutex& store_mutex, KubeletOptions options)
    : store_(store),
      store_mutex_(store_mutex),
      options_(std::move(options)),
      resolver_(options_.project) {}

Kubelet::~Kubelet() {
  stop();
}

std::vector<RecordedRun> recorded_runs(const fs::path& pods_dir) {
  std::vector<RecordedRun> runs;
  std::error_code ec;
  for (const fs::directory_entry& pod_dir : fs::directory_iterator(pods_dir, ec)) {
    // Names and namespaces are DNS labels: no '_' in them.
    const std::string dir_name = pod_dir.path().filename().string();
    const size_t first = dir_name.find('_'), last = dir_name.rfind('_');
    if (first == std::string::npos || first == last) continue;
    for (const fs::directory_entry& run_dir : fs::directory_iterator(pod_dir.path(), ec)) {
      RecordedRun r;
      std::ifstream in(run_dir.path() / "pid");
      if (!(in >> r.pid >> r.start_ticks) || r.pid <= 0) continue;
      r.dir = run_dir.path();
      r.uid = dir_name.substr(last + 1);
      r.ns = dir_name.substr(0, first);
      r.pod = dir_name.substr(first + 1, last - first - 1);
      r.container = run_dir.path().filename().string();
      r.alive = process_start_time(r.pid) == r.start_ticks && ::getpgid(r.pid) == r.pid;
      std::ifstream exec_in(r.dir / "exec.json");
      Json exec = Json::parse(exec_in, nullptr, false);
      if (exec.is_object()) r.exec = std::move(exec);
      // A long name is cut in the directory's name; the record has it whole.
      if (const std::string pod = str(json_at(r.exec, "pod")); !pod.empty()) r.pod = pod;
      runs.push_back(std::move(r));
    }
  }
  return runs;
}

ContainerProcesses RecordedRun::processes() const {
  return alive ? ContainerProcesses(pid, start_ticks, str(json_at(exec, "trackingCgroup")), dir)
               : ContainerProcesses(0, 0, str(json_at(exec, "trackingCgroup")), dir);
}

LeftoverStop stop_leftover_containers(const fs::path& pods_dir, bool grace_over) {
  struct Stopping {
    ContainerProcesses procs;
    std::string pod;
    int grace = 30;
    Clock::time_point kill_at;
    bool killed = false, done = false;
  };
  std::vector<Stopping> stopping;
  LeftoverStop result;
  std::error_code ec;
  const std::vector<RecordedRun> runs = recorded_runs(pods_dir);
  for (const RecordedRun& r : runs) {
    Stopping s{r.processes(), r.pod, int_field(r.exec, "gracePeriodSeconds", 30), {}, false, false};
    s.kill_at = Clock::now() + seconds(grace_over ? 0 : s.grace);
    // Also when its shim is gone: what it started may still run.
    if (s.procs.signal(grace_over ? SIGKILL : SIGTERM) > 0) {
      ++result.containers;
      s.killed = grace_over;
      stopping.push_back(std::move(s));
    }
    fs::remove(r.dir / "pid", ec);
  }
  // Not our children: their exit shows only as their processes disappearing. Forks race the
  // kill, so it is repeated until nothing is left (bounded: a process stuck in the kernel cannot
  // hold `down` forever).
  const Clock::time_point give_up = Clock::now() + seconds(grace_over ? 5 : 0);
  for (bool left = true; left;) {
    left = false;
    const auto now = Clock::now();
    for (Stopping& s : stopping) {
      if (s.done) continue;
      if (now >= s.kill_at) {
        const int n = s.procs.kill();
        if (n > 0 && !s.killed)
          result.killed.push_back(
              fmt::format("pod {}: {} process{} did not exit within {}s and {} killed", s.pod, n,
                          n == 1 ? "" : "es", s.grace, n == 1 ? "was" : "were"));
        s.killed = true;
        if (n == 0 || now >= std::max(give_up, s.kill_at + seconds(5))) s.done = true;
      } else if (s.procs.members().empty()) {
        s.done = true;
      }
      left = left || !s.done;
    }
    if (left) std::this_thread::sleep_for(milliseconds(20));
  }
  for (const RecordedRun& r : runs)
    for (const char* key : {"cgroup", "trackingCgroup"})
      if (const std::string g = str(json_at(r.exec, key)); !g.empty()) MemoryCgroups::remove(g);
  return result;
}

void Kubelet::find_leftovers() {
  std::error_code ec;
  for (RecordedRun& r : recorded_runs(options_.pods_dir)) {
    if (r.alive && r.exec.is_object()) {
      std::string container = r.container;
      adoptable_[r.uid][container] = std::move(r);
      continue;
    }
    // Ours but not adoptable (started by a version that did not record enough): replaced. One
    // that ended may have left processes behind (setsid'd, reparented): they go too.
    ContainerProcesses procs = r.processes();
    if (procs.kill() > 0) {
      procs.forget_run();
      remains_.push_back(std::move(procs));
    }
    if (const std::string g = str(json_at(r.exec, "trackingCgroup")); !g.empty())
      spent_cgroups_.push_back(g);
    // Otherwise it ended while nobody supervised it; its shim may have said how.
    Json terminated = recorded_exit(r.dir, str(json_at(r.exec, "startedAt")), r.pid);
    const fs::path cgroup = str(json_at(r.exec, "cgroup"));
    mark_oom_kill(terminated, cgroup);
    if (!cgroup.empty()) spent_cgroups_.push_back(cgroup);
    exited_unsupervised_[r.uid][r.container] = std::move(terminated);
    fs::remove(r.dir / "pid", ec);
  }
}

void Kubelet::start() {
  const char* force = std::getenv("TICKETCTL_PROCESS_TRACKING");
  tracking_ = TrackingCgroups::detect("/sys/fs/cgroup", "/proc/self/cgroup", force ? force : "");
  find_leftovers();
  if (Result<bool> made = make_private_dirs(options_.pods_dir); !made.ok())
    oplog::error("kubelet", "{}", made.error().message);

  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  signal_fd_ = ::signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  for (int fd : {wake_fd_, signal_fd_}) watch_fd(fd);
  thread_ = std::thread([this] { run(); });
}

void Kubelet::wake() {
  if (wake_fd_ < 0) return;
  const uint64_t one = 1;
  const ssize_t n = ::write(wake_fd_, &one, sizeof one);
  (void)n;
}

void Kubelet::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;  // read by the thread after the wake-up below
  wake();
  thread_.join();
  for (Background& t : background_) t.thread.join();
  background_.clear();
  for (int fd : {epoll_fd_, wake_fd_, signal_fd_})
    if (fd >= 0) ::close(fd);
  epoll_fd_ = wake_fd_ = signal_fd_ = -1;
}

Clock::time_point Kubelet::next_deadline() const {
  Clock::time_point next = Clock::now() + seconds(5);
  for (const auto& [uid, pod] : pods_) {
    for (const auto& c : pod->containers) {
      if (c->in_backoff) next = std::min(next, c->restart_at);
      if (c->stopping && !c->killed) next = std::min(next, c->kill_at);
      if (c->hook && c->hook->kind == "sleep") next = std::min(next, c->hook->until);
      if (c->pid == 0 && !c->ever_started && c->terminated.is_null())
        next = std::min(next, Clock::now() + seconds(1));  // config or image may appear
      if (c->pid != 0 && !c->stopping) {
        for (const auto* p : {&c->readiness, &c->liveness, &c->startup})
          if (*p) next = std::min(next, (*p)->next);
        if (!c->readiness && !c->ready) next = std::min(next, c->next_port_check);
      }
    }
  }
  return next;
}

void Kubelet::run() {
  bool need_sync = true;
  // next_deadline() counts "again in a second" from the moment it is asked: take it once per
  // sync, or a waiting container (a config or build that may appear) is never looked at again.
  Clock::time_point due = Clock::now();
  // A sync reads every pod: during a burst of writes (an apply of hundreds of objects, their
  // pods created one by one) a sync per wake-up made the burst quadratic. After a sync the next
  // one waits kMinSyncGap; the wake-ups meanwhile are all seen by it. Stopping never waits.
  constexpr auto kMinSyncGap = milliseconds(50);
  Clock::time_point last_sync{};
  while (true) {
    const auto now = Clock::now();
    if ((need_sync && (stopping_ || now >= last_sync + kMinSyncGap)) || now >= due) {
      sync();
      last_sync = now;
      need_sync = false;
      due = next_deadline();
    } else if (need_sync) {
      due = std::min(due, last_sync + kMinSyncGap);
    }
    const bool all_gone = std::all_of(pods_.begin(), pods_.end(), [](const auto& p) {
      return std::all_of(p.second->containers.begin(), p.second->containers.end(),
                         [](const auto& c) { return c->pid == 0; });
    });
    // At the end, whatever this process still has below it (a container's setsid'd grandchild
    // reparented here, a hook's child) goes too.
    if (stopping_ && all_gone && !swept_everything_) {
      swept_everything_ = true;
      ContainerProcesses rest = ContainerProcesses::everything_under(::getpid());
      if (rest.kill() > 0) remains_.push_back(std::move(rest));
    }
    std::erase_if(remains_, [](ContainerProcesses& p) { return p.kill() == 0; });
    std::erase_if(spent_cgroups_, [](const fs::path& g) { return MemoryCgroups::remove(g); });
    if (stopping_ && all_gone && remains_.empty()) {
      // A process that left every container's reach may still hold an output FIFO: its output
      // is not worth waiting for.
      if (!streams_deadline_) streams_deadline_ = Clock::now() + seconds(2);
      if (streams_.empty() || Clock::now() >= *streams_deadline_) {
        std::vector<int> fds;
        for (const auto& [fd, stream] : streams_) fds.push_back(fd);
        for (int fd : fds) {
          drain(fd);
          close_stream(fd);
        }
        // The last processes may leave their cgroups a moment after they are gone from /proc.
        for (int i = 0; i < 50 && !spent_cgroups_.empty(); ++i) {
          std::this_thread::sleep_for(milliseconds(20));
          std::erase_if(spent_cgroups_, [](const fs::path& g) { return MemoryCgroups::remove(g); });
        }
        return;
      }
    }
    const auto wait = std::chrono::duration_cast<milliseconds>(due - Clock::now());
    epoll_event events[64];
    // Killed processes die within moments; look again soon rather than in 5 s.
    const int64_t limit = remains_.empty() && !streams_deadline_ ? 5000 : 20;
    const int n = ::epoll_wait(epoll_fd_, events, 64,
                               static_cast<int>(std::clamp<int64_t>(wait.count() + 1, 0, limit)));
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        uint64_t v;
        while (::read(wake_fd_, &v, sizeof v) > 0) {
        }
        need_sync = true;
      } else if (fd == signal_fd_) {
        signalfd_siginfo si;
        while (::read(signal_fd_, &si, sizeof si) > 0) {
        }
        reap();
        need_sync = true;
      } else if (by_pidfd_.count(fd)) {
        adopted_exited(fd);
        need_sync = true;
      } else {
        drain(fd);
      }
    }
  }
}

void Kubelet::drain(int fd) {
  auto it = streams_.find(fd);
  if (it == streams_.end()) return;
  Stream& s = *it->second;
  static char buf[1 << 20];  // the kubelet thread is the only reader
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      const std::string_view bytes(buf, static_cast<size_t>(n));
      s.log->write(s.is_stderr, bytes);
      if (options_.report) {
        s.partial.append(bytes);
        size_t start = 0, nl;
        while ((nl = s.partial.find('\n', start)) != std::string::npos) {
          options_.report(s.pod, s.partial.substr(start, nl - start), true);
          start = nl + 1;
        }
        s.partial.erase(0, start);
      }
      if (static_cast<size_t>(n) < sizeof buf) return;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    close_stream(fd);  // EOF: every process holding the pipe is gone
    return;
  }
}

void Kubelet::close_stream(int fd) {
  auto it = streams_.find(fd);
  if (it == streams_.end()) return;
  if (options_.report && !it->second->partial.empty())
    options_.report(it->second->pod, it->second->partial, true);
  it->second->log->flush();
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  ::close(fd);
  streams_.erase(it);
}

void Kubelet::reap() {
  int status = 0;
  pid_t pid;
  // As a subreaper we also collect orphaned grandchildren; those are simply gone.
  while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
    if (probe_children_.collected(pid, status)) continue;
    if (auto hook = hook_pids_.find(pid); hook != hook_pids_.end()) {
      Container::Hook& h = *hook->second->hook;
      h.pid = 0;
      h.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      signal_group(pid, SIGKILL);  // what the hook left behind
      hook_pids_.erase(hook);
      continue;
    }
    auto it = by_pid_.find(pid);
    if (it == by_pid_.end()) continue;
    Container& c = *it->second;
    by_pid_.erase(it);
    finish(c, exit_state(c.started_at, pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                         WIFSIGNALED(status) ? WTERMSIG(status) : 0));
  }
}

void Kubelet::adopted_exited(int pidfd) {
  auto it = by_pidfd_.find(pidfd);
  Container& c = *it->second;
  by_pidfd_.erase(it);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, pidfd, nullptr);
  ::close(pidfd);
  // Only a parent learns how a process ended: the container's shim wrote it down.
  finish(c, recorded_exit(c.pid_file.parent_path(), c.started_at, c.pid));
}

void Kubelet::finish(Container& c, Json terminated) {
  // A container is its main process: whatever it left running goes with it, wherever it moved,
  // and so does a preStop hook still running for it.
  if (const int left = c.procs.kill(); left > 0) {
    if (!c.killed)
      note_kill(c, fmt::format("{}: {} process{} left by the container {} killed", c.label, left,
                               left == 1 ? "" : "es", left == 1 ? "was" : "were"));
    c.procs.forget_run();
    remains_.push_back(std::move(c.procs));
  }
  c.procs = {};
  if (!c.tracking_cgroup.empty()) spent_cgroups_.push_back(std::move(c.tracking_cgroup));
  c.tracking_cgroup.clear();
  if (c.hook && c.hook->pid > 0) {
    signal_group(c.hook->pid, SIGKILL);
    hook_pids_.erase(c.hook->pid);
  }
  c.hook.reset();
  mark_oom_kill(terminated, c.cgroup);
  if (!c.cgroup.empty()) spent_cgroups_.push_back(std::move(c.cgroup));
  c.cgroup.clear();
  const int code = int_field(terminated, "exitCode", 0);
  c.pid = 0;
  c.ready = false;
  // What the run wrote is in its log file before its pid file goes: a follower that sees the
  // pid file gone has read everything.
  std::vector<int> fds;
  for (auto& [fd, s] : streams_)
    if (s->log == c.log) fds.push_back(fd);
  for (int fd : fds) drain(fd);
  c.log->flush();
  std::error_code ec;
  fs::remove(c.pid_file, ec);
  c.stopping = false;
  c.last_terminated = terminated;
  c.terminated = std::move(terminated);
  oplog::info("kubelet", "pod {}: container {} exited with code {}", c.pod_name, c.name, code);
  if (options_.report)
    options_.report(c.pod_name, fmt::format("container {} exited with code {}", c.name, code),
                    false);
}

void Kubelet::note_kill(const Container& c, std::string line) {
  oplog::warn("kubelet", "{}", line);
  if (options_.report) options_.report(c.pod_name, line, false);
  if (stopping_) kill_report_.push_back(std::move(line));
}

void Kubelet::collect_run_dirs(const std::map<std::string, Json>& stored) {
  std::error_code ec;
  for (const fs::directory_entry& dir : fs::directory_iterator(options_.pods_dir, ec)) {
    const std::string name = dir.path().filename().string();
    const size_t last = name.rfind('_');
    if (last == std::string::npos) continue;
    const std::string uid = name.substr(last + 1);
    if (!stored.count(uid) && !pods_.count(uid)) fs::remove_all(dir.path(), ec);
  }
}

// configMap and secret volumes follow their objects; claims' directories go with their claims.
// Under the store's lock.
void Kubelet::sync_volumes(const std::map<std::string, Json>& wanted) {
  VolumeInputs in;
  in.lookup = [this](const std::string& resource, const std::string& ns,
                     const std::string& name) -> std::optional<Json> {
    Result<Json> o = store_.get({resource, ns, name});
    if (!o.ok()) return std::nullopt;
    return o.value();
  };
  for (const auto& [uid, pod_json] : wanted) {
    auto it = pods_.find(uid);
    if (it != pods_.end() && it->second->volumes_prepared && !it->second->deleting)
      refresh_projected_volumes(pod_json, it->second->dir, in);
  }
  if (options_.claims_dir.empty() || stopping_) return;
  std::set<std::string> claims;
  for (const Json& claim : store_.list("persistentvolumeclaims", ""))
    claims.insert(str(json_at(json_at(claim, "metadata"), "uid")));
  collect_claim_dirs(options_.claims_dir, claims);
}

std::string Kubelet::allocate_ip() {
  std::set<std::string> used;
  for (const auto& [uid, p] : pods_) used.insert(p->ip);
  // Pods still to be adopted in this sync are bound to theirs.
  for (const auto& [uid, runs] : adoptable_)
    for (const auto& [name, run] : runs) used.insert(str(json_at(run.exec, "podIP")));
  // Other projects' pods (and anything else on 127/8) keep their addresses.
  const std::set<uint32_t>& host_addresses = host_addresses_.get();
  const uint32_t size = 1u << (32 - options_.pod_ip_mask_bits);
  if (next_ip_ == 0) next_ip_ = options_.pod_ip_first_offset;
  for (uint32_t i = 0; i < size; ++i) {
    const uint32_t offset = (next_ip_ + i) % size;
    if (offset < 2 || offset == size - 1) continue;
    const std::string ip = net::ipv4_string(options_.pod_ip_base + offset);
    if (used.count(ip) || host_addresses.count(options_.pod_ip_base + offset)) continue;
    next_ip_ = offset + 1;  // the next pod gets the next address: a fresh IP for a replacement
    return ip;
  }
  return {};
}

bool Kubelet::start_container(Pod& pod, Container& c, const Json& pod_json) {
  const images::Resolution r = resolver_.resolve(c.spec);
  if (!r.spec) {
    c.waiting_reason = r.reason;
    c.waiting_message = r.message;
    return false;
  }
  // The image's build (its Dockerfile's dependency installs) runs first; a failed one keeps its
  // pods waiting instead of running without their dependencies.
  if (options_.build_gate) {
    if (std::optional<images::BuildWait> wait =
            options_.build_gate(str(json_at(c.spec, "image")))) {
      c.waiting_reason = wait->reason;
      c.waiting_message = wait->message;
      return false;
    }
  }
  EnvInputs in;
  in.pod = &pod_json;
  in.container = &c.spec;
  in.image_env = r.spec->env;
  for (const std::string& name : options_.host_env)
    if (const char* v = std::getenv(name.c_str())) in.host_env.emplace_back(name, v);
  const bool service_links = json_at(json_at(pod_json, "spec"), "enableServiceLinks") != false;
  // Called without the store's lock (sync() starts containers after releasing it).
  if (service_links) {
    std::vector<Json> services;
    {
      std::lock_guard<std::mutex> lock(store_mutex_);
      services = store_.list("services", pod.ns);
    }
    for (const Json& svc : services)
      for (auto& kv : service_link_env(svc)) in.service_env.push_back(std::move(kv));
  }
  in.lookup = [this](const std::string& resource, const std::string& ns,
                     const std::string& name) -> std::optional<Json> {
    std::lock_guard<std::mutex> lock(store_mutex_);
    Result<Json> o = store_.get({resource, ns, name});
    if (!o.ok()) return std::nullopt;
    return o.value();
  };
  in.node_memory_bytes = static_cast<int64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGESIZE);
  in.node_cpus = static_cast<int>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
  Result<EnvList> env = resolve_env(in);
  if (!env.ok()) {
    c.waiting_reason = "CreateContainerConfigError";
    c.waiting_message = env.error().message;
    return false;
  }
  EnvList vars = std::move(env.value());
  auto has = [&](const std::string& k) {
    return std::any_of(vars.begin(), vars.end(), [&](const auto& kv) { return kv.first == k; });
  };
  if (!has("HOSTNAME")) vars.emplace_back("HOSTNAME", pod.name);
  std::vector<std::string> ports;
  for (const Json& ctr : json_at(json_at(pod_json, "spec"), "containers"))
    for (const Json& p : json_at(ctr, "ports"))
      if (p.value("protocol", "TCP") == "TCP")
        ports.push_back(std::to_string(json_at(p, "containerPort").get<int>()));
  const Json& own_ports = json_at(c.spec, "ports");
  if (!has("PORT") && own_ports.is_array() && !own_ports.empty())
    vars.emplace_back("PORT", std::to_string(json_at(own_ports[0], "containerPort").get<int>()));
  if (!options_.preload_library.empty()) {
    vars.emplace_back("TICKETCTL_POD_IP", pod.ip);
    vars.emplace_back("TICKETCTL_POD_NAMESPACE", pod.ns);
    std::string joined;
    for (const std::string& p : ports) joined += (joined.empty() ? "" : ",") + p;
    vars.emplace_back("TICKETCTL_POD_PORTS", joined);
    vars.emplace_back("TICKETCTL_NET_TABLE", options_.net_table.string());
    auto preload = std::find_if(vars.begin(), vars.end(),
                                [](const auto& kv) { return kv.first == "LD_PRELOAD"; });
    if (preload == vars.end())
      vars.emplace_back("LD_PRELOAD", options_.preload_library.string());
    else
      preload->second += ":" + options_.preload_library.string();
  }
  VolumeInputs vin;
  vin.pod = &pod_json;
  vin.container = &c.spec;
  vin.pod_dir = pod.dir;
  vin.claims_dir = options_.claims_dir;
  if (!options_.project.file.empty()) vin.project_dir = options_.project.file.parent_path();
  vin.image_volume = r.spec->volume;
  vin.first_start = !pod.volumes_prepared;
  vin.lookup = in.lookup;
  Result<PreparedVolumes> volumes = prepare_volumes(vin);
  if (!volumes.ok()) {
    c.waiting_reason = "CreateContainerConfigError";
    c.waiting_message = volumes.error().message;
    return false;
  }
  pod.volumes_prepared = true;
  c.volume_warnings = volumes.value().warnings;
  if (!volumes.value().data_dir.empty())
    vars.emplace_back("TICKETCTL_DATA_DIR", volumes.value().data_dir.string());
  if (!volumes.value().mounts.empty())
    vars.emplace_back("TICKETCTL_MOUNTS", mounts_env(volumes.value().mounts));
  c.process.argv.clear();
  for (const std::string& a : r.spec->argv) c.process.argv.push_back(expand_vars(a, vars));
  c.process.env = std::move(vars);
  // An image without a directory of its own (a well-known server) starts in its data
  // directory, else in its pod's.
  c.process.working_dir = !r.spec->working_dir.empty()        ? r.spec->working_dir
                          : !volumes.value().data_dir.empty() ? volumes.value().data_dir
                                                              : pod.dir;
  const fs::path dir = pod.dir / c.name;
  std::error_code ec;
  if (Result<bool> made = make_private_dirs(dir); !made.ok()) {
    c.waiting_reason = "RunContainerError";
    c.waiting_message = made.error().message;
    return false;
  }
  // c.process is also what exec probes and hooks start from: the FIFOs are this run's alone.
  SpawnSpec spec = c.process;
  spec.stdout_fifo = dir / "stdout";
  spec.stderr_fifo = dir / "stderr";
  spec.shim = options_.shim;
  spec.run_dir = dir;
  c.pid_file = dir / "pid";
  fs::remove(c.pid_file, ec);
  fs::remove(dir / "exit", ec);
  const std::string run_name = fmt::format("{}_{}_{}", pod.uid, c.name, c.restart_count);
  fs::path tracking;
  if (tracking_ && tracking_->available()) {
    Result<fs::path> group = tracking_->create(run_name);
    Result<int> procs = group.ok() ? MemoryCgroups::open_procs(group.value()) : group.error();
    if (!procs.ok()) {
      if (group.ok()) MemoryCgroups::remove(group.value());
      c.waiting_reason = "RunContainerError";
      c.waiting_message = "cannot make the container's cgroup: " + procs.error().message;
      return false;
    }
    tracking = group.value();
    spec.cgroup_procs_fds[0] = procs.value();
  }
  // Either cgroup's failure below leaves neither behind.
  auto release = [&] {
    for (int& fd : spec.cgroup_procs_fds)
      if (fd >= 0) ::close(std::exchange(fd, -1));
  };
  const std::string memory =
      str(json_at(json_at(json_at(c.spec, "resources"), "limits"), "memory"));
  fs::path cgroup;
  if (!memory.empty()) {
    if (!cgroups_) cgroups_ = MemoryCgroups::detect();
    const std::optional<int64_t> bytes = parse_byte_quantity(memory);
    if (!cgroups_->available()) {
      c.limit_not_enforced =
          fmt::format("resources.limits.memory ({}) of container {} is not enforced: {}", memory,
                      c.name, cgroups_->reason());
    } else if (bytes && *bytes > 0) {
      Result<fs::path> group = cgroups_->create(run_name, *bytes);
      Result<int> procs = group.ok() ? MemoryCgroups::open_procs(group.value()) : group.error();
      if (!procs.ok()) {
        if (group.ok()) MemoryCgroups::remove(group.value());
        release();
        if (!tracking.empty()) MemoryCgroups::remove(tracking);
        c.waiting_reason = "RunContainerError";
        c.waiting_message = "cannot apply the memory limit: " + procs.error().message;
        return false;
      }
      cgroup = group.value();
      spec.cgroup_procs_fds[1] = procs.value();
    }
  }
  // How this run is started: `ticketctl exec` runs commands with its environment and directory,
  // and the next control plane adopts the run from it if this one dies. Written before the run
  // begins, so the pid file (the shim's first act) never names a run without it. The
  // environment holds secret values: the file is 0600 and its content is never logged.
  const std::string started_at = store::rfc3339_now();
  Json exec_info = spawn_record(c.process);
  exec_info.update({{"startedAt", started_at},
                    {"restartCount", c.restart_count},
                    {"podIP", pod.ip},
                    {"gracePeriodSeconds", pod.grace_seconds},
                    {"cgroup", cgroup.string()},
                    {"trackingCgroup", tracking.string()},
                    {"pod", pod.name},
                    {"namespace", pod.ns}});
  // A run without its record could not be adopted or exec'd into: do not start it.
  if (Result<bool> w = write_private_file(dir / "exec.json", exec_info.dump()); !w.ok()) {
    release();
    for (const fs::path& g : {cgroup, tracking})
      if (!g.empty()) MemoryCgroups::remove(g);
    c.waiting_reason = "RunContainerError";
    c.waiting_message = w.error().message;
    return false;
  }
  Result<Spawned> spawned = spawn_process(spec);
  release();
  if (!spawned.ok())
    for (const fs::path& g : {cgroup, tracking})
      if (!g.empty()) MemoryCgroups::remove(g);
  if (!spawned.ok()) {
    c.waiting_reason = "RunContainerError";
    c.waiting_message = spawned.error().message;
    return false;
  }
  const Spawned& s = spawned.value();
  c.pid = s.pid;
  c.cgroup = cgroup;
  c.tracking_cgroup = tracking;
  c.start_ticks = process_start_time(s.pid);
  c.procs = ContainerProcesses(s.pid, c.start_ticks, tracking, dir);
  by_pid_[s.pid] = &c;
  c.ever_started = true;
  c.started_at = started_at;
  c.started_steady = Clock::now();
  c.terminated = nullptr;
  c.in_backoff = false;
  c.waiting_reason.clear();
  c.waiting_message.clear();
  c.ready = false;
  c.stopping = c.killed = false;
  c.log = std::make_shared<logs::LogFile>(dir / fmt::format("{}.log", c.restart_count),
                                          options_.log_max_bytes, options_.log_max_files);
  // Only the previous run is kept for --previous.
  if (c.restart_count >= 2)
    for (const fs::path& old : logs::run_files(dir / fmt::format("{}.log", c.restart_count - 2)))
      fs::remove(old, ec);
  // The shim wrote it already; without one, this is the first moment it can be written.
  if (options_.shim.empty())
    if (Result<bool> w =
            write_private_file(c.pid_file, fmt::format("{} {}\n", s.pid, c.start_ticks));
        !w.ok())
      oplog::error("kubelet", "pod {}: container {} (pid {}) cannot be adopted after a restart: {}",
                   pod.name, c.name, s.pid, w.error().message);
  oplog::info("kubelet", "pod {}/{}: started container {} (pid {}, run {})", pod.ns, pod.name,
              c.name, s.pid, c.restart_count);
  watch_output(pod, c, s.stdout_fd, s.stderr_fd);
  arm_probes(c, true);
  return true;
}

void Kubelet::watch_fd(int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
}

void Kubelet::watch_output(const Pod& pod, Container& c, int stdout_fd, int stderr_fd) {
  for (auto [fd, is_err] : {std::pair{stdout_fd, false}, std::pair{stderr_fd, true}}) {
    auto stream = std::make_unique<Stream>();
    stream->fd = fd;
    stream->is_stderr = is_err;
    stream->log = c.log;
    stream->pod = pod.name;
    watch_fd(fd);
    streams_[fd] = std::move(stream);
  }
}

void Kubelet::arm_probes(Container& c, bool initial_delay) {
  const auto now = Clock::now();
  auto schedule = [&](std::optional<ProbeState>& state, const char* field) {
    const Json& p = json_at(c.spec, field);
    if (p.is_null()) {
      state.reset();
      return;
    }
    state = ProbeState{};
    state->spec = &json_at(c.spec, field);
    state->next = now + seconds(initial_delay ? int_field(p, "initialDelaySeconds", 0) : 0);
  };
  schedule(c.readiness, "readinessProbe");
  schedule(c.liveness, "livenessProbe");
  schedule(c.startup, "startupProbe");
  c.startup_done = !c.startup;
  c.next_port_check = now;
}

bool Kubelet::adopt(Pod& pod, Container& c, const RecordedRun& a) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, a.pid, 0));
  // Gone since start() looked, or no longer the process it recorded.
  if (pidfd < 0 || process_start_time(a.pid) != a.start_ticks) {
    if (pidfd >= 0) ::close(pidfd);
    return false;
  }
  const fs::path dir = pod.dir / c.name;
  const int out = open_output_fifo(dir / "stdout");
  const int err = out < 0 ? -1 : open_output_fifo(dir / "stderr");
  if (err < 0) {  // without its output it cannot be supervised: replaced
    for (int fd : {pidfd, out})
      if (fd >= 0) ::close(fd);
    ContainerProcesses procs = a.processes();
    if (procs.kill() > 0) {
      procs.forget_run();
      remains_.push_back(std::move(procs));
    }
    return false;
  }
  c.pid = a.pid;
  c.start_ticks = a.start_ticks;
  c.ever_started = true;
  c.started_at = str(json_at(a.exec, "startedAt"));
  c.started_steady = Clock::now();
  c.restart_count = int_field(a.exec, "restartCount", 0);
  c.waiting_reason.clear();
  c.process = spawn_spec_from_record(a.exec);
  c.cgroup = str(json_at(a.exec, "cgroup"));
  c.tracking_cgroup = str(json_at(a.exec, "trackingCgroup"));
  c.procs = a.processes();
  c.pid_file = dir / "pid";
  c.log = std::make_shared<logs::LogFile>(dir / fmt::format("{}.log", c.restart_count),
                                          options_.log_max_bytes, options_.log_max_files);
  watch_fd(pidfd);
  by_pidfd_[pidfd] = &c;
  watch_output(pod, c, out, err);
  // It has been running: its probes' initial delays are long over.
  arm_probes(c, false);
  if (options_.report)
    options_.report(pod.name, fmt::format("adopted container {} (pid {})", c.name, c.pid), false);
  return true;
}

void Kubelet::begin_stop(const Pod& pod, Container& c, seconds grace) {
  if (c.pid == 0 || c.stopping) return;
  c.stopping = true;
  c.killed = false;
  c.kill_at = Clock::now() + grace;
  c.grace_seconds = static_cast<int>(grace.count());
  c.label = pod.containers.size() > 1 ? fmt::format("pod {}, container {}", pod.name, c.name)
                                      : fmt::format("pod {}", pod.name);
  if (grace.count() == 0) {
    c.procs.kill();
    c.killed = true;
    return;
  }
  // Kubernetes runs the preStop hook, then sends SIGTERM; the grace period covers both.
  const Json& pre_stop = json_at(json_at(c.spec, "lifecycle"), "preStop");
  Container::Hook hook;
  if (const Json& exec = json_at(pre_stop, "exec"); exec.is_object()) {
    SpawnSpec spec = c.process;  // the container's environment and directory
    spec.discard_output = true;
    spec.argv.clear();
    for (const Json& a : json_at(exec, "command")) spec.argv.push_back(str(a));
    hook.kind = "exec";
    // It runs in the container, as in Kubernetes: what it starts is the container's too.
    Result<int> procs =
        c.tracking_cgroup.empty() ? Result<int>(-1) : MemoryCgroups::open_procs(c.tracking_cgroup);
    if (procs.ok()) spec.cgroup_procs_fds[0] = procs.value();
    Result<Spawned> child = spawn_process(spec);
    if (spec.cgroup_procs_fds[0] >= 0) ::close(spec.cgroup_procs_fds[0]);
    if (child.ok()) {
      hook.pid = child.value().pid;
      hook_pids_[hook.pid] = &c;
    } else {
      hook.error = child.error().message;  // reported when the hook is looked at
    }
  } else if (const Json& http = json_at(pre_stop, "httpGet"); http.is_object()) {
    hook.kind = "httpGet";
    hook.done = std::make_shared<std::atomic<bool>>(false);
    hook.outcome = std::make_shared<ProbeOutcome>();
    start_probe({{"httpGet", http}, {"timeoutSeconds", grace.count()}}, pod.ip, c.spec, {},
                hook.done, hook.outcome);
  } else if (const Json& sleep = json_at(pre_stop, "sleep"); sleep.is_object()) {
    hook.kind = "sleep";
    hook.until = Clock::now() + seconds(int_field(sleep, "seconds", 0));
  } else {
    c.procs.signal(SIGTERM);  // no hook (a tcpSocket one does nothing, as in Kubernetes)
    return;
  }
  c.hook = std::move(hook);
}

std::optional<std::string> Kubelet::end_hook(Container& c, bool timed_out) {
  Container::Hook& hook = *c.hook;
  std::optional<std::string> failure;
  if (timed_out) {
    failure = fmt::format("PreStopHook ({}) did not finish within the grace period", hook.kind);
    if (hook.pid > 0) signal_group(hook.pid, SIGKILL);  // reaped by reap(), then forgotten
  } else if (hook.kind == "exec" && hook.exit_code != 0) {
    std::string command;
    for (const Json& a :
         json_at(json_at(json_at(json_at(c.spec, "lifecycle"), "preStop"), "exec"), "command"))
      command += (command.empty() ? "" : " ") + str(a);
    failure = fmt::format(
        "Exec lifecycle hook ([{}]) for Container {:?} failed - error: {}", command, c.name,
        hook.error.empty() ? fmt::format("command '{}' exited with {}", command, hook.exit_code)
                           : hook.error);
  } else if (hook.kind == "httpGet" && !hook.outcome->ok) {
    failure = fmt::format("HTTP lifecycle hook for Container {:?} failed - error: {}", c.name,
                          hook.outcome->message);
  }
  if (hook.pid > 0) hook_pids_.erase(hook.pid);
  c.hook.reset();
  c.procs.signal(SIGTERM);
  return failure;
}

void Kubelet::start_probe(Json probe, const std::string& pod_ip, const Json& container,
                          SpawnSpec exec_base, std::shared_ptr<std::atomic<bool>> done,
                          std::shared_ptr<ProbeOutcome> outcome) {
  // Its own copies: the container may be gone, or restarted, before the attempt ends.
  background_.push_back(
      {done, std::thread([this, probe = std::move(probe), ip = pod_ip, spec = container,
                          base = std::move(exec_base), done, outcome]() mutable {
         *outcome = run_probe(probe, ProbeTarget{ip, &spec, std::move(base), &probe_children_});
         done->store(true);
         wake();
       })});
}

Json Kubelet::status_of(const Pod& pod, const Json& pod_json) const {
  Json statuses = Json::array();
  bool all_ready = true, any_pending = false, all_done = true, any_failed = false;
  for (const auto& cp : pod.containers) {
    const Container& c = *cp;
    Json state;
    if (c.pid != 0) {
      state = {{"running", {{"startedAt", c.started_at}}}};
    } else if (!c.terminated.is_null() && !c.in_backoff) {
      state = {{"terminated", c.terminated}};
    } else {
      Json waiting = {{"reason", c.in_backoff ? "CrashLoopBackOff" : c.waiting_reason}};
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
  auto condition = [&](const char* type, bool value) {
    auto since = pod.condition_since.find(type);
    return Json{{"type", type},
                {"status", value ? "True" : "False"},
                {"lastProbeTime", nullptr},
                {"lastTransitionTime",
                 since == pod.condition_since.end() ? pod.start_time : since->second}};
  };
  const bool ready = all_ready && phase == "Running";
  Json status = {{"phase", phase},
                 {"conditions",
                  {condition("Initialized", true), condition("Ready", ready),
                   condition("ContainersReady", ready), condition("PodScheduled", true)}},
                 {"hostIP", "127.0.0.1"},
                 {"hostIPs", {{{"ip", "127.0.0.1"}}}},
                 {"podIP", pod.ip},
                 {"podIPs", {{{"ip", pod.ip}}}},
                 {"startTime", pod.start_time},
                 {"containerStatuses", statuses},
                 {"qosClass", "BestEffort"}};
  (void)pod_json;
  return status;
}

void Kubelet::adopt_orphans() {
  // Left running for pods that are no longer stored: adopted only to be stopped gracefully by
  // the sync that follows, as a deleted pod is.
  for (auto& [uid, containers] : adoptable_) {
    if (containers.empty()) continue;
    const RecordedRun& first = containers.begin()->second;
    auto pod = std::make_unique<Pod>();
    pod->uid = uid;
    pod->ns = first.ns;
    pod->name = first.pod;
    pod->ip = str(json_at(first.exec, "podIP"));
    pod->grace_seconds = int_field(first.exec, "gracePeriodSeconds", 30);
    pod->dir = options_.pods_dir / logs::pod_dir_name(pod->ns, pod->name, uid);
    for (const auto& [name, a] : containers) {
      auto c = std::make_unique<Container>();
      c->name = name;
      c->pod_name = pod->name;
      c->spec = Json{{"name", name}};
      if (adopt(*pod, *c, a)) pod->containers.push_back(std::move(c));
    }
    if (!pod->containers.empty()) pods_.emplace(uid, std::move(pod));
  }
  adoptable_.clear();
  exited_unsupervised_.clear();
}

void Kubelet::sync() {
  std::vector<PendingEvent> events;
  auto event = [&](const Json& object, const char* type, const char* reason, std::string message) {
    events.push_back({object, type, reason, std::move(message)});
  };
  // The pod an event is about, also when it is no longer stored.
  auto pod_ref = [](const Pod& pod) {
    return Json{{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata", {{"name", pod.name}, {"namespace", pod.ns}, {"uid", pod.uid}}}};
  };
  std::map<std::string, Json> wanted;  // uid -> pod
  // Uids of stored pods, also while stopping: their logs stay. A Terminating pod is not one:
  // its delete ends once its processes are gone, also when that is during `down`.
  std::set<std::string> stored;
  const auto now = Clock::now();
  struct Start {
    Pod* pod;
    Container* container;
    const Json* pod_json;
  };
  std::vector<Start> starts;  // decided under the store's lock, started after it
  {
    std::lock_guard<std::mutex> lock(store_mutex_);
    for (Json& p : store_.list("pods", "")) {
      const bool terminating = !json_at(p["metadata"], "deletionTimestamp").is_null();
      if (!terminating) stored.insert(str(p["metadata"]["uid"]));
      if (!stopping_) wanted.emplace(str(p["metadata"]["uid"]), std::move(p));
    }
    for (auto& [uid, pod_json] : wanted) {
      auto it = pods_.find(uid);
      if (it == pods_.end()) {
        auto pod = std::make_unique<Pod>();
        const Json& meta = pod_json["metadata"];
        const Json& spec = pod_json["spec"];
        pod->uid = uid;
        pod->ns = str(meta["namespace"]);
        pod->name = str(meta["name"]);
        pod->restart_policy = spec.value("restartPolicy", "Always");
        pod->grace_seconds = int_field(spec, "terminationGracePeriodSeconds", 30);
        pod->dir = options_.pods_dir / logs::pod_dir_name(pod->ns, pod->name, uid);
        pod->start_time = store::rfc3339_now();
        const Json& status = json_at(pod_json, "status");
        // Containers a previous control plane left running keep their pod's IP: they are
        // bound to it.
        std::map<std::string, RecordedRun> leftovers = std::move(adoptable_[uid]);
        const std::map<std::string, Json> exited = std::move(exited_unsupervised_[uid]);
        adoptable_.erase(uid);
        exited_unsupervised_.erase(uid);
        if (!leftovers.empty()) {
          pod->ip = str(json_at(leftovers.begin()->second.exec, "podIP"));
        } else {
          const std::string old_ip = str(json_at(status, "podIP"));
          bool ip_free = !old_ip.empty();
          for (const auto& [u, other] : pods_) ip_free = ip_free && other->ip != old_ip;
          if (ip_free) {
            ip_free = !host_addresses_.get().count(net::parse_ipv4(old_ip));
          }
          pod->ip = ip_free ? old_ip : allocate_ip();
        }
        bool adopted = false;
        for (const Json& c : json_at(spec, "containers")) {
          auto container = std::make_unique<Container>();
          container->name = str(c["name"]);
          container->pod_name = pod->name;
          container->spec = c;
          for (const Json& s : json_at(status, "containerStatuses"))
            if (str(json_at(s, "name")) == container->name) {
              container->restart_count = int_field(s, "restartCount", 0);
              // How the previous run ended stays known across control planes, as lastState.
              const Json& last = json_at(json_at(s, "lastState"), "terminated");
              if (last.is_object()) container->last_terminated = last;
            }
          auto left = leftovers.find(container->name);
          if (left != leftovers.end() && adopt(*pod, *container, left->second)) {
            adopted = true;
          } else if (left != leftovers.end() || exited.count(container->name)) {
            // It ended while nobody supervised it: a restart, as the policy says.
            auto how = exited.find(container->name);
            container->ever_started = true;
            container->terminated = container->last_terminated =
                how != exited.end() ? how->second : exit_unknown("", 0);
          }
          pod->containers.push_back(std::move(container));
        }
        if (adopted) {
          pod->volumes_prepared = true;
          const std::string since = str(json_at(status, "startTime"));
          if (!since.empty()) pod->start_time = since;
          for (const Json& cond : json_at(status, "conditions")) {
            pod->condition_value[str(json_at(cond, "type"))] = json_at(cond, "status") == "True";
            pod->condition_since[str(json_at(cond, "type"))] =
                str(json_at(cond, "lastTransitionTime"));
          }
        } else {
          event(pod_json, "Normal", "Scheduled",
                fmt::format("Successfully assigned {}/{} to localhost", pod->ns, pod->name));
        }
        it = pods_.emplace(uid, std::move(pod)).first;
      }
      Pod& pod = *it->second;
      if (!json_at(pod_json["metadata"], "deletionTimestamp").is_null() && !pod.deleting) {
        pod.deleting = true;
        const Json& grace = json_at(pod_json["metadata"], "deletionGracePeriodSeconds");
        if (grace.is_number_integer()) pod.grace_seconds = grace.get<int>();
        for (auto& c : pod.containers) {
          if (c->pid == 0) continue;
          event(pod_json, "Normal", "Killing", fmt::format("Stopping container {}", c->name));
          begin_stop(pod, *c, seconds(pod.grace_seconds));
        }
      }
      // A stop that arrives during a long sync (hundreds of pods starting) starts nothing more:
      // `down` would otherwise wait for every start first.
      if (pod.deleting || stopping_) continue;
      for (auto& cp : pod.containers) {
        Container& c = *cp;
        if (c.pid != 0 || c.stopping) continue;
        if (!c.terminated.is_null() && !c.in_backoff) {
          // Exited: restart as the policy says, after the back-off.
          const int code = int_field(c.terminated, "exitCode", 0);
          const bool restart =
              pod.restart_policy == "Always" || (pod.restart_policy == "OnFailure" && code != 0);
          if (!restart) continue;
          if (now - c.started_steady >= std::chrono::minutes(10)) c.backoff_step = 0;
          const milliseconds delay =
              c.backoff_step == 0
                  ? milliseconds(0)
                  : std::min(options_.backoff_max,
                             options_.backoff_initial * (1 << std::min(c.backoff_step - 1, 20)));
          ++c.backoff_step;
          c.backoff_delay = delay;
          c.in_backoff = true;
          c.restart_at = now + delay;
          if (delay.count() > 0)
            event(pod_json, "Warning", "BackOff",
                  fmt::format("Back-off restarting failed container {} in pod {}_{}({})", c.name,
                              pod.name, pod.ns, pod.uid));
        }
        if (c.in_backoff && now < c.restart_at) continue;
        starts.push_back({&pod, &c, &pod_json});
      }
    }
    sync_volumes(wanted);
  }

  // Containers start without the store's lock: forks, FIFOs, cgroups and exec.json take time
  // that API requests and controllers would otherwise wait for.
  for (const auto& [pod_ptr, container, pod_json_ptr] : starts) {
    if (stopping_) break;  // as above: `down` waits for no more starts
    Pod& pod = *pod_ptr;
    Container& c = *container;
    const Json& pod_json = *pod_json_ptr;
    const bool restarting = c.in_backoff;
    const std::string before = c.waiting_reason + c.waiting_message;
    if (restarting) ++c.restart_count;
    if (!start_container(pod, c, pod_json)) {
      if (restarting) --c.restart_count;
      if (c.waiting_reason + c.waiting_message != before)
        event(pod_json, "Warning", "Failed",
              c.waiting_reason == "CreateContainerConfigError" ? "Error: " + c.waiting_message
                                                               : c.waiting_message);
      continue;
    }
    event(pod_json, "Normal", "Created", fmt::format("Created container {}", c.name));
    event(pod_json, "Normal", "Started", fmt::format("Started container {}", c.name));
    if (!c.limit_not_enforced.empty())
      event(pod_json, "Warning", "MemoryLimitNotEnforced", std::move(c.limit_not_enforced));
    c.limit_not_enforced.clear();
    for (std::string& w : c.volume_warnings)
      event(pod_json, "Warning", "HostPathOutsideProject", std::move(w));
    c.volume_warnings.clear();
    if (options_.report)
      options_.report(pod.name, fmt::format("started container {} (pid {})", c.name, c.pid), false);
  }

  adopt_orphans();
  // The run directories of pods deleted while no control plane ran (or before this one could
  // remove them) hold nothing anyone can ask for.
  if (!run_dirs_collected_ && !stopping_) {
    run_dirs_collected_ = true;
    collect_run_dirs(wanted);
  }
  // Without a cgroup, the processes of each container are looked for in /proc: remembered now,
  // they are still known once their parent is gone and they are reparented.
  if (!tracking_ || !tracking_->available()) {
    std::optional<std::vector<ProcessEntry>> all;
    for (auto& [uid, pod] : pods_)
      for (auto& c : pod->containers)
        if (c->pid != 0) {
          if (!all) all = list_processes();
          c->procs.remember(*all);
        }
  }

  // Pods no longer stored (deleted, or everything on `down`) are stopped, then forgotten.
  for (auto it = pods_.begin(); it != pods_.end();) {
    Pod& pod = *it->second;
    if (!wanted.count(pod.uid)) {
      for (auto& c : pod.containers)
        if (c->pid != 0 && !c->stopping) begin_stop(pod, *c, seconds(pod.grace_seconds));
      const bool gone = std::all_of(pod.containers.begin(), pod.containers.end(),
                                    [](const auto& c) { return c->pid == 0; });
      if (gone) {
        // A deleted pod's logs go with it; those of pods still stored stay for the next `up`
        // (`logs --previous`).
        if (!stored.count(pod.uid)) {
          if (stopping_) {  // a Terminating pod's delete ends here, as in the status step below
            std::lock_guard<std::mutex> lock(store_mutex_);
            Result<Json> p = store_.get({"pods", pod.ns, pod.name});
            if (p.ok() && str(p.value()["metadata"]["uid"]) == pod.uid)
              (void)store_.remove({"pods", pod.ns, pod.name});
          }
          std::error_code ec;
          fs::remove_all(pod.dir, ec);
        }
        it = pods_.erase(it);
        continue;
      }
    }
    ++it;
  }

  // preStop hooks that ended, and grace periods that ran out.
  for (auto& [uid, pod] : pods_) {
    for (auto& cp : pod->containers) {
      Container& c = *cp;
      if (c.pid == 0 || !c.stopping || c.killed) continue;
      if (c.hook) {
        const bool ended = (c.hook->kind == "exec" && c.hook->pid == 0) ||
                           (c.hook->kind == "sleep" && now >= c.hook->until) ||
                           (c.hook->kind == "httpGet" && c.hook->done->load());
        if (!ended && now < c.kill_at) continue;
        if (std::optional<std::string> failure = end_hook(c, !ended))
          event(pod_ref(*pod), "Warning", "FailedPreStopHook", *failure);
        // A hook that used the whole grace period leaves SIGTERM two more seconds, as the
        // kubelet gives.
        if (!ended) c.kill_at = now + seconds(2);
        continue;
      }
      if (now >= c.kill_at) {
        const int n = c.procs.kill();
        c.killed = true;
        if (n > 0)
          note_kill(
              c, fmt::format("{}: {} process{} did not exit within {}s and {} killed", c.label, n,
                             n == 1 ? "" : "es", c.grace_seconds, n == 1 ? "was" : "were"));
        event(pod_ref(*pod), "Warning", "ExceededGracePeriod",
              "Container runtime did not kill the pod within specified grace period.");
      }
    }
  }

  // Probes, each attempt on a thread of its own (it may take up to its timeout): here their
  // outcomes are taken and the next attempts started. Threads that are done are joined.
  std::erase_if(background_, [](Background& t) {
    if (!t.done->load()) return false;
    t.thread.join();
    return true;
  });
  for (auto& [uid, pod] : pods_) {
    if (pod->deleting || !wanted.count(uid)) continue;
    for (auto& cp : pod->containers) {
      Container& c = *cp;
      if (c.pid == 0 || c.stopping) continue;
      const Json& pod_json = wanted[uid];
      // The outcome of an attempt that ended since the last look; the next attempt starts when
      // its period is up and none is in progress (periods count from an attempt's start).
      auto step = [&](ProbeState& p) -> std::optional<ProbeOutcome> {
        std::optional<ProbeOutcome> ended;
        if (p.done && p.done->load()) {
          ended = std::move(*p.outcome);
          p.done.reset();
          p.outcome.reset();
        }
        if (!p.done && now >= p.next) {
          p.done = std::make_shared<std::atomic<bool>>(false);
          p.outcome = std::make_shared<ProbeOutcome>();
          p.next = now + seconds(p.period());
          start_probe(*p.spec, pod->ip, c.spec, c.process, p.done, p.outcome);
        }
        return ended;
      };
      auto kill_for = [&](const char* which, const std::string& message) {
        event(pod_json, "Warning", "Unhealthy", fmt::format("{} probe failed: {}", which, message));
        event(pod_json, "Normal", "Killing",
              fmt::format("Container {} failed {} probe, will be restarted", c.name,
                          std::string(which) == "Liveness" ? "liveness" : "startup"));
        begin_stop(*pod, c, seconds(pod->grace_seconds));
      };
      if (c.startup && !c.startup_done) {
        if (const std::optional<ProbeOutcome> r = step(*c.startup)) {
          if (r->ok) {
            c.startup_done = true;
          } else if (++c.startup->failures >= c.startup->failure_threshold()) {
            kill_for("Startup", r->message);
            continue;
          }
        }
      }
      if (!c.startup_done) continue;
      if (c.liveness) {
        if (const std::optional<ProbeOutcome> r = step(*c.liveness); r && !r->ok) {
          if (++c.liveness->failures >= c.liveness->failure_threshold()) {
            c.liveness->failures = 0;
            kill_for("Liveness", r->message);
            continue;
          }
        } else if (r) {
          c.liveness->failures = 0;
        }
      }
      if (c.readiness) {
        const std::optional<ProbeOutcome> r = step(*c.readiness);
        if (!r) continue;
        if (r->ok) {
          c.readiness->failures = 0;
          if (++c.readiness->successes >= c.readiness->success_threshold()) c.ready = true;
        } else {
          c.readiness->successes = 0;
          if (c.ready || c.readiness->failures == 0)
            event(pod_json, "Warning", "Unhealthy", "Readiness probe failed: " + r->message);
          if (++c.readiness->failures >= c.readiness->failure_threshold()) c.ready = false;
        }
        continue;
      }
      // No readinessProbe: ready once the first declared port accepts connections (ticketctl's
      // documented default), or at once when it declares none.
      const Json& ports = json_at(c.spec, "ports");
      if (c.ready) continue;
      if (!ports.is_array() || ports.empty()) {
        c.ready = true;
        continue;
      }
      if (now < c.next_port_check) continue;
      const int port = json_at(ports[0], "containerPort").get<int>();
      c.ready = tcp_probe(pod->ip, port, milliseconds(200)).ok;
      c.next_port_check = now + milliseconds(c.ready ? 0 : 50);
    }
  }

  // Status and events.
  bool wrote = false;
  {
    std::lock_guard<std::mutex> lock(store_mutex_);
    // A Terminating pod whose processes are all gone is removed: the end of a graceful delete.
    for (auto& [uid, pod] : pods_) {
      if (!pod->deleting || !wanted.count(uid)) continue;
      const bool gone = std::all_of(pod->containers.begin(), pod->containers.end(),
                                    [](const auto& c) { return c->pid == 0; });
      if (!gone) continue;
      Result<Json> stored = store_.get({"pods", pod->ns, pod->name});
      if (stored.ok() && str(stored.value()["metadata"]["uid"]) == uid &&
          store_.remove({"pods", pod->ns, pod->name}).ok())
        wrote = true;
    }
    for (auto& [uid, pod] : pods_) {
      auto w = wanted.find(uid);
      if (w == wanted.end() || pod->deleting) continue;
      Json status = status_of(*pod, w->second);
      // Conditions keep the time they last changed.
      for (Json& cond : status["conditions"]) {
        const std::string type = str(cond["type"]);
        const bool value = cond["status"] == "True";
        auto known = pod->condition_value.find(type);
        if (known == pod->condition_value.end() || known->second != value) {
          pod->condition_value[type] = value;
          pod->condition_since[type] = store::rfc3339_now();
        }
        cond["lastTransitionTime"] = pod->condition_since[type];
      }
      if (status == pod->last_status) continue;
      if (store_.update_status({"pods", pod->ns, pod->name}, status).ok()) {
        pod->last_status = std::move(status);
        wrote = true;
      }
    }
    for (PendingEvent& e : events)
      events::record_event(store_, e.object, e.type, e.reason, std::move(e.message), "kubelet");
    wrote = wrote || !events.empty();
  }
  if (wrote && options_.on_status_written) options_.on_status_written();
}

}  // namespace ticketctl::supervisor
