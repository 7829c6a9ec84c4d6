// The kubelet end to end: pods of small shell programs (tests/integration/programs) run by a real
// control plane (`ticketctl up -d` in a temporary state directory), observed the way a user
// observes them: `get pods`, events, pid files and the processes themselves.

#include <signal.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using testing::Result;
using testing::ticketctl;

// These tests' patience: how long a condition may take to hold (the polling is shared).
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  return testing::eventually(condition, limit);
}

bool alive(pid_t pid) {
  return pid > 0 && ::kill(pid, 0) == 0;
}

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(project_ / "k8s");
    const fs::path programs = fs::path(TICKETCTL_SOURCE_DIR) / "tests/integration/programs";
    std::ofstream(project_ / "ticketctl.yaml")
        << "manifests: [k8s]\n"
           "restartBackoff: {initial: 200ms, max: 800ms}\n"
           "images:\n"
        << "  test/ignore-term: {context: " << programs << ", command: [sh, ignore_term.sh]}\n"
        << "  test/crash: {context: " << programs << ", command: [sh, crash.sh]}\n"
        << "  test/secret-user: {context: " << programs << ", command: [sh, secret_user.sh]}\n"
        << "  test/ready-file: {context: " << programs << ", command: [sh, ready_when_file.sh]}\n";
  }
  void TearDown() override {
    ticketctl({"down", "--state-dir", state_.string()});
    fs::remove_all(project_);
  }
  Result run(std::vector<std::string> args) {
    args.push_back("--state-dir");
    args.push_back(state_.string());
    return ticketctl(std::move(args), "", project_.string());
  }
  void up(const std::string& manifest) {
    std::ofstream(project_ / "k8s/pod.yaml") << manifest;
    const Result r = run({"up", "-d"});
    ASSERT_EQ(r.status, 0) << r.out << r.err;
  }
  std::string pod_field(const std::string& pod, const std::string& jsonpath) {
    return run({"get", "pod", pod, "-o", "jsonpath=" + jsonpath}).out;
  }
  std::string events() {
    return run({"get", "events", "-o",
                "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}"})
        .out;
  }
  ticketctl::testing::TempDir tmp_{"ticketctl-kubelet"};
  const fs::path state_ = tmp_.path() / "state";
  const fs::path project_ = tmp_.path() / "project";
  const fs::path scratch_ = tmp_.path();
};

TEST_F(SupervisorTest, AGrandchildThatIgnoresSigtermIsKilledAfterTheGracePeriod) {
  const fs::path pidfile = scratch_ / "grandchild.pid";
  up("apiVersion: v1\nkind: Pod\nmetadata: {name: stubborn}\nspec:\n"
     "  terminationGracePeriodSeconds: 1\n"
     "  containers:\n  - name: main\n    image: test/ignore-term\n"
     "    env: [{name: PIDFILE, value: " +
     pidfile.string() + "}]\n");
  ASSERT_TRUE(eventually([&] { return fs::exists(pidfile); })) << events();
  pid_t grandchild = 0;
  std::ifstream(pidfile) >> grandchild;
  ASSERT_TRUE(alive(grandchild));
  EXPECT_EQ(pod_field("stubborn", "{.status.phase}"), "Running");

  const Result del = run({"delete", "pod", "stubborn"});
  ASSERT_EQ(del.status, 0) << del.err;
  // Graceful: the pod is Terminating while its processes get their grace period.
  EXPECT_FALSE(pod_field("stubborn", "{.metadata.deletionTimestamp}").empty());
  EXPECT_NE(run({"get", "pods"}).out.find("Terminating"), std::string::npos);
  // It ignores SIGTERM; SIGKILL to the whole group after 1 s ends it (and the subreaper reaps it).
  EXPECT_TRUE(eventually([&] { return !alive(grandchild); }, std::chrono::seconds(10)));
  // Then the kubelet removes the pod.
  EXPECT_TRUE(eventually([&] { return run({"get", "pod", "stubborn"}).status == 1; }));
}

TEST_F(SupervisorTest, ACrashLoopRestartsWithTheBackOffAndReportsTheLastExit) {
  const fs::path starts = scratch_ / "starts";
  up("apiVersion: v1\nkind: Pod\nmetadata: {name: crasher}\nspec:\n"
     "  containers:\n  - name: main\n    image: test/crash\n"
     "    env: [{name: STARTS, value: " +
     starts.string() + "}]\n");
  std::vector<int64_t> times;
  ASSERT_TRUE(eventually([&] {
    times.clear();
    std::ifstream in(starts);
    for (int64_t t; in >> t;) times.push_back(t);
    return times.size() >= 5;
  })) << events();
  // First restart at once, then 200 ms doubling to the 800 ms maximum (ticketctl.yaml).
  const double expected[] = {0, 0.2, 0.4, 0.8};
  for (size_t i = 1; i < 5; ++i) {
    const double gap = static_cast<double>(times[i] - times[i - 1]) / 1e9;
    EXPECT_GE(gap, expected[i - 1] * 0.95) << "restart " << i;
  }
  EXPECT_EQ(pod_field("crasher", "{.status.containerStatuses[0].lastState.terminated.exitCode}"),
            "3");
  EXPECT_GE(std::stoi(pod_field("crasher", "{.status.containerStatuses[0].restartCount}")), 4);
  EXPECT_NE(events().find("BackOff: Back-off restarting failed container main in pod crasher"),
            std::string::npos);
  // Repeats are one Event with a count, as client-go's recorder aggregates them.
  const std::string counts =
      run({"get", "events", "-o", "jsonpath={.items[?(@.reason==\"BackOff\")].count}"}).out;
  ASSERT_EQ(counts.find(' '), std::string::npos) << counts;  // a single BackOff event
  EXPECT_GE(std::stoi(counts), 2) << counts;
  const Result table = run({"get", "pods"});
  EXPECT_TRUE(table.out.find("CrashLoopBackOff") != std::string::npos ||
              table.out.find("Running") != std::string::npos)
      << table.out;
}

TEST_F(SupervisorTest, AMissingSecretIsAConfigErrorUntilTheSecretIsCreated) {
  up("apiVersion: v1\nkind: Pod\nmetadata: {name: auth}\nspec:\n"
     "  containers:\n  - name: main\n    image: test/secret-user\n"
     "    env:\n    - name: JWT_KEY\n"
     "      valueFrom: {secretKeyRef: {name: jwt-secret, key: JWT_KEY}}\n");
  ASSERT_TRUE(eventually([&] {
    return pod_field("auth", "{.status.containerStatuses[0].state.waiting.reason}") ==
           "CreateContainerConfigError";
  }));
  EXPECT_EQ(pod_field("auth", "{.status.containerStatuses[0].state.waiting.message}"),
            "secret \"jwt-secret\" not found");
  EXPECT_NE(events().find("Failed: Error: secret \"jwt-secret\" not found"), std::string::npos);

  const Result created =
      run({"create", "secret", "generic", "jwt-secret", "--from-literal=JWT_KEY=s3cr3t-value"});
  ASSERT_EQ(created.status, 0) << created.err;
  ASSERT_TRUE(eventually([&] { return pod_field("auth", "{.status.phase}") == "Running"; }));
  // The pod got the value (12 characters); no log of ticketctl or the pod shows it.
  std::string logs;
  ASSERT_TRUE(eventually([&] {
    logs.clear();
    // The store and exec.json (the env `ticketctl exec` reuses, 0600) hold it by design.
    for (const auto& e : fs::recursive_directory_iterator(state_))
      if (e.is_regular_file() && e.path().extension() != ".db" &&
          e.path().string().find("state.db") == std::string::npos &&
          e.path().filename() != "exec.json")
        logs += testing::slurp(e.path());
    return logs.find("key-length=12") != std::string::npos;
  }));
  EXPECT_EQ(logs.find("s3cr3t-value"), std::string::npos);
}

TEST_F(SupervisorTest, ReadinessFollowsTheProbe) {
  const fs::path ready = scratch_ / "ready";
  up("apiVersion: v1\nkind: Pod\nmetadata: {name: flip}\nspec:\n"
     "  containers:\n  - name: main\n    image: test/ready-file\n"
     "    env: [{name: READY_FILE, value: " +
     ready.string() +
     "}]\n"
     "    readinessProbe:\n      exec: {command: [sh, -c, 'test -f \"$READY_FILE\"']}\n"
     "      periodSeconds: 1\n      failureThreshold: 1\n");
  const std::string ready_path = "{.status.conditions[?(@.type==\"Ready\")].status}";
  ASSERT_TRUE(eventually([&] { return pod_field("flip", "{.status.phase}") == "Running"; }));
  EXPECT_EQ(pod_field("flip", ready_path), "False");
  std::ofstream(ready) << "yes";
  EXPECT_TRUE(eventually([&] { return pod_field("flip", ready_path) == "True"; }));
  fs::remove(ready);
  EXPECT_TRUE(eventually([&] { return pod_field("flip", ready_path) == "False"; }));
  EXPECT_NE(events().find("Unhealthy: Readiness probe failed"), std::string::npos);
}

TEST_F(SupervisorTest, DownStopsEveryPodProcess) {
  const fs::path pidfile = scratch_ / "grandchild.pid";
  up("apiVersion: v1\nkind: Pod\nmetadata: {name: stubborn}\nspec:\n"
     "  terminationGracePeriodSeconds: 1\n"
     "  containers:\n  - name: main\n    image: test/ignore-term\n"
     "    env: [{name: PIDFILE, value: " +
     pidfile.string() + "}]\n");
  ASSERT_TRUE(eventually([&] { return fs::exists(pidfile); }));
  pid_t grandchild = 0;
  std::ifstream(pidfile) >> grandchild;
  ASSERT_TRUE(alive(grandchild));
  const Result down = run({"down"});
  EXPECT_EQ(down.status, 0) << down.err;
  // `down` returns once the control plane is gone, and it goes only after its pods.
  EXPECT_FALSE(alive(grandchild));
}

}  // namespace
}  // namespace ticketctl
