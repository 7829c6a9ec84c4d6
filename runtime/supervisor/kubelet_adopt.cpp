// Adoption: the runs a previous control plane recorded (pid file, exec.json, the shim's exit
// status), which this kubelet adopts when they still run, reports as ended when they do not, and
// which `down` stops when no control plane runs at all. What to report is the planner's
// (pod_plan.h); reading the records and the processes is here.

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "runtime/core/rfc3339.h"
#include "runtime/logs/pod_logs.h"
#include "runtime/supervisor/kubelet_internal.h"
#include "runtime/supervisor/process.h"

namespace ticketctl::supervisor {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using kubelet_detail::int_field;
using kubelet_detail::mark_oom_kill;
using kubelet_detail::recorded_exit;
using kubelet_detail::str;
using std::chrono::milliseconds;
using std::chrono::seconds;

Json kubelet_detail::recorded_exit(const fs::path& run_dir, const std::string& started_at,
                                   pid_t pid) {
  std::ifstream in(run_dir / "exit");
  std::stringstream record;
  record << in.rdbuf();
  return plan::recorded_exit(record.str(), started_at, pid, rfc3339::now_seconds());
}

void kubelet_detail::mark_oom_kill(Json& terminated, const fs::path& cgroup) {
  if (cgroup.empty()) return;
  plan::mark_oom_kill(terminated, MemoryCgroups::oom_kills(cgroup));
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
    if (plan::run_adoptable(r.alive, r.exec)) {
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
  plan::mark_adopted(c, a.pid, a.exec, Clock::now());
  c.start_ticks = a.start_ticks;
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
  if (options_.report)
    options_.report(pod.name, fmt::format("adopted container {} (pid {})", c.name, c.pid), false);
  return true;
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

}  // namespace ticketctl::supervisor
