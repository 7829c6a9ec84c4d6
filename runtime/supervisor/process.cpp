#include "runtime/supervisor/process.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ticketctl::supervisor {
namespace {

// Not instrumented by ASan: the child runs on a stack of its own (clone_child), where ASan's
// bookkeeping before a noreturn call (_exit) warns on the child's stderr, which for
// `ticketctl exec` is the user's terminal.
#define TICKETCTL_CHILD_CODE __attribute__((no_sanitize("address")))

[[noreturn]] TICKETCTL_CHILD_CODE void child_fail(int report_fd, int err) {
  const ssize_t n = ::write(report_fd, &err, sizeof err);
  (void)n;
  ::_exit(127);
}

// What the child needs, all prepared before it exists: it runs on the parent's memory (below).
struct ChildSetup {
  const SpawnSpec& spec;
  const char* executable;
  char* const* argv;
  char* const* envp;
  int out, err, report;  // what becomes stdout/stderr (-1: open the FIFO), the report pipe's end
  bool fifos;
};

// The child between clone and exec: async-signal-safe calls only, nothing allocated, nothing of
// the parent's written (its variables are copied to this stack first).
TICKETCTL_CHILD_CODE int child_main(void* arg) {
  const ChildSetup& c = *static_cast<const ChildSetup*>(arg);
  const SpawnSpec& spec = c.spec;
  int out = c.out, err = c.err;
  const int report = c.report;
  // Handlers first, then the mask the parent blocked everything with: a signal must never run
  // one of the control plane's handlers here, on its memory.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; ++s) ::sigaction(s, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (spec.session == SpawnSpec::Session::New)
    ::setsid();
  else if (spec.session == SpawnSpec::Session::OwnGroup)
    ::setpgid(0, 0);
  const int devnull = ::open("/dev/null", O_RDWR);
  if (devnull < 0 || (!spec.inherit_stdin && ::dup2(devnull, 0) < 0)) child_fail(report, errno);
  if (spec.inherit_output) {
    out = 1;
    err = 2;
  } else if (spec.discard_output) {
    out = err = devnull;
  } else if (c.fifos) {
    // Read-write: the container is a reader of its own output, so a write never fails for
    // want of one (the open does not wait for a writer either).
    out = ::open(spec.stdout_fifo.c_str(), O_RDWR | O_CLOEXEC);
    err = ::open(spec.stderr_fifo.c_str(), O_RDWR | O_CLOEXEC);
  }
  if (out < 0 || err < 0 || (out != 1 && ::dup2(out, 1) < 0) || (err != 2 && ::dup2(err, 2) < 0))
    child_fail(report, errno);
  for (int procs : spec.cgroup_procs_fds)
    if (procs >= 0 && ::write(procs, "0\n", 2) != 2) child_fail(report, errno);
  // Only the report pipe survives past stdio (as fd 3, closed by exec); nothing else the
  // control plane has open (API sockets, the store) may leak into a pod.
  if (::dup2(report, 3) < 0) child_fail(report, errno);
  // A shim passes it on to the container's exec (shim.c), so it stays open across its own.
  if (spec.shim.empty()) ::fcntl(3, F_SETFD, FD_CLOEXEC);
  if (::syscall(SYS_close_range, 4U, ~0U, 0U) != 0)
    for (int fd = 4; fd < 65536; ++fd) ::close(fd);
  if (!spec.working_dir.empty() && ::chdir(spec.working_dir.c_str()) != 0) child_fail(3, errno);
  ::execve(c.executable, c.argv, c.envp);
  child_fail(3, errno);
}

// Starts child_main as posix_spawn does: sharing this process's memory until it execs or exits
// (CLONE_VM | CLONE_VFORK), so nothing of the control plane's memory is copied. A fork() copied
// the page tables of a control plane with hundreds of pods for every container start. Every
// signal is blocked meanwhile; the calling thread waits for the exec.
pid_t clone_child(ChildSetup& setup) {
  constexpr size_t kStack = 256 * 1024;
  void* stack = ::mmap(nullptr, kStack, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return -1;
  sigset_t all, before;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &before);
  const pid_t pid = ::clone(child_main, static_cast<char*>(stack) + kStack,
                            CLONE_VM | CLONE_VFORK | SIGCHLD, &setup);
  const int e = errno;
  ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
  ::munmap(stack, kStack);
  errno = e;
  return pid;
}

// /proc/PID/stat from field 3 (state) on; empty when the process is gone. The command name
// before it may hold spaces and parentheses, so the fields start after the last ')'.
std::string stat_fields(const std::filesystem::path& stat_file) {
  std::ifstream in(stat_file);
  std::string stat;
  if (!std::getline(in, stat)) return {};
  const size_t close = stat.rfind(')');
  return close == std::string::npos || close + 2 > stat.size() ? std::string()
                                                               : stat.substr(close + 2);
}

}  // namespace

Json spawn_record(const SpawnSpec& spec) {
  Json record = {
      {"argv", spec.argv}, {"workingDir", spec.working_dir.string()}, {"env", Json::array()}};
  for (const auto& [name, value] : spec.env)
    record["env"].push_back({{"name", name}, {"value", value}});
  return record;
}

SpawnSpec spawn_spec_from_record(const Json& record) {
  auto text = [](const Json& v) { return v.is_string() ? v.get<std::string>() : std::string(); };
  SpawnSpec spec;
  for (const Json& arg : json_at(record, "argv")) spec.argv.push_back(text(arg));
  for (const Json& e : json_at(record, "env"))
    spec.env.emplace_back(text(json_at(e, "name")), text(json_at(e, "value")));
  spec.working_dir = text(json_at(record, "workingDir"));
  return spec;
}

Result<std::string> find_program(const std::string& name, const std::string& path,
                                 const std::filesystem::path& working_dir) {
  if (name.find('/') != std::string::npos) {
    const std::filesystem::path p =
        name.front() == '/' ? std::filesystem::path(name) : working_dir / name;
    if (::access(p.c_str(), X_OK) != 0)
      return Error{ErrorCode::NotFound, fmt::format("exec: {:?}: {}", name, std::strerror(errno))};
    return p.string();
  }
  std::stringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::filesystem::path p =
        std::filesystem::path(dir.empty() ? std::string_view(".") : dir) / name;
    if (p.is_relative()) p = working_dir / p;
    // A directory on PATH with the program's name is not the program.
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0)
      return p.string();
  }
  return Error{ErrorCode::NotFound,
               fmt::format("exec: {:?}: executable file not found in $PATH", name)};
}

Result<Spawned> spawn_process(const SpawnSpec& spec, int* exec_errno) {
  if (exec_errno) *exec_errno = 0;
  if (spec.argv.empty()) return Error{ErrorCode::Invalid, "no command to run"};
  std::string path = "/usr/local/bin:/usr/bin:/bin";  // a container's PATH when none is set
  for (const auto& [k, v] : spec.env)
    if (k == "PATH") path = v;
  Result<std::string> program = find_program(spec.argv.front(), path, spec.working_dir);
  if (!program.ok()) {
    if (exec_errno) *exec_errno = ENOENT;
    return program.error();
  }

  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<char*> argv, envp;
  const std::string shim = spec.shim.string(), run_dir = spec.run_dir.string();
  if (!spec.shim.empty())
    for (const char* a : {shim.c_str(), run_dir.c_str(), program.value().c_str()})
      argv.push_back(const_cast<char*>(a));
  for (const std::string& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const char* executable = spec.shim.empty() ? program.value().c_str() : shim.c_str();
  std::vector<std::string> env_strings;
  env_strings.reserve(spec.env.size());
  for (const auto& [k, v] : spec.env) env_strings.push_back(fmt::format("{}={}", k, v));
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  // out/err: [0] the end this process reads (-1 with discard_output), [1] what the child gets
  // as stdout/stderr (-1 for a FIFO, which the child opens itself, or /dev/null).
  int out[2] = {-1, -1}, err[2] = {-1, -1}, report[2] = {-1, -1};
  auto close_all = [&] {
    for (int fd : {out[0], out[1], err[0], err[1], report[0], report[1]})
      if (fd >= 0) ::close(fd);
  };
  const bool fifos = !spec.stdout_fifo.empty() && !spec.stderr_fifo.empty();
  const bool own_output = !spec.discard_output && !spec.inherit_output;
  for (auto [ends, fifo] : {std::pair{out, &spec.stdout_fifo}, std::pair{err, &spec.stderr_fifo}}) {
    if (!own_output) continue;
    if (fifos) ::unlink(fifo->c_str());
    const bool made =
        fifos ? ::mkfifo(fifo->c_str(), 0600) == 0 && (ends[0] = open_output_fifo(*fifo)) >= 0
              : ::pipe2(ends, O_CLOEXEC) == 0;
    if (!made) {
      const int e = errno;
      close_all();
      return Error{ErrorCode::Internal, fifos ? fmt::format("cannot make the output FIFO {}: {}",
                                                            fifo->string(), std::strerror(e))
                                              : fmt::format("pipe failed: {}", std::strerror(e))};
    }
  }
  if (::pipe2(report, O_CLOEXEC) != 0) {
    close_all();
    return Error{ErrorCode::Internal, "pipe failed"};
  }
  ChildSetup setup{.spec = spec,
                   .executable = executable,
                   .argv = argv.data(),
                   .envp = envp.data(),
                   .out = out[1],
                   .err = err[1],
                   .report = report[1],
                   .fifos = fifos};
  const pid_t pid = clone_child(setup);
  if (pid < 0) {
    const int e = errno;
    close_all();
    return Error{ErrorCode::Internal, fmt::format("cannot start a process: {}", std::strerror(e))};
  }
  for (int fd : {out[1], err[1], report[1]})
    if (fd >= 0) ::close(fd);
  // The report pipe closes on a successful exec; an errno arrives when the child could not run.
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    if (exec_errno) *exec_errno = child_errno;
    ::waitpid(pid, nullptr, 0);
    for (int fd : {out[0], err[0]})
      if (fd >= 0) ::close(fd);
    if (child_errno == ENOENT && ::access(spec.working_dir.c_str(), F_OK) != 0)
      return Error{ErrorCode::NotFound, fmt::format("chdir to {}: {}", spec.working_dir.string(),
                                                    std::strerror(child_errno))};
    return Error{ErrorCode::Internal,
                 fmt::format("exec: {:?}: {}", spec.argv.front(), std::strerror(child_errno))};
  }
  if (own_output && !fifos) {
    ::fcntl(out[0], F_SETFL, O_NONBLOCK);
    ::fcntl(err[0], F_SETFL, O_NONBLOCK);
    ::fcntl(out[0], F_SETPIPE_SZ, 1 << 20);
  }
  return Spawned{pid, out[0], err[0]};
}

int open_output_fifo(const std::filesystem::path& fifo) {
  // O_RDONLY|O_NONBLOCK opens at once, with or without a writer.
  const int fd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  // A chatty pod should not stall on a full 64 KiB pipe between two reads (best effort: the
  // system's pipe-max-size may refuse).
  if (fd >= 0) ::fcntl(fd, F_SETPIPE_SZ, 1 << 20);
  return fd;
}

bool signal_group(pid_t pgid, int sig) {
  return pgid > 0 && ::kill(-pgid, sig) == 0;
}

unsigned long long process_start_time(pid_t pid) {
  std::istringstream fields(stat_fields(fmt::format("/proc/{}/stat", pid)));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i)
    if (i == 22) return std::stoull(field);
  return 0;
}

Result<Spawned> ChildExits::spawn(const SpawnSpec& spec) {
  std::lock_guard<std::mutex> lock(mutex_);
  Result<Spawned> child = spawn_process(spec);
  if (child.ok()) children_.emplace(child.value().pid, std::nullopt);
  return child;
}

bool ChildExits::collected(pid_t pid, int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = children_.find(pid);
  if (it == children_.end()) return false;
  it->second = status;
  changed_.notify_all();
  return true;
}

std::optional<int> ChildExits::wait(pid_t pid, std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    auto it = children_.find(pid);
    if (it == children_.end()) return std::nullopt;
    if (!it->second) {
      // The reaper may be blocked, or gone (stop()): collect it here. ECHILD means the reaper
      // has it and records it once it holds the lock.
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) it->second = status;
    }
    if (it->second) {
      const int status = *it->second;
      children_.erase(it);
      return status;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    // Short waits: the reaper's notification ends them early, a reaper that is gone does not.
    changed_.wait_until(
        lock, std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(20)));
  }
}

void ChildExits::forget(pid_t pid) {
  std::lock_guard<std::mutex> lock(mutex_);
  children_.erase(pid);
}

}  // namespace ticketctl::supervisor
