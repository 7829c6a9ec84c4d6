// A ticketctl command left running while the test goes on (`ticketctl tap`, a follow), its
// stdout and stderr in files the test reads as they grow; killed if the test ends first.

#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/eventually.h"
#include "tests/support/process.h"

namespace ticketctl::testing {

class BackgroundTicketctl {
 public:
  // Runs `ticketctl ARGS` with stdin from /dev/null; `name` names its files in `dir`.
  BackgroundTicketctl(const std::filesystem::path& dir, std::vector<std::string> args,
                      const std::string& name = "background")
      : out_(dir / (name + ".out")), err_(dir / (name + ".err")) {
    args.insert(args.begin(), TICKETCTL_BIN);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(::open("/dev/null", O_RDONLY), 0);
      ::dup2(::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 1);
      ::dup2(::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  BackgroundTicketctl(const BackgroundTicketctl&) = delete;
  BackgroundTicketctl& operator=(const BackgroundTicketctl&) = delete;
  ~BackgroundTicketctl() {
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
  std::string out() const { return slurp(out_); }
  std::string err() const { return slurp(err_); }

 private:
  std::filesystem::path out_, err_;
  pid_t pid_ = -1;
  int status_ = -1;
};

}  // namespace ticketctl::testing
