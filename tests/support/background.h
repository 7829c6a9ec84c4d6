// A program left running while the test goes on (`ticketctl tap`, `logs -f`, `port-forward`,
// `up` waiting for a Secret), its stdout and stderr in files the test reads as they grow; killed
// if the test ends first.

#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/eventually.h"
#include "tests/support/process.h"

namespace ticketctl::testing {

// `ticketctl ARGS` as an argv for Background.
inline std::vector<std::string> ticketctl_argv(std::vector<std::string> args) {
  args.insert(args.begin(), TICKETCTL_BIN);
  return args;
}

class Background {
 public:
  // Runs `argv` (argv[0] a path, or a name found on PATH) with stdin from /dev/null, stdout into
  // `out` and stderr into `out` + ".err"; in `cwd` when given; `env_defaults` are set in the child
  // unless its environment already has them.
  Background(std::vector<std::string> argv, std::filesystem::path out,
             const std::filesystem::path& cwd = {},
             const std::vector<std::pair<std::string, std::string>>& env_defaults = {})
      : out_(std::move(out)), err_(out_.string() + ".err") {
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      for (const auto& [name, value] : env_defaults) ::setenv(name.c_str(), value.c_str(), 0);
      if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
      ::dup2(::open("/dev/null", O_RDONLY), 0);
      ::dup2(::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 1);
      ::dup2(::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 2);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  ~Background() {
    if (status_ >= 0 || pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  // Its exit status once it ended within `limit`; -1 if it did not.
  int wait(std::chrono::milliseconds limit) {
    eventually(
        [&] {
          int ws = 0;
          if (::waitpid(pid_, &ws, WNOHANG) != pid_) return false;
          status_ = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
          return true;
        },
        limit);
    return status_;
  }
  void signal(int sig) { ::kill(pid_, sig); }
  // Sends `sig`, then as wait().
  int stop(int sig, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    signal(sig);
    return wait(limit);
  }
  std::string out() const { return slurp(out_); }
  std::string err() const { return slurp(err_); }

 private:
  std::filesystem::path out_, err_;
  pid_t pid_ = -1;
  int status_ = -1;
};

}  // namespace ticketctl::testing
