#include "runtime/api/exec_process.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "runtime/supervisor/process.h"

namespace ticketctl::api {
namespace {

[[noreturn]] void child_fail(int report_fd, int err) {
  const ssize_t n = ::write(report_fd, &err, sizeof err);
  (void)n;
  ::_exit(127);
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

Result<ExecProcess> start_exec(const ExecSpec& spec, int& exit_code) {
  exit_code = 126;
  if (spec.argv.empty()) return Error{ErrorCode::Invalid, "no command to run"};
  std::string path = "/usr/local/bin:/usr/bin:/bin";  // a container's PATH when none is set
  for (const auto& [k, v] : spec.env)
    if (k == "PATH") path = v;
  Result<std::string> program = supervisor::find_program(spec.argv[0], path, spec.working_dir);
  if (!program.ok()) {
    exit_code = 127;
    return program.error();
  }
  // Prepared before the clone: after it the child makes async-signal-safe calls only.
  std::vector<char*> argv, envp;
  for (const std::string& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : spec.env) env_strings.push_back(k + "=" + v);
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string cwd = spec.working_dir.string();

  // [0]: this side's end, [1]: the child's. A TTY uses the master for everything.
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, report[2] = {-1, -1};
  int slave = -1;
  auto close_all = [&] {
    for (int* fd :
         {&in[0], &in[1], &out[0], &out[1], &err[0], &err[1], &report[0], &report[1], &slave})
      close_fd(*fd);
  };
  auto fail = [&](const char* what) -> Error {
    const int e = errno;
    close_all();
    return Error{ErrorCode::Internal, fmt::format("exec: {}: {}", what, std::strerror(e))};
  };
  if (spec.tty) {
    out[0] = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (out[0] < 0 || ::grantpt(out[0]) != 0 || ::unlockpt(out[0]) != 0) return fail("openpt");
    char name[128];
    if (::ptsname_r(out[0], name, sizeof name) != 0) return fail("ptsname");
    slave = ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) return fail("open pty");
    in[0] = ::fcntl(out[0], F_DUPFD_CLOEXEC, 0);
    if (in[0] < 0) return fail("dup");
    if (spec.columns > 0 && spec.rows > 0) resize_tty(out[0], spec.columns, spec.rows);
  } else {
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) return fail("pipe");
    if (spec.open_stdin) {
      if (::pipe2(in, O_CLOEXEC) != 0) return fail("pipe");
      std::swap(in[0], in[1]);  // this side writes, the command reads
    }
    if (!spec.open_stdin && (in[1] = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
      return fail("/dev/null");
  }
  if (::pipe2(report, O_CLOEXEC) != 0) return fail("pipe");

  int pidfd = -1;
  clone_args args{};
  args.flags = CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uintptr_t>(&pidfd);
  args.exit_signal = 0;  // no SIGCHLD: waitpid(-1) without __WCLONE does not see this child
  const long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) return fail("clone3");
  if (pid == 0) {
    ::setsid();
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; ++s) ::sigaction(s, &dfl, nullptr);
    const int r = report[1];
    if (spec.tty) {
      if (::ioctl(slave, TIOCSCTTY, 0) != 0) child_fail(r, errno);
      for (int fd = 0; fd < 3; ++fd)
        if (::dup2(slave, fd) < 0) child_fail(r, errno);
    } else if (::dup2(in[1], 0) < 0 || ::dup2(out[1], 1) < 0 || ::dup2(err[1], 2) < 0) {
      child_fail(r, errno);
    }
    // Only stdio survives: nothing the control plane has open may leak into the command.
    if (::dup2(r, 3) < 0) child_fail(r, errno);
    ::fcntl(3, F_SETFD, FD_CLOEXEC);
    if (::syscall(SYS_close_range, 4U, ~0U, 0U) != 0)
      for (int fd = 4; fd < 65536; ++fd) ::close(fd);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) child_fail(3, errno);
    // The kernel makes an exec'd child report with SIGCHLD again, and the kubelet reaps every
    // such child with waitpid(-1). So this process, which never execs, stays the one we wait
    // for: it runs the command as its own child and exits with its status.
    clone_args fork_args{};
    fork_args.exit_signal = SIGCHLD;
    const long command = ::syscall(SYS_clone3, &fork_args, sizeof fork_args);
    if (command < 0) child_fail(3, errno);
    if (command == 0) {
      ::execve(program.value().c_str(), argv.data(), envp.data());
      child_fail(3, errno);
    }
    for (int fd = 0; fd <= 3; ++fd) ::close(fd);  // EOF on the pipes is the command's alone
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;  // a terminal's signals are for the command
    for (int s : {SIGINT, SIGQUIT, SIGHUP, SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE})
      ::sigaction(s, &ignore, nullptr);
    int status = 0;
    while (::waitpid(static_cast<pid_t>(command), &status, 0) < 0 && errno == EINTR) {
    }
    ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  for (int* fd : {&in[1], &out[1], &err[1], &report[1], &slave}) close_fd(*fd);
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  close_fd(report[0]);
  ExecProcess p;
  p.pid = static_cast<pid_t>(pid);
  p.pidfd = pidfd;
  p.stdin_fd = in[0];
  p.stdout_fd = out[0];
  p.stderr_fd = err[0];
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    collect_exit(p);
    for (int* fd : {&p.stdin_fd, &p.stdout_fd, &p.stderr_fd}) close_fd(*fd);
    exit_code = child_errno == ENOENT ? 127 : 126;
    if (::access(cwd.c_str(), F_OK) != 0)
      return Error{ErrorCode::NotFound,
                   fmt::format("chdir to {}: {}", cwd, std::strerror(child_errno))};
    return Error{ErrorCode::Internal,
                 fmt::format("exec: {:?}: {}", spec.argv.front(), std::strerror(child_errno))};
  }
  for (int fd : {p.stdin_fd, p.stdout_fd, p.stderr_fd})
    if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return p;
}

int collect_exit(ExecProcess& p) {
  if (p.pidfd < 0) return -1;
  siginfo_t info{};
  int rc;
  do {
    rc = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(p.pidfd), &info,
                  WEXITED | __WALL);
  } while (rc != 0 && errno == EINTR);
  ::close(p.pidfd);
  p.pidfd = -1;
  if (rc != 0) return -1;
  // What the command left behind in its process group goes with it, as a container's would.
  ::kill(-p.pid, SIGKILL);
  return info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
}

void resize_tty(int master_fd, unsigned short width, unsigned short height) {
  winsize ws{};
  ws.ws_col = width;
  ws.ws_row = height;
  ::ioctl(master_fd, TIOCSWINSZ, &ws);
}

}  // namespace ticketctl::api
