#include "runtime/core/run_command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
// Boost 1.81's Process v2 on std::filesystem names boost::optional, decay and is_convertible
// without including them (its Boost.Filesystem configuration pulls them in).
#include <boost/optional.hpp>
#include <boost/type_traits/decay.hpp>
#include <boost/type_traits/is_convertible.hpp>
// (before the Process headers)
#include <boost/asio/io_context.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/start_dir.hpp>
#include <boost/process/v2/stdio.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

extern char** environ;

namespace ticketctl {
namespace {
namespace bp = boost::process::v2;

// The shell's status pipe, as the command's shell sees it.
constexpr int kStatusFd = 3;

// What the default launcher does not: the status pipe on fd 3 (Boost 1.81's bind_fd lacks a
// return in on_setup, so it is not used), default signal handling (`dev` blocks SIGINT and
// SIGTERM to read them from a signalfd; the CLI may ignore SIGPIPE) and the process group.
// on_exec_setup runs in the forked child: async-signal-safe calls only.
struct ShellSetup {
  int status_fd;
  bool own_group;

  bp::error_code on_setup(bp::posix::default_launcher& launcher, const bp::filesystem::path&,
                          const char* const*) {
    launcher.fd_whitelist.push_back(kStatusFd);
    return {};
  }

  bp::error_code on_exec_setup(bp::posix::default_launcher& launcher, const bp::filesystem::path&,
                               const char* const*) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (own_group && ::setpgid(0, 0) != 0) return {errno, boost::system::system_category()};
    // dup2 onto itself keeps close-on-exec: clear it by hand then.
    const int moved =
        status_fd == kStatusFd ? ::fcntl(kStatusFd, F_SETFD, 0) : ::dup2(status_fd, kStatusFd);
    if (moved < 0) return {errno, boost::system::system_category()};
    // 1.81's close_all compares each whitelisted descriptor with itself and so leaves every one
    // between two whitelisted ones open: close them here, all but Boost's own error pipe (the
    // highest whitelisted, added after on_setup).
    const int error_pipe =
        *std::max_element(launcher.fd_whitelist.begin(), launcher.fd_whitelist.end());
    if (error_pipe > kStatusFd + 1)
      ::syscall(SYS_close_range, kStatusFd + 1U, static_cast<unsigned>(error_pipe - 1), 0U);
    return {};
  }
};

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

bool make_pipe(Fd& read_end, Fd& write_end) {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) return false;
  read_end.reset(ends[0]);
  write_end.reset(ends[1]);
  return true;
}

}  // namespace

std::string find_on_path(const std::string& program, const std::string& path) {
  if (program.empty()) return {};
  auto runnable = [](const std::string& file) {
    struct stat st {};
    return ::stat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           ::access(file.c_str(), X_OK) == 0;
  };
  if (program.find('/') != std::string::npos) return runnable(program) ? program : std::string();
  std::stringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    const std::string file = (std::filesystem::path(dir) / program).string();
    if (runnable(file)) return file;
  }
  return {};
}

RunResult run_command(const RunSpec& spec) {
  RunResult result;
  if (spec.argv.empty()) {
    result.error = "no command to run";
    return result;
  }
  // The environment the shell gets, and the PATH it will search.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    const std::string_view kv(*e);
    const std::string_view key = kv.substr(0, kv.find('='));
    if (std::none_of(spec.env.begin(), spec.env.end(),
                     [&](const auto& p) { return p.first == key; }))
      env_strings.emplace_back(kv);
  }
  for (const auto& [k, v] : spec.env) env_strings.push_back(k + "=" + v);
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  for (const std::string& e : env_strings)
    if (e.starts_with("PATH=")) path = e.substr(5);
  if (find_on_path(spec.argv[0], path).empty()) {
    result.error = spec.argv[0].find('/') != std::string::npos
                       ? fmt::format("{}: no such executable file", spec.argv[0])
                       : fmt::format("{}: not found in PATH ({})", spec.argv[0], path);
    return result;
  }
  std::vector<const char*> cenv;
  for (const std::string& e : env_strings) cenv.push_back(e.c_str());
  cenv.push_back(nullptr);

  Fd out_read, out_write, status_read, status_write;
  const bool piped = spec.output_fd < 0;
  if ((piped && !make_pipe(out_read, out_write)) || !make_pipe(status_read, status_write)) {
    result.error = fmt::format("pipe: {}", std::strerror(errno));
    return result;
  }
  const int output = piped ? out_write.get() : spec.output_fd;
  const bool own_group = spec.own_group || spec.group || spec.timeout.count() > 0;
  // sh reports the command's status on fd 3 (128+N when killed by signal N), which the command
  // itself does not inherit.
  std::vector<std::string> args = {"-c", "\"$@\" 3>&-; echo $? >&3", "sh"};
  args.insert(args.end(), spec.argv.begin(), spec.argv.end());

  boost::asio::io_context context;
  bp::posix::default_launcher launcher;
  launcher.env = cenv.data();
  bp::error_code ec;
  // (The executor overload: 1.81's execution-context overload with an error_code throws.)
  bp::process proc = launcher(context.get_executor(), ec, bp::filesystem::path("/bin/sh"), args,
                              bp::process_stdio{nullptr, output, output},
                              bp::process_start_dir{spec.dir.empty() ? "." : spec.dir},
                              ShellSetup{status_write.get(), own_group});
  out_write.reset();
  status_write.reset();
  if (ec) {
    std::error_code cwd_error;
    const std::filesystem::path dir =
        spec.dir.empty() ? std::filesystem::current_path(cwd_error) : spec.dir;
    result.error = fmt::format("cannot run {} in {}: {}", spec.argv[0], dir.string(), ec.message());
    return result;
  }
  const pid_t pid = proc.id();
  if (spec.group) spec.group->store(pid);
  // A pidfd names this shell for good. Boost waits with waitpid(pid): if the kubelet's reaper
  // collected the shell first and the pid went to one of the control plane's containers, that
  // would wait for the container and take its status. (1.81's handle keeps its own pidfd to
  // itself.)
  const Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));

  // After the kill, a little longer for the output to end: a process that left the group (a
  // daemon's setsid) may hold it open for good.
  constexpr std::chrono::seconds kDrainAfterKill{5};
  auto deadline = std::chrono::steady_clock::now() + spec.timeout;
  std::string status_text;
  char buf[8192];
  // Until the output ends (every writer, grandchildren too, closed it) and the shell wrote its
  // status or died.
  while (out_read.get() >= 0 || status_read.get() >= 0) {
    pollfd fds[2] = {{out_read.get(), POLLIN, 0}, {status_read.get(), POLLIN, 0}};
    int wait_ms = -1;
    if (spec.timeout.count() > 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      wait_ms = static_cast<int>(std::clamp<long long>(left.count(), 0, 60'000));
    }
    const int ready = ::poll(fds, 2, wait_ms);
    if (ready < 0 && errno != EINTR) break;
    if (ready == 0 && spec.timeout.count() > 0 && std::chrono::steady_clock::now() >= deadline) {
      if (result.timed_out) break;
      // The whole group: `npm install` runs node, which runs postinstall scripts.
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
      deadline = std::chrono::steady_clock::now() + kDrainAfterKill;
      continue;
    }
    if (fds[0].revents != 0) {
      const ssize_t n = ::read(out_read.get(), buf, sizeof buf);
      if (n > 0) {
        const std::string_view chunk(buf, static_cast<size_t>(n));
        if (spec.on_output) spec.on_output(chunk);
        const size_t room = spec.capture_limit - std::min(spec.capture_limit, result.output.size());
        result.output.append(chunk.substr(0, room));
        if (chunk.size() > room) result.truncated = true;
      } else if (n == 0 || errno != EINTR) {
        out_read.reset();
      }
    }
    if (fds[1].revents != 0) {
      const ssize_t n = ::read(status_read.get(), buf, sizeof buf);
      if (n > 0 && status_text.size() < 64) {
        status_text.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || (n < 0 && errno != EINTR)) {
        status_read.reset();
      }
    }
  }
  // The shell's own wait status, unless a subreaper collected it first (ECHILD): then only the
  // status pipe speaks.
  int shell_signal = 0;
  if (pidfd.get() >= 0) {
    siginfo_t info{};
    constexpr int kPidfd = 3;  // P_PIDFD (Linux 5.4), not yet named by every glibc
    int waited;
    while ((waited = ::waitid(static_cast<idtype_t>(kPidfd), static_cast<id_t>(pidfd.get()), &info,
                              WEXITED)) < 0 &&
           errno == EINTR) {
    }
    if (waited == 0 && (info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED))
      shell_signal = info.si_status;
  } else {
    bp::error_code wait_ec;
    proc.wait(wait_ec);
    const int native = proc.native_exit_code();
    if (!wait_ec && WIFSIGNALED(native)) shell_signal = WTERMSIG(native);
  }
  // Neither terminate nor wait on destruction: it is collected, or not ours to collect.
  proc.detach();
  if (spec.group) spec.group->store(0);
  if (!status_text.empty()) {
    result.exit_status = std::atoi(status_text.c_str());
  } else {
    // No status: the shell itself was killed (the timeout, or the control plane stopping it).
    result.term_signal = result.timed_out ? SIGKILL : shell_signal != 0 ? shell_signal : SIGTERM;
    result.exit_status = 128 + result.term_signal;
  }
  return result;
}

}  // namespace ticketctl
