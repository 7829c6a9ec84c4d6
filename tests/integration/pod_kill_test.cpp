// A pod is every process it started: `down` ends them all within the grace period, however they
// hide (setsid, double fork, SIGTERM ignored), with each container in a cgroup (v2, or v1's
// freezer) and without any (TICKETCTL_PROCESS_TRACKING=none: the /proc walk). Also the pod run
// directory's life: a 250-character pod name has one, and a deleted pod's goes at `down`.
// Observed as a user does: exit status and output of `down` and `status`, /proc, the state
// directory.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <vector>

#include "runtime/manifest/json.h"
#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using testing::Result;
using testing::ticketctl;

// Running: a zombie is not (its parent, or init, reaps it a moment later).
bool alive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  const size_t close = stat.rfind(')');
  return close != std::string::npos && stat.compare(close + 2, 1, "Z") != 0;
}

std::vector<pid_t> read_pids(const fs::path& file) {
  std::vector<pid_t> pids;
  std::ifstream in(file);
  for (pid_t pid; in >> pid;) pids.push_back(pid);
  return pids;
}

class PodKillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(project_ / "k8s");
    const fs::path programs = fs::path(TICKETCTL_SOURCE_DIR) / "tests/integration/programs";
    std::ofstream(project_ / "ticketctl.yaml")
        << "manifests: [k8s]\nimages:\n"
        << "  test/swarm: {context: " << programs << ", command: [" << SETSID_SWARM << "]}\n"
        << "  test/say: {context: " << programs << ", command: [sh, say.sh]}\n"
        << "  test/ignore-term: {context: " << programs << ", command: [sh, ignore_term.sh]}\n";
  }
  void TearDown() override {
    ticketctl({"down", "--state-dir", state_.string()});
    ::unsetenv("TICKETCTL_PROCESS_TRACKING");
  }
  // `--state-dir` goes right after the verb: exec's command follows a `--`.
  Result run(std::vector<std::string> args) {
    args.insert(args.begin() + 1, {"--state-dir", state_.string()});
    return ticketctl(std::move(args), "", project_.string());
  }
  // `ticketctl down` started in the background (its output discarded); waitpid it.
  pid_t start_down() {
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int null = ::open("/dev/null", O_RDWR);
      for (int fd = 0; fd <= 2; ++fd) ::dup2(null, fd);
      ::execl(TICKETCTL_BIN, TICKETCTL_BIN, "down", "--state-dir", state_.c_str(), nullptr);
      ::_exit(127);
    }
    return pid;
  }
  void up(const std::string& manifest) {
    std::ofstream(project_ / "k8s/pod.yaml") << manifest;
    const Result r = run({"up", "-d"});
    ASSERT_EQ(r.status, 0) << r.out << r.err;
  }
  bool eventually(const std::function<bool()>& condition,
                  std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    return testing::eventually(condition, limit);
  }
  // The swarm's run record (exec.json), which says how its processes are tracked.
  Json swarm_record() {
    for (const auto& e : fs::recursive_directory_iterator(state_ / "pods"))
      if (e.path().filename() == "exec.json") return Json::parse(testing::slurp(e.path()));
    return Json();
  }

  // 200 setsid'd processes ignoring SIGTERM, half of them daemons: after `down` none is left,
  // `down` took no longer than the grace period and a few seconds, and it said what it killed.
  void swarm_is_gone_after_down(const std::string& tracking) {
    const fs::path pidfile = tmp_.path() / "pids";
    up("apiVersion: v1\nkind: Pod\nmetadata: {name: swarm}\nspec:\n"
       "  terminationGracePeriodSeconds: 2\n"
       "  containers:\n  - name: main\n    image: test/swarm\n    args: ['200']\n"
       "    env: [{name: PIDFILE, value: " +
       pidfile.string() + "}]\n");
    ASSERT_TRUE(eventually([&] { return read_pids(pidfile).size() == 201; }))
        << read_pids(pidfile).size() << " pids\n"
        << run({"describe", "pod", "swarm"}).out;
    const std::string cgroup = swarm_record().value("trackingCgroup", "");
    if (tracking == "none") {
      EXPECT_EQ(cgroup, "");
    } else if (cgroup.empty()) {
      GTEST_SKIP() << "no " << tracking << " cgroup is usable on this machine";
    }
    const std::vector<pid_t> pids = read_pids(pidfile);
    for (pid_t pid : pids) ASSERT_TRUE(alive(pid)) << pid;

    const auto start = Clock::now();
    const Result down = run({"down"});
    const auto took = Clock::now() - start;
    EXPECT_EQ(down.status, 0) << down.out << down.err;
    EXPECT_LT(took, std::chrono::seconds(2 + 5));
    std::smatch m;
    ASSERT_TRUE(std::regex_search(
        down.out, m,
        std::regex(R"(pod swarm: (\d+) processes did not exit within 2s and were killed)")))
        << down.out << down.err;
    EXPECT_GE(std::stoi(m[1]), 201) << down.out;
    std::vector<pid_t> left;
    for (pid_t pid : pids)
      if (alive(pid)) left.push_back(pid);
    EXPECT_TRUE(left.empty()) << left.size() << " of " << pids.size() << " still run";
    if (!cgroup.empty()) {
      EXPECT_FALSE(fs::exists(cgroup)) << cgroup;
    }
  }

  ticketctl::testing::TempDir tmp_{"ticketctl-podkill"};
  const fs::path state_ = tmp_.path() / "state";
  const fs::path project_ = tmp_.path() / "project";
};

TEST_F(PodKillTest, DownEndsEverySetsidProcessInACgroupV2) {
  ::setenv("TICKETCTL_PROCESS_TRACKING", "cgroup2", 1);
  swarm_is_gone_after_down("cgroup v2");
}

TEST_F(PodKillTest, DownEndsEverySetsidProcessInAV1Freezer) {
  ::setenv("TICKETCTL_PROCESS_TRACKING", "freezer", 1);
  swarm_is_gone_after_down("cgroup v1 freezer");
}

TEST_F(PodKillTest, DownEndsEverySetsidProcessWithoutCgroups) {
  ::setenv("TICKETCTL_PROCESS_TRACKING", "none", 1);
  swarm_is_gone_after_down("none");
}

TEST_F(PodKillTest, StatusSaysStoppingWhileTheApiIsClosed) {
  up("apiVersion: v1\nkind: Pod\nmetadata: {name: stubborn}\nspec:\n"
     "  terminationGracePeriodSeconds: 3\n"
     "  containers:\n  - name: main\n    image: test/ignore-term\n"
     "    env: [{name: PIDFILE, value: " +
     (tmp_.path() / "grandchild").string() + "}]\n");
  ASSERT_TRUE(eventually([&] { return fs::exists(tmp_.path() / "grandchild"); }));
  const pid_t down = start_down();
  ASSERT_GT(down, 0);
  // Between the API's close and the control plane's exit, `status` must not say it runs.
  Result status;
  EXPECT_TRUE(eventually([&] {
    status = run({"status"});
    return status.out.find("control plane:   stopping, pid ") != std::string::npos;
  })) << status.out;
  EXPECT_EQ(status.status, 1);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(down, &wstatus, 0), down);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << wstatus;
  EXPECT_NE(run({"status"}).out.find("control plane:   not running"), std::string::npos);
}

TEST_F(PodKillTest, DownKillsAControlPlaneThatCannotFinishAndStopsItsPods) {
  const fs::path pidfile = tmp_.path() / "grandchild";
  up("apiVersion: v1\nkind: Pod\nmetadata: {name: stubborn}\nspec:\n"
     "  terminationGracePeriodSeconds: 1\n"
     "  containers:\n  - name: main\n    image: test/ignore-term\n"
     "    env: [{name: PIDFILE, value: " +
     pidfile.string() + "}]\n");
  ASSERT_TRUE(eventually([&] { return fs::exists(pidfile); }));
  pid_t grandchild = 0;
  std::ifstream(pidfile) >> grandchild;
  const Json info = Json::parse(testing::slurp(state_ / "apiserver.json"));
  const pid_t control_plane = info["pid"].get<pid_t>();
  // A control plane that never gets to stop its pods (stopped, as if it hung).
  ASSERT_EQ(::kill(control_plane, SIGSTOP), 0);

  const auto start = Clock::now();
  const Result down = run({"down"});
  const auto took = Clock::now() - start;
  EXPECT_EQ(down.status, 1) << down.out << down.err;
  EXPECT_NE(down.err.find("the control plane (pid " + std::to_string(control_plane) +
                          ") did not stop within 16s and was killed; 1 container it left was "
                          "killed"),
            std::string::npos)
      << down.err;
  // The longest grace period (1 s) + 15 s, then the kill and the pods' stop.
  EXPECT_LT(took, std::chrono::seconds(16 + 5));
  EXPECT_FALSE(alive(grandchild));
  EXPECT_NE(run({"status"}).out.find("control plane:   not running"), std::string::npos);
}

TEST_F(PodKillTest, APodWithA250CharacterNameRunsAndItsLogsAreRead) {
  std::string name = "long-";
  while (name.size() < 250) name += "abcdefghij";
  name.resize(250);
  up("apiVersion: v1\nkind: Pod\nmetadata: {name: " + name +
     "}\nspec:\n  terminationGracePeriodSeconds: 1\n"
     "  containers:\n  - name: main\n    image: test/say\n    env: [{name: WHO, value: main}]\n");
  Result logs;
  EXPECT_TRUE(eventually([&] {
    logs = run({"logs", name});
    return logs.status == 0 && logs.out == "from main\n";
  })) << logs.out
      << logs.err << run({"describe", "pod", name}).out;
  const Result exec = run({"exec", name, "--", "sh", "-c", "echo $WHO"});
  EXPECT_EQ(exec.status, 0) << exec.err;
  EXPECT_EQ(exec.out, "main\n");
  for (const auto& e : fs::directory_iterator(state_ / "pods"))
    EXPECT_LE(e.path().filename().string().size(), 255u);
}

TEST_F(PodKillTest, ADeletedPodsRunDirectoryIsGoneAfterDown) {
  up("apiVersion: v1\nkind: Pod\nmetadata: {name: keep}\nspec:\n"
     "  terminationGracePeriodSeconds: 1\n"
     "  containers:\n  - name: main\n    image: test/say\n    env: [{name: WHO, value: keep}]\n"
     "---\napiVersion: v1\nkind: Pod\nmetadata: {name: gone}\nspec:\n"
     "  terminationGracePeriodSeconds: 1\n"
     "  containers:\n  - name: main\n    image: test/say\n    env: [{name: WHO, value: gone}]\n");
  auto dir_of = [&](const std::string& pod) {
    for (const auto& e : fs::directory_iterator(state_ / "pods"))
      if (e.path().filename().string().find("_" + pod + "_") != std::string::npos) return true;
    return false;
  };
  ASSERT_TRUE(eventually([&] {
    return run({"logs", "gone"}).out == "from gone\n" && run({"logs", "keep"}).out == "from keep\n";
  }));
  ASSERT_TRUE(dir_of("gone"));
  const Result del = run({"delete", "pod", "gone"});
  ASSERT_EQ(del.status, 0) << del.err;
  const Result down = run({"down"});
  ASSERT_EQ(down.status, 0) << down.err;
  EXPECT_FALSE(dir_of("gone"));
  // A pod that is still stored keeps its logs for the next `up`.
  EXPECT_TRUE(dir_of("keep"));
}

}  // namespace
}  // namespace ticketctl
