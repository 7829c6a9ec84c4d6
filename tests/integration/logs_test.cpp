// Container logs end to end: a control plane in a temporary state directory runs small shell
// programs (tests/integration/programs) as pods, and `ticketctl logs` (and real kubectl) read
// them through the API's pods/log subresource.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <sstream>

#include "tests/support/background.h"
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
                std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  return testing::eventually(condition, limit);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class LogsTest : public ::testing::Test {
 protected:
  void TearDown() override { ticketctl({"down", "--state-dir", state_.string()}); }

  Result run(std::vector<std::string> args) {
    args.push_back("--state-dir");
    args.push_back(state_.string());
    return ticketctl(std::move(args), "", project_.string());
  }

  // Writes a project whose images each run one program under tests/integration/programs, with
  // `manifests` as its only manifest file, and starts its control plane.
  void up(const std::vector<std::pair<std::string, std::string>>& images,
          const std::string& manifests) {
    fs::create_directories(project_ / "k8s");
    std::ofstream config(project_ / "ticketctl.yaml");
    config << "manifests: [k8s]\nrestartBackoff: {initial: 200ms, max: 1s}\nimages:"
           << (images.empty() ? " {}\n" : "\n");
    for (const auto& [image, program] : images) {
      fs::copy_file(fs::path(TICKETCTL_SOURCE_DIR) / "tests/integration/programs" / program,
                    project_ / program, fs::copy_options::overwrite_existing);
      config << "  " << image << ": {context: ., command: [sh, " << program << "]}\n";
    }
    config.close();
    std::ofstream(project_ / "k8s/app.yaml") << manifests;
    Result r = ticketctl({"up", "-d", "--state-dir", state_.string()}, "", project_.string());
    ASSERT_EQ(r.status, 0) << r.out << r.err;
  }

  // Polls `logs ARGS` until its output contains `text`; returns the last output.
  Result logs_until(std::vector<std::string> args, const std::string& text) {
    args.insert(args.begin(), "logs");
    Result last;
    eventually([&] {
      last = run(args);
      return last.status == 0 && last.out.find(text) != std::string::npos;
    });
    return last;
  }

  static std::string pod(const std::string& name, const std::string& image,
                         const std::string& extra = "") {
    return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n  labels: {app: " + name +
           "}\nspec:\n" + extra + "  containers:\n    - name: app\n      image: " + image + "\n";
  }

  ticketctl::testing::TempDir tmp_{"ticketctl-logs"};
  const fs::path state_ = tmp_.path() / "state";
  const fs::path project_ = tmp_.path() / "project";
};

TEST_F(LogsTest, ShowsARunningPodsLinesWithTailAndTimestamps) {
  up({{"demo/lines", "lines.sh"}}, pod("lines", "demo/lines"));
  Result all = logs_until({"lines"}, "line 5\n");
  ASSERT_EQ(all.status, 0) << all.err;
  EXPECT_EQ(all.out, "line 1\nline 2\nline 3\nline 4\nline 5\n");
  EXPECT_EQ(run({"logs", "pod/lines"}).out, all.out);

  Result tail = run({"logs", "lines", "--tail", "2"});
  EXPECT_EQ(tail.status, 0) << tail.err;
  EXPECT_EQ(tail.out, "line 4\nline 5\n");

  Result stamped = run({"logs", "lines", "--timestamps", "--tail", "1"});
  EXPECT_EQ(stamped.status, 0) << stamped.err;
  EXPECT_TRUE(std::regex_match(stamped.out,
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line 5\n)")))
      << stamped.out;

  EXPECT_EQ(run({"logs", "lines", "--since", "1h"}).out, all.out);
  EXPECT_EQ(run({"logs", "lines", "--prefix", "--tail", "1"}).out, "[pod/lines/app] line 5\n");

  Result missing = run({"logs", "nope"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.err, "Error from server (NotFound): pods \"nope\" not found\n");
  Result bad_since = run({"logs", "lines", "--since", "soon"});
  EXPECT_EQ(bad_since.status, 1);
  EXPECT_NE(bad_since.err.find("--since"), std::string::npos) << bad_since.err;
  EXPECT_EQ(run({"logs"}).status, 2);
}

TEST_F(LogsTest, AContainerThatNeverStartedIsWaitingToStart) {
  up({}, pod("unmapped", "demo/unmapped"));
  Result waiting;
  EXPECT_TRUE(eventually([&] {
    waiting = run({"logs", "unmapped"});
    return waiting.err.find("ErrImageNotMapped") != std::string::npos;
  })) << waiting.err;
  EXPECT_EQ(waiting.status, 1);
  EXPECT_EQ(waiting.err,
            "Error from server (BadRequest): container \"app\" in pod \"unmapped\" is waiting to "
            "start: ErrImageNotMapped\n");
}

TEST_F(LogsTest, ContainerIsChosenWithDashCAndRequiredWhenThereAreSeveral) {
  up({{"demo/say", "say.sh"}}, R"(apiVersion: v1
kind: Pod
metadata:
  name: two
spec:
  containers:
    - name: a
      image: demo/say
      env: [{name: WHO, value: a}]
    - name: b
      image: demo/say
      env: [{name: WHO, value: b}]
)");
  Result a = logs_until({"two", "-c", "a"}, "from a\n");
  EXPECT_EQ(a.out, "from a\n") << a.err;
  Result b = logs_until({"two", "-c", "b"}, "from b\n");  // its stderr
  EXPECT_EQ(b.out, "from b\n") << b.err;
  EXPECT_EQ(run({"logs", "two", "b"}).out, "from b\n");  // kubectl's POD CONTAINER form

  Result neither = run({"logs", "two"});
  EXPECT_EQ(neither.status, 1);
  EXPECT_EQ(neither.err,
            "Error from server (BadRequest): a container name must be specified for pod two, "
            "choose one of: [a b]\n");
  Result unknown = run({"logs", "two", "-c", "c"});
  EXPECT_EQ(unknown.status, 1);
  EXPECT_EQ(unknown.err, "Error from server (BadRequest): container c is not valid for pod two\n");
  Result no_previous = run({"logs", "two", "-c", "a", "--previous"});
  EXPECT_EQ(no_previous.status, 1);
  EXPECT_EQ(no_previous.err,
            "Error from server (BadRequest): previous terminated container \"a\" in pod \"two\" "
            "not found\n");

  Result both = run({"logs", "two", "--all-containers", "--prefix"});
  EXPECT_EQ(both.status, 0) << both.err;
  EXPECT_EQ(both.out, "[pod/two/a] from a\n[pod/two/b] from b\n");
}

TEST_F(LogsTest, PreviousShowsTheRunBeforeACrashRestart) {
  up({{"demo/crash", "crash_once.sh"}}, pod("crash", "demo/crash"));
  // The first run fails; the kubelet restarts it and the second run stays up.
  ASSERT_TRUE(eventually([&] {
    return run({"get", "pod", "crash", "-o",
                "jsonpath={.status.containerStatuses[0].restartCount} "
                "{.status.phase}"})
               .out == "1 Running";
  })) << run({"get", "pod", "crash", "-o", "yaml"}).out;
  Result current = logs_until({"crash"}, "run 2\n");
  EXPECT_EQ(current.out, "run 2\n") << current.err;
  Result previous = run({"logs", "crash", "--previous"});
  EXPECT_EQ(previous.status, 0) << previous.err;
  EXPECT_EQ(previous.out, "run 1\n");
  EXPECT_EQ(run({"logs", "crash", "-p"}).out, "run 1\n");
}

TEST_F(LogsTest, FollowPrintsLinesAsTheyAreWrittenAndEndsWithTheContainer) {
  up({{"demo/files", "until_files.sh"}}, pod("follow", "demo/files", "  restartPolicy: Never\n"));
  ASSERT_EQ(logs_until({"follow"}, "ready \n").out, "ready \n");
  testing::Background follow(
      {TICKETCTL_BIN, "logs", "-f", "follow", "--state-dir", state_.string()},
      tmp_.path() / "bg.out");
  ASSERT_TRUE(eventually([&] { return follow.out() == "ready \n"; })) << follow.err();
  std::ofstream(project_ / "go").close();  // the program prints its next line now
  ASSERT_TRUE(eventually([&] { return follow.out() == "ready \nafter go \n"; })) << follow.out();
  std::ofstream(project_ / "stop").close();  // and exits
  EXPECT_EQ(follow.wait(std::chrono::seconds(30)), 0) << follow.err();
  EXPECT_EQ(follow.out(), "ready \nafter go \nbye \n");
}

TEST_F(LogsTest, DeploymentPicksOneOfItsPods) {
  up({{"demo/lines", "lines.sh"}}, R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: app
          image: demo/lines
)");
  Result logs = logs_until({"deploy/web", "--tail", "1"}, "line 5\n");
  EXPECT_EQ(logs.out, "line 5\n") << logs.err;
  EXPECT_EQ(run({"logs", "deployment/web", "--tail", "1"}).out, "line 5\n");
  Result missing = run({"logs", "deploy/nope"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.err, "Error from server (NotFound): deployments.apps \"nope\" not found\n");
}

TEST_F(LogsTest, SelectorShowsAndFollowsEveryPodWithPrefixes) {
  std::string manifests;
  for (const char* who : {"1", "2"})
    manifests += std::string("---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: duo-") + who +
                 "\n  labels: {app: duo}\nspec:\n  restartPolicy: Never\n  containers:\n"
                 "    - name: app\n      image: demo/files\n      env: [{name: WHO, value: \"" +
                 who + "\"}]\n";
  up({{"demo/files", "until_files.sh"}}, manifests);
  // Each pod writes its line when it gets to it: wait for the first, then for the second.
  ASSERT_EQ(logs_until({"-l", "app=duo"}, "[pod/duo-1/app] ready 1\n").status, 0);
  Result both = logs_until({"-l", "app=duo"}, "[pod/duo-2/app] ready 2\n");
  EXPECT_EQ(both.out, "[pod/duo-1/app] ready 1\n[pod/duo-2/app] ready 2\n") << both.err;

  testing::Background follow(
      {TICKETCTL_BIN, "logs", "-l", "app=duo", "-f", "--state-dir", state_.string()},
      tmp_.path() / "bg.out");
  ASSERT_TRUE(eventually([&] { return lines_of(follow.out()).size() == 2; })) << follow.err();
  std::ofstream(project_ / "go").close();
  std::ofstream(project_ / "stop").close();
  EXPECT_EQ(follow.wait(std::chrono::seconds(30)), 0) << follow.err();
  std::vector<std::string> lines = lines_of(follow.out());
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines,
            (std::vector<std::string>{"[pod/duo-1/app] after go 1", "[pod/duo-1/app] bye 1",
                                      "[pod/duo-1/app] ready 1", "[pod/duo-2/app] after go 2",
                                      "[pod/duo-2/app] bye 2", "[pod/duo-2/app] ready 2"}))
      << follow.out();

  Result none = run({"logs", "-l", "app=nobody"});
  EXPECT_EQ(none.status, 0);
  EXPECT_EQ(none.err, "No resources found in default namespace.\n");
}

// Real kubectl is the API's second client; it is not packaged by Debian, so a machine without it
// skips this test and says so.
TEST_F(LogsTest, RealKubectlReadsLogsThroughTheKubeconfig) {
  if (std::system("command -v kubectl >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "kubectl is not on PATH (it is not packaged by Debian); skipped";
  up({{"demo/lines", "lines.sh"}, {"demo/files", "until_files.sh"}},
     pod("lines", "demo/lines") + "---\n" +
         pod("follow", "demo/files", "  restartPolicy: Never\n"));
  ASSERT_EQ(logs_until({"lines"}, "line 5\n").status, 0);
  ASSERT_EQ(logs_until({"follow"}, "ready \n").status, 0);
  auto kubectl = [&](const std::string& args) {
    std::string out;
    FILE* p = ::popen(
        ("kubectl --kubeconfig " + (state_ / "kubeconfig").string() + " " + args + " 2>&1").c_str(),
        "r");
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    const int status = ::pclose(p);
    return std::make_pair(WEXITSTATUS(status), out);
  };
  auto [status, out] = kubectl("logs lines");
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out, "line 1\nline 2\nline 3\nline 4\nline 5\n");
  auto [tail_status, tail] = kubectl("logs lines --tail=2 --timestamps");
  EXPECT_EQ(tail_status, 0) << tail;
  EXPECT_TRUE(std::regex_match(tail, std::regex(R"((\S+Z line [45]\n){2})"))) << tail;
  auto [missing_status, missing] = kubectl("logs nope");
  EXPECT_NE(missing_status, 0);
  EXPECT_NE(missing.find("pods \"nope\" not found"), std::string::npos) << missing;

  // kubectl asks for gzip: a followed log must still arrive line by line, not at the end.
  const std::string kubeconfig = (state_ / "kubeconfig").string();
  testing::Background follow({"kubectl", "--kubeconfig", kubeconfig, "logs", "-f", "follow"},
                             tmp_.path() / "bg.out");
  ASSERT_TRUE(eventually([&] { return follow.out() == "ready \n"; })) << follow.err();
  std::ofstream(project_ / "go").close();
  std::ofstream(project_ / "stop").close();
  EXPECT_EQ(follow.wait(std::chrono::seconds(30)), 0) << follow.err();
  EXPECT_EQ(follow.out(), "ready \nafter go \nbye \n");
}

}  // namespace
}  // namespace ticketctl
