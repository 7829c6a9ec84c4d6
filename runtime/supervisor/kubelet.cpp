// The kubelet's executor: its thread (epoll over output FIFOs, a SIGCHLD signalfd, pidfds of
// adopted containers, wake-ups), reaping, and log capture. What to do with each pod is decided
// by the planner (pod_plan.h) in sync() (kubelet_sync.cpp); starting containers is
// kubelet_start.cpp, stops and probes kubelet_stop.cpp, adoption kubelet_adopt.cpp.

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>

#include "runtime/core/files.h"
#include "runtime/core/oplog.h"
#include "runtime/core/rfc3339.h"
#include "runtime/supervisor/kubelet_internal.h"

namespace ticketctl::supervisor {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using kubelet_detail::int_field;
using std::chrono::milliseconds;
using std::chrono::seconds;

Kubelet::Kubelet(store::Shared& store, KubeletOptions options)
    : store_(store),
      options_(std::move(options)),
      resolver_(options_.project),
      backoff_{options_.backoff_initial, options_.backoff_max} {}

Kubelet::~Kubelet() {
  stop();
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
    if (hook_pids_.count(pid)) {
      hook_exited(pid, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
      continue;
    }
    auto it = by_pid_.find(pid);
    if (it == by_pid_.end()) continue;
    Container& c = *it->second;
    by_pid_.erase(it);
    finish(c, plan::exit_state(c.started_at, pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                               WIFSIGNALED(status) ? WTERMSIG(status) : 0, rfc3339::now_seconds()));
  }
}

void Kubelet::adopted_exited(int pidfd) {
  auto it = by_pidfd_.find(pidfd);
  Container& c = *it->second;
  by_pidfd_.erase(it);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, pidfd, nullptr);
  ::close(pidfd);
  // Only a parent learns how a process ended: the container's shim wrote it down.
  finish(c, kubelet_detail::recorded_exit(c.pid_file.parent_path(), c.started_at, c.pid));
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
  forget_hook(c, true);
  kubelet_detail::mark_oom_kill(terminated, c.cgroup);
  if (!c.cgroup.empty()) spent_cgroups_.push_back(std::move(c.cgroup));
  c.cgroup.clear();
  const int code = int_field(terminated, "exitCode", 0);
  // What the run wrote is in its log file before its pid file goes: a follower that sees the
  // pid file gone has read everything.
  std::vector<int> fds;
  for (auto& [fd, s] : streams_)
    if (s->log == c.log) fds.push_back(fd);
  for (int fd : fds) drain(fd);
  c.log->flush();
  std::error_code ec;
  fs::remove(c.pid_file, ec);
  plan::mark_exited(c, std::move(terminated));
  oplog::info("kubelet", "pod {}: container {} exited with code {}", c.pod_name, c.name, code);
  if (options_.report)
    options_.report(c.pod_name, fmt::format("container {} exited with code {}", c.name, code),
                    false);
}

}  // namespace ticketctl::supervisor
