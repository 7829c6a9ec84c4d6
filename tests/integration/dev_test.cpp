// Builds and the dev loop end to end: a temporary project whose image has a build command
// (`sh build.sh`, which fails while a file the test controls exists), run by the built binary:
// `ticketctl build`, `up --build`, and `ticketctl dev` as a child process reacting to edits.

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <algorithm>
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
using testing::slurp;
using testing::ticketctl;

// These tests' patience: how long a condition may take to hold (the polling is shared).
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  return testing::eventually(condition, limit);
}

std::string deployment(int replicas) {
  return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app-depl}\nspec:\n"
         "  replicas: " +
         std::to_string(replicas) +
         "\n  selector: {matchLabels: {app: app}}\n"
         "  template:\n"
         "    metadata: {labels: {app: app}}\n"
         "    spec:\n"
         "      terminationGracePeriodSeconds: 1\n"
         "      containers: [{name: app, image: test/app}]\n";
}

class DevTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(project_ / "k8s");
    fs::create_directories(app_);
    std::ofstream(project_ / "ticketctl.yaml")
        << "manifests: [k8s]\n"
           "restartBackoff: {initial: 200ms, max: 1s}\n"
           "images:\n"
           "  test/app: {context: app, command: [sh, run.sh], build: [sh, build.sh]}\n";
    // skaffold's sync rule: an edited .js file restarts the pods without a build.
    std::ofstream(project_ / "skaffold.yaml")
        << "apiVersion: skaffold/v2alpha3\nkind: Config\nbuild:\n  artifacts:\n"
           "    - image: test/app\n      context: app\n"
           "      sync: {manual: [{src: '*.js', dest: .}]}\n";
    std::ofstream(project_ / "k8s" / "app.yaml") << deployment(1);
    // The build counts its runs outside the context (so counting is not an input) and fails
    // while ../fail exists.
    std::ofstream(app_ / "build.sh")
        << "echo building in $(pwd)\n"
           "echo run >> ../builds.count\n"
           "if [ -e ../fail ]; then echo 'broken: ../fail exists' >&2; exit 3; fi\n"
           "echo build ok\n";
    std::ofstream(app_ / "run.sh") << "echo hello from app\nexec sleep 100000\n";
    std::ofstream(app_ / "index.js") << "// v1\n";
    std::ofstream(app_ / "input.txt") << "v1\n";
    fs::create_directories(app_ / "node_modules");
  }
  void TearDown() override {
    if (dev_ > 0) {
      ::kill(-dev_, SIGKILL);
      ::waitpid(dev_, nullptr, 0);
    }
    ticketctl({"down", "--state-dir", state_.string()});
  }
  Result run(std::vector<std::string> args) {
    args.push_back("--state-dir");
    args.push_back(state_.string());
    return ticketctl(std::move(args), "", project_.string());
  }
  int builds() {
    std::ifstream in(project_ / "builds.count");
    int n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  }
  std::string pods(const std::string& jsonpath) {
    return run({"get", "pods", "-o", "jsonpath=" + jsonpath}).out;
  }
  // The names of the pods that are Running, space-separated as jsonpath prints them.
  std::string running_pods() {
    return pods("{range .items[?(@.status.phase==\"Running\")]}{.metadata.name} {end}");
  }
  // The rollout ended: one pod, Running, none of `before` ("name " each).
  bool rolled_from(const std::string& before) {
    const std::string now = running_pods();
    return !now.empty() && std::count(now.begin(), now.end(), ' ') == 1 &&
           pods("{.items[*].metadata.name}") + " " == now && before.find(now) == std::string::npos;
  }
  // `ticketctl dev` in its own process group, output to a file, as a terminal would run it.
  void start_dev() {
    dev_ = ::fork();
    ASSERT_GE(dev_, 0);
    if (dev_ == 0) {
      ::setpgid(0, 0);
      ::setenv("TICKETCTL_INGRESS_HTTP", "0", 1);
      ::setenv("TICKETCTL_INGRESS_HTTPS", "0", 1);
      if (::chdir(project_.c_str()) != 0) ::_exit(126);
      const int out = ::open(dev_log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(out, 1);
      ::dup2(out, 2);
      ::execl(TICKETCTL_BIN, TICKETCTL_BIN, "dev", "--state-dir", state_.c_str(), nullptr);
      ::_exit(127);
    }
    ::setpgid(dev_, dev_);
  }
  std::string dev_output() { return slurp(dev_log_); }
  size_t count_in_output(const std::string& needle) {
    const std::string out = dev_output();
    size_t n = 0;
    for (size_t at = out.find(needle); at != std::string::npos; at = out.find(needle, at + 1)) ++n;
    return n;
  }

  ticketctl::testing::TempDir tmp_{"ticketctl-dev"};
  const fs::path project_ = tmp_.path() / "project";
  const fs::path app_ = project_ / "app";
  // Inside the project, as the default state directory of a real project would not be: the
  // build's inputs and the watch must leave it out.
  const fs::path state_ = project_ / "app" / ".state";
  const fs::path dev_log_ = tmp_.path() / "dev.log";
  pid_t dev_ = -1;
};

TEST_F(DevTest, BuildRunsWhenInputsChangedAndSkipsOtherwise) {
  Result r = run({"build"});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("[test/app] build ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("test/app: built in"), std::string::npos) << r.out;
  EXPECT_EQ(builds(), 1);
  EXPECT_TRUE(fs::exists(state_ / "builds" / "test_app.json"));
  EXPECT_FALSE(fs::exists(state_ / "builds" / "test_app.failed"));

  r = run({"build"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("test/app: up to date"), std::string::npos) << r.out;
  EXPECT_EQ(builds(), 1);

  // node_modules is what builds install, never an input.
  std::ofstream(app_ / "node_modules" / "dep.js") << "x\n";
  r = run({"build", "test/app"});
  EXPECT_NE(r.out.find("up to date"), std::string::npos) << r.out;
  EXPECT_EQ(builds(), 1);

  r = run({"build", "--force"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(builds(), 2);

  std::ofstream(app_ / "input.txt") << "v2\n";
  r = run({"build"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(builds(), 3);

  r = run({"build", "test/nothing"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("image test/nothing has no build: "), std::string::npos) << r.err;
}

TEST_F(DevTest, AFailedBuildKeepsThePodWaitingUntilABuildSucceeds) {
  std::ofstream(project_ / "fail") << "";
  Result r = run({"build"});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("[test/app] broken: ../fail exists"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("test/app: build failed"), std::string::npos) << r.err;
  const fs::path marker = state_ / "builds" / "test_app.failed";
  ASSERT_TRUE(fs::exists(marker));
  struct stat st {};
  ASSERT_EQ(::stat(marker.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // `up --build` builds again (the last build failed), reports the failure and starts anyway.
  r = run({"up", "-d", "--build"});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(builds(), 2);
  EXPECT_NE(r.err.find("build(s) failed"), std::string::npos) << r.err;
  ASSERT_TRUE(eventually([&] {
    return pods("{.items[0].status.containerStatuses[0].state.waiting.reason}") == "BuildFailed";
  })) << run({"get", "pods", "-o", "yaml"}).out;
  EXPECT_NE(pods("{.items[0].status.containerStatuses[0].state.waiting.message}")
                .find("broken: ../fail exists"),
            std::string::npos);

  fs::remove(project_ / "fail");
  r = run({"build"});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_FALSE(fs::exists(marker));
  EXPECT_TRUE(eventually([&] { return pods("{.items[0].status.phase}") == "Running"; }))
      << run({"get", "pods", "-o", "yaml"}).out;
}

TEST_F(DevTest, DevRestartsPodsOnChangesAndReappliesManifests) {
  start_dev();
  ASSERT_TRUE(eventually([&] {
    return dev_output().find("Watching for changes...") != std::string::npos &&
           !running_pods().empty();
  })) << dev_output();
  EXPECT_EQ(builds(), 1);  // dev builds first
  const std::string first = running_pods();
  // Every pod's log, with skaffold's [pod container] prefix.
  EXPECT_TRUE(eventually([&] {
    return dev_output().find(" app] hello from app") != std::string::npos;
  })) << dev_output();

  // A file the sync rule matches: the pods restart, nothing is built.
  std::ofstream(app_ / "index.js") << "// v2\n";
  ASSERT_TRUE(eventually([&] { return rolled_from(first); })) << dev_output();
  EXPECT_NE(dev_output().find("Syncing 1 files for test/app"), std::string::npos) << dev_output();
  // The Deployment rolls (a new ReplicaSet), rather than its pod being deleted.
  EXPECT_NE(dev_output().find("Rolling deployment/app-depl for test/app"), std::string::npos)
      << dev_output();
  EXPECT_EQ(dev_output().find("Restarting pods of"), std::string::npos) << dev_output();
  EXPECT_EQ(builds(), 1);

  // A build input: rebuilt first, then restarted.
  const std::string second = running_pods();
  std::ofstream(app_ / "input.txt") << "v2\n";
  ASSERT_TRUE(eventually([&] { return builds() == 2 && rolled_from(second); })) << dev_output();
  EXPECT_NE(dev_output().find("Rebuilding test/app"), std::string::npos) << dev_output();

  // A broken build: the new pod waits while the old one keeps running, and the watch goes on.
  std::ofstream(project_ / "fail") << "";
  std::ofstream(app_ / "input.txt") << "v3\n";
  ASSERT_TRUE(eventually([&] {
    return pods("{.items[*].status.containerStatuses[0].state.waiting.reason}") == "BuildFailed";
  })) << dev_output();
  EXPECT_FALSE(running_pods().empty()) << run({"get", "pods"}).out;
  fs::remove(project_ / "fail");
  std::ofstream(app_ / "input.txt") << "v4\n";
  ASSERT_TRUE(eventually([&] { return pods("{.items[*].status.phase}") == "Running"; }))
      << dev_output();

  // A changed manifest is applied again.
  std::ofstream(project_ / "k8s" / "app.yaml") << deployment(2);
  ASSERT_TRUE(eventually([&] {
    return run({"get", "deploy", "app-depl", "-o", "jsonpath={.spec.replicas}"}).out == "2";
  })) << dev_output();
  EXPECT_NE(dev_output().find("deployment.apps/app-depl configured"), std::string::npos)
      << dev_output();
  EXPECT_TRUE(eventually([&] {
    const std::string names = running_pods();
    return std::count(names.begin(), names.end(), ' ') == 2;
  })) << dev_output();

  // Ctrl-C: the control plane stops and dev exits 130.
  ASSERT_EQ(::kill(-dev_, SIGINT), 0);
  int status = 0;
  ASSERT_TRUE(eventually([&] { return ::waitpid(dev_, &status, WNOHANG) == dev_; }))
      << dev_output();
  dev_ = -1;
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status << "\n" << dev_output();
  EXPECT_EQ(WEXITSTATUS(status), 130) << dev_output();
  EXPECT_EQ(run({"get", "pods"}).status, 1);
}

}  // namespace
}  // namespace ticketctl
