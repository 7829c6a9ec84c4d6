// The readiness gate end to end: `up -d --timeout` and `ticketctl test --attach` against a real
// control plane running small programs (tests/integration/programs) as pods. Each case runs 5
// times and must give the same verdict, with the exit status the docs promise (0 stable,
// 1 failed, 3 timed out) and a report that names the pod and the error line.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "runtime/core/rfc3339.h"
#include "runtime/logs/pod_logs.h"
#include "runtime/manifest/json.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/timing.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using testing::Result;
using Clock = std::chrono::steady_clock;

constexpr int kRuns = 5;

std::string deployment(const std::string& name, const std::string& image,
                       const std::string& extra_spec = "",
                       const std::string& container_extra = "") {
  return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name + "\nspec:\n" +
         (extra_spec.find("replicas:") == std::string::npos ? "  replicas: 1\n" : "") + extra_spec +
         "  selector:\n    matchLabels: {app: " + name +
         "}\n  template:\n    metadata:\n      labels: {app: " + name +
         "}\n    spec:\n      terminationGracePeriodSeconds: 1\n      containers:\n"
         "        - name: main\n          image: " +
         image + "\n" + container_extra;
}

class GateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(project_ / "k8s");
    const std::string programs =
        (fs::path(TICKETCTL_SOURCE_DIR) / "tests/integration/programs").string();
    // Crash loops restart after 100 ms, so two crashes take well under a second.
    std::ofstream(project_ / "ticketctl.yaml") << "manifests: [k8s]\n"
                                                  "images:\n"
                                                  "  demo/web: {context: "
                                               << programs
                                               << ", command: [node, http_ok.js]}\n"
                                                  "  demo/refused: {context: "
                                               << programs
                                               << ", command: [node, connect_refused.js]}\n"
                                                  "restartBackoff: {initial: 100ms, max: 400ms}\n"
                                                  "ingress: {http: -1, https: -1}\n";
  }
  void TearDown() override { run({"down"}); }

  void write(const std::string& file, const std::string& text) {
    std::ofstream(project_ / "k8s" / file) << text;
  }
  Result run(std::vector<std::string> args) {
    args.push_back("--state-dir");
    args.push_back(state_.string());
    return testing::ticketctl(std::move(args), "", project_.string());
  }
  // The gate over a running control plane: `ticketctl test --attach` with no checks.
  Result gate(const std::string& timeout) {
    std::ofstream(project_ / "none.yaml") << "checks: []\n";
    return run({"test", "--attach", "-f", (project_ / "none.yaml").string(), "--timeout", timeout});
  }

  ticketctl::testing::TempDir tmp_{"ticketctl-gate"};
  const fs::path state_ = tmp_.path() / "state";
  const fs::path project_ = tmp_.path() / "project";
};

TEST_F(GateTest, ACrashLoopFailsWithinTwoCrashesNamingThePodAndItsErrorLine) {
  write("app.yaml",
        deployment("web", "demo/web") + "---\n" + deployment("db-client", "demo/refused"));
  for (int i = 0; i < kRuns; ++i) {
    const auto start = Clock::now();
    Result up = run({"up", "-d", "--timeout", "60s"});
    const auto took = Clock::now() - start;
    EXPECT_EQ(up.status, 1) << "run " << i << "\n" << up.out << up.err;
    // Not the timeout: two crashes with a 100 ms back-off.
    EXPECT_LT(took, std::chrono::seconds(20)) << up.out;
    EXPECT_NE(up.out.find("default:deployment/db-client: pod db-client-"), std::string::npos)
        << up.out;
    // Two crashes in the first run; the pod keeps its restart count across down and up.
    EXPECT_NE(up.out.find(" times (exit code 1); the gate allows 2 (--max-restarts)"),
              std::string::npos)
        << up.out;
    // The error line and the stack's first frame, not the tail of Node's output.
    EXPECT_NE(up.out.find("    > Error: connect ECONNREFUSED 127.0.0.1:1\n"
                          "    >     at TCPConnectWrap.afterConnect"),
              std::string::npos)
        << up.out;
    EXPECT_EQ(up.out.find("> Node.js v"), std::string::npos) << up.out;
    EXPECT_NE(up.out.find("deployments failed after"), std::string::npos) << up.out;
    EXPECT_EQ(run({"down"}).status, 0);
  }
}

TEST_F(GateTest, AnUnmappedImageInANewTemplateFailsAtOnceAlthoughTheOldPodIsReady) {
  write("app.yaml",
        deployment("web", "demo/web", "", "          ports: [{containerPort: 8080}]\n"));
  Result up = run({"up", "-d", "--timeout", "60s"});
  ASSERT_EQ(up.status, 0) << up.out << up.err;
  for (int i = 0; i < kRuns; ++i) {
    write("app.yaml", deployment("web", "nobody/maps-this-" + std::to_string(i), "",
                                 "          ports: [{containerPort: 8080}]\n"));
    Result apply = run({"apply", "-f", (project_ / "k8s").string()});
    ASSERT_EQ(apply.status, 0) << apply.err;
    const auto start = Clock::now();
    Result g = gate("60s");
    EXPECT_EQ(g.status, 1) << "run " << i << "\n" << g.out << g.err;
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(10)) << g.out;
    EXPECT_NE(g.out.find("ErrImageNotMapped"), std::string::npos) << g.out;
    EXPECT_NE(g.out.find("nobody/maps-this-" + std::to_string(i)), std::string::npos) << g.out;
    // The old pod still serves.
    Result ready = run({"get", "pods", "-l", "app=web"});
    EXPECT_NE(ready.out.find("1/1     Running"), std::string::npos) << ready.out;
  }
}

TEST_F(GateTest, AReadinessProbeThatNeverPassesFailsAtTheProgressDeadlineNamingTheProbe) {
  const std::string probe =
      "          readinessProbe:\n"
      "            exec: {command: [sh, -c, 'echo database not reachable; exit 1']}\n"
      "            periodSeconds: 1\n";
  write("app.yaml", deployment("web", "demo/web"));
  Result up = run({"up", "-d", "--timeout", "60s"});
  ASSERT_EQ(up.status, 0) << up.out << up.err;
  for (int i = 0; i < kRuns; ++i) {
    const std::string name = "unready-" + std::to_string(i);
    write("unready.yaml", deployment(name, "demo/web", "  progressDeadlineSeconds: 2\n", probe));
    ASSERT_EQ(run({"apply", "-f", (project_ / "k8s" / "unready.yaml").string()}).status, 0);
    const auto start = Clock::now();
    Result g = gate("60s");
    const auto took = Clock::now() - start;
    EXPECT_EQ(g.status, 1) << "run " << i << "\n" << g.out << g.err;
    EXPECT_GE(took, std::chrono::seconds(1)) << g.out;
    EXPECT_LT(took, std::chrono::seconds(20)) << g.out;
    EXPECT_NE(g.out.find("default:deployment/" + name + ": exceeded its progress deadline (2s)"),
              std::string::npos)
        << g.out;
    EXPECT_NE(g.out.find("event: Unhealthy: Readiness probe failed: database not reachable"),
              std::string::npos)
        << g.out;
    ASSERT_EQ(run({"delete", "deployment", name}).status, 0);
  }
}

TEST_F(GateTest, AMissingSecretBlocksWithTheCommandThatCreatesItAndTimesOutWithThree) {
  write("app.yaml",
        deployment("web", "demo/web", "",
                   "          env:\n"
                   "            - name: JWT_KEY\n"
                   "              valueFrom: {secretKeyRef: {name: jwt-secret, key: JWT_KEY}}\n"));
  for (int i = 0; i < kRuns; ++i) {
    Result up = run({"up", "-d", "--timeout", "1500ms"});
    EXPECT_EQ(up.status, 3) << "run " << i << "\n" << up.out << up.err;
    EXPECT_NE(up.out.find("CreateContainerConfigError"), std::string::npos) << up.out;
    EXPECT_NE(up.out.find("hint: create what it reads, e.g. `kubectl create secret generic"),
              std::string::npos)
        << up.out;
    EXPECT_NE(up.out.find("deployments did not stabilize within 1.5s: default:deployment/web"),
              std::string::npos)
        << up.out;
    EXPECT_EQ(run({"down"}).status, 0);
  }
}

TEST_F(GateTest, AHealthyAppPassesWithinASecondOfItsLastReadyPod) {
  write("app.yaml",
        deployment("web", "demo/web", "  replicas: 2\n",
                   "          ports: [{containerPort: 8080}]\n") +
            "---\n" +
            deployment("other", "demo/web", "", "          ports: [{containerPort: 8080}]\n"));
  for (int i = 0; i < kRuns; ++i) {
    Result up = run({"up", "-d", "--timeout", "60s"});
    const int64_t returned_ns = logs::unix_now_ns();
    ASSERT_EQ(up.status, 0) << "run " << i << "\n" << up.out << up.err;
    EXPECT_NE(up.out.find("Deployments stabilized in"), std::string::npos) << up.out;
    // The newest Ready time of any pod; the API's times have whole seconds.
    Result pods = run({"get", "pods", "-o", "json"});
    ASSERT_EQ(pods.status, 0) << pods.err;
    int64_t last_ready_ns = 0;
    const Json list = Json::parse(pods.out);
    for (const Json& p : list["items"])
      for (const Json& c : p["status"]["conditions"])
        if (c["type"] == "Ready" && c["status"] == "True")
          last_ready_ns =
              std::max(last_ready_ns,
                       rfc3339::parse_nanos(c["lastTransitionTime"].get<std::string>()).value());
    ASSERT_GT(last_ready_ns, 0) << "run " << i << "\n" << up.out << pods.out;
    // Within 1 s of the last Ready, plus the second its timestamp drops.
    EXPECT_LT(std::chrono::nanoseconds(returned_ns - last_ready_ns),
              ticketctl::testing::time_bound(std::chrono::seconds(1)) + std::chrono::seconds(1))
        << up.out;
    EXPECT_EQ(run({"down"}).status, 0);
  }
}

}  // namespace
}  // namespace ticketctl
