// run_command with real processes: what a build's caller sees (output, status, errors, timeouts).

#include "runtime/core/run_command.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/eventually.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

class RunCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/run_command_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  static RunSpec shell(const std::string& script) {
    RunSpec spec;
    spec.argv = {"sh", "-c", script, "sh"};
    spec.capture_limit = 1 << 20;
    return spec;
  }

  fs::path dir_;
};

TEST_F(RunCommandTest, RunsArgvInItsDirectoryWithItsEnvironment) {
  RunSpec spec = shell(R"sh(printf '%s|%s|%s|%s' "$1" "$RUN_TEST_VALUE" "$(pwd)" "$HOME")sh");
  spec.argv.push_back("two words");
  spec.dir = dir_;
  spec.env = {{"RUN_TEST_VALUE", "from the spec"}};
  const RunResult r = run_command(spec);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.exit_status, 0);
  const char* home = std::getenv("HOME");
  EXPECT_EQ(r.output,
            "two words|from the spec|" + fs::canonical(dir_).string() + "|" + (home ? home : ""));
  EXPECT_FALSE(r.truncated);
}

TEST_F(RunCommandTest, ExitStatusAndStderrComeThrough) {
  const RunResult r = run_command(shell("echo oops >&2; exit 7"));
  EXPECT_EQ(r.exit_status, 7);
  EXPECT_EQ(r.term_signal, 0);
  EXPECT_EQ(r.output, "oops\n");
}

TEST_F(RunCommandTest, CapturedOutputStopsAtTheCapButTheCallbackSeesItAll) {
  RunSpec spec = shell("head -c 200000 /dev/zero");
  spec.capture_limit = 1000;
  size_t seen = 0;
  spec.on_output = [&](std::string_view chunk) { seen += chunk.size(); };
  const RunResult r = run_command(spec);
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.output.size(), 1000u);
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(seen, 200000u);
}

TEST_F(RunCommandTest, OutputToADescriptor) {
  const fs::path file = dir_ / "out.log";
  FILE* out = std::fopen(file.c_str(), "w");
  ASSERT_NE(out, nullptr);
  RunSpec spec = shell("echo to stdout; echo to stderr >&2");
  spec.output_fd = ::fileno(out);
  const RunResult r = run_command(spec);
  std::fclose(out);
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.output, "");
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "to stdout\nto stderr\n");
}

TEST_F(RunCommandTest, AMissingProgramIsAClearErrorAndNothingRuns) {
  RunSpec spec;
  spec.argv = {"ticketctl-no-such-program", "install"};
  spec.env = {{"PATH", "/usr/bin:/bin"}};
  const RunResult r = run_command(spec);
  EXPECT_EQ(r.exit_status, -1);
  EXPECT_EQ(r.error, "ticketctl-no-such-program: not found in PATH (/usr/bin:/bin)");

  spec.argv = {"sh", "-c", "true"};
  spec.dir = dir_ / "missing";
  const RunResult no_dir = run_command(spec);
  EXPECT_EQ(no_dir.exit_status, -1);
  EXPECT_EQ(no_dir.error, "cannot run sh in " + spec.dir.string() + ": No such file or directory");
}

// "Z" (a zombie nobody reaped yet) or gone: either way it no longer runs.
bool ended(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return true;
  const size_t close = stat.rfind(')');
  return close != std::string::npos && stat.compare(close + 2, 1, "Z") == 0;
}

TEST_F(RunCommandTest, ATimeoutKillsTheWholeGroup) {
  // The grandchild holds the output open: only killing the group ends the run.
  RunSpec spec = shell("sleep 60 & echo $!; wait");
  spec.timeout = 300ms;
  const auto start = std::chrono::steady_clock::now();
  const RunResult r = run_command(spec);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.term_signal, SIGKILL);
  EXPECT_EQ(r.exit_status, 128 + SIGKILL);
  const pid_t grandchild = std::atoi(r.output.c_str());
  ASSERT_GT(grandchild, 0) << r.output;
  EXPECT_TRUE(testing::eventually([&] { return ended(grandchild); }, 10s));
}

TEST_F(RunCommandTest, ItsOwnGroupIsPublishedWhileItRuns) {
  std::atomic<pid_t> group{0};
  RunSpec spec = shell("cut -d' ' -f5 /proc/$$/stat");  // the shell's process group
  spec.group = &group;
  pid_t seen = 0;
  spec.on_output = [&](std::string_view) { seen = group.load(); };
  const RunResult r = run_command(spec);
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_NE(seen, 0);
  EXPECT_NE(seen, ::getpgrp());
  EXPECT_EQ(std::to_string(seen) + "\n", r.output);
  EXPECT_EQ(group.load(), 0);
}

TEST_F(RunCommandTest, ASignalToItsGroupIsReportedAsTheSignal) {
  // SIGKILL: a shell may hold a catchable signal blocked across its last command's exec.
  std::atomic<pid_t> group{0};
  RunSpec spec = shell("echo started; sleep 60");
  spec.group = &group;
  spec.on_output = [&](std::string_view) { ::kill(-group.load(), SIGKILL); };
  const auto start = std::chrono::steady_clock::now();
  const RunResult r = run_command(spec);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.term_signal, SIGKILL);
  EXPECT_EQ(r.exit_status, 128 + SIGKILL);
}

TEST_F(RunCommandTest, NoDescriptorOfTheCallerLeaksIn) {
  // Not close-on-exec, as a library might leave them.
  const int a = ::open("/dev/null", O_RDONLY), b = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(b, 0);
  const RunResult r = run_command(shell("ls /proc/$$/fd"));
  ::close(a);
  ::close(b);
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.output, "0\n1\n2\n");
}

TEST_F(RunCommandTest, TheCommandGetsACleanSignalMask) {
  // `dev` blocks SIGINT and SIGTERM to read them from a signalfd; its builds must not inherit it.
  sigset_t blocked, old;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGINT);
  ::pthread_sigmask(SIG_BLOCK, &blocked, &old);
  const RunResult r = run_command(shell("grep SigBlk /proc/self/status"));
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.output, "SigBlk:\t0000000000000000\n");
}

}  // namespace
}  // namespace ticketctl
