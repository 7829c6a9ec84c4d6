#pragma once
// Runs the built ticketctl binary as a user or a script would: arguments, stdin, and what comes
// back (exit status, stdout, stderr). Header-only; used by the CLI and integration tests.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace ticketctl::testing {

struct Result {
  int status = -1;
  std::string out, err;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// Runs ticketctl with `args` in `cwd` (default: the source tree); `input` becomes its stdin. Output
// goes through files, not pipes, so a detached child that keeps a descriptor cannot make this wait.
inline Result ticketctl(std::vector<std::string> args, const std::string& input = "",
                        const std::string& cwd = TICKETCTL_SOURCE_DIR) {
  namespace fs = std::filesystem;
  static int counter = 0;
  const fs::path dir = fs::temp_directory_path() / ("ticketctl-run-" + std::to_string(::getpid()) +
                                                    "-" + std::to_string(counter++));
  fs::create_directories(dir);
  const fs::path in = dir / "stdin", out = dir / "stdout", err = dir / "stderr";
  std::ofstream(in) << input;
  args.insert(args.begin(), TICKETCTL_BIN);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Tests run many control planes at once: their ingresses take any free port unless a test
    // chose one (ticketctl.yaml's `ingress:` or these variables).
    ::setenv("TICKETCTL_INGRESS_HTTP", "0", 0);
    ::setenv("TICKETCTL_INGRESS_HTTPS", "0", 0);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::dup2(::open(in.c_str(), O_RDONLY), 0);
    ::dup2(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 1);
    ::dup2(::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  Result r;
  r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  r.out = slurp(out);
  r.err = slurp(err);
  fs::remove_all(dir);
  return r;
}

}  // namespace ticketctl::testing
