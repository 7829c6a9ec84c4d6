// Rollouts end to end: a control plane (`up -d` in a temporary state directory) running a small
// node HTTP server as pods, driven by `wait`, `scale`, `rollout` and `delete pod`, with a watch
// on the pods checking that a rolling restart never has fewer ready pods than allowed.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "runtime/api/client.h"
#include "runtime/daemon/state_dir.h"
#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using testing::Result;

// Three replicas, one extra pod at a time, none unavailable.
constexpr const char* kDeployment = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: web
          image: demo/web
          ports: [{containerPort: 8080}]
)";

class RolloutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(project_ / "k8s");
    std::ofstream(project_ / "k8s" / "web.yaml") << kDeployment;
    // Readiness is ticketctl's default: the first declared containerPort accepts connections.
    std::ofstream(project_ / "ticketctl.yaml")
        << "manifests: [k8s]\n"
           "images:\n"
           "  demo/web:\n"
           "    context: "
        << (fs::path(TICKETCTL_SOURCE_DIR) / "tests/integration/programs").string()
        << "\n"
           "    command: [node, http_ok.js]\n"
           "  demo/slow-stop:\n"
           "    context: "
        << (fs::path(TICKETCTL_SOURCE_DIR) / "tests/integration/programs").string()
        << "\n"
           "    command: [sh, slow_stop.sh]\n"
           "restartBackoff: {initial: 200ms, max: 1s}\n"
           "ingress: {http: -1, https: -1}\n";
    Result up = run({"up", "-d"});
    ASSERT_EQ(up.status, 0) << up.out << up.err;
  }
  void TearDown() override { run({"down"}); }

  Result run(std::vector<std::string> args) {
    args.push_back("--state-dir");
    args.push_back(state_.string());
    return testing::ticketctl(std::move(args), "", project_.string());
  }
  api::ApiClient client() {
    auto c = daemon::connection_for(daemon::StateDir{state_});
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    return api::ApiClient(c.value());
  }
  std::vector<std::string> pod_names() {
    Result r = run({"get", "pods", "-l", "app=web", "-o", "name"});
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t eol; (eol = r.out.find('\n', start)) != std::string::npos; start = eol + 1)
      out.push_back(r.out.substr(start, eol - start));
    return out;
  }

  ticketctl::testing::TempDir tmp_{"ticketctl-rollout"};
  const fs::path state_ = tmp_.path() / "state";
  const fs::path project_ = tmp_.path() / "project";
};

bool ready(const Json& pod) {
  for (const Json& c : json_at(json_at(pod, "status"), "conditions"))
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  return false;
}

TEST_F(RolloutTest, WaitForReadyPodsAndItsTimeout) {
  Result wait = run({"wait", "--for=condition=Ready", "pod", "-l", "app=web", "--timeout", "60s"});
  ASSERT_EQ(wait.status, 0) << wait.out << wait.err;
  EXPECT_TRUE(wait.out.starts_with("pod/web-")) << wait.out;
  EXPECT_TRUE(wait.out.ends_with(" condition met\n")) << wait.out;

  Result phase = run({"wait", "--for=jsonpath={.status.phase}=Running", "pods", "--all"});
  EXPECT_EQ(phase.status, 0) << phase.err;
  EXPECT_TRUE(phase.out.ends_with(" condition met\n")) << phase.out;
  Result available = run({"wait", "--for=condition=Available", "deploy/web", "--timeout", "60s"});
  EXPECT_EQ(available.status, 0) << available.err;
  EXPECT_EQ(available.out, "deployment.apps/web condition met\n");

  // A condition that never holds: kubectl's message and exit status 1 after the timeout.
  const auto start = std::chrono::steady_clock::now();
  Result timeout =
      run({"wait", "--for=condition=Ready=false", "pod", "-l", "app=web", "--timeout", "1s"});
  EXPECT_EQ(timeout.status, 1);
  EXPECT_TRUE(timeout.err.starts_with("error: timed out waiting for the condition on pods/web-"))
      << timeout.err;
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));

  Result none = run({"wait", "--for=condition=Ready", "pod", "-l", "app=nothing"});
  EXPECT_EQ(none.status, 1);
  EXPECT_EQ(none.err, "error: no matching resources found\n");
}

TEST_F(RolloutTest, ScaleToThreeAndBackToOne) {
  Result up = run({"scale", "deploy/web", "--replicas", "3"});
  ASSERT_EQ(up.status, 0) << up.err;
  EXPECT_EQ(up.out, "deployment.apps/web scaled\n");
  Result status = run({"rollout", "status", "deploy/web", "--timeout", "60s"});
  ASSERT_EQ(status.status, 0) << status.out << status.err;
  EXPECT_TRUE(status.out.ends_with("deployment \"web\" successfully rolled out\n")) << status.out;
  EXPECT_EQ(pod_names().size(), 3u);
  Result get = run({"get", "deploy", "web"});
  EXPECT_NE(get.out.find("web    3/3     3            3"), std::string::npos) << get.out;

  Result down = run({"scale", "deployment", "web", "--replicas=1"});
  ASSERT_EQ(down.status, 0) << down.err;
  ASSERT_EQ(run({"rollout", "status", "deploy/web", "--timeout", "60s"}).status, 0);
  // The two pods scaled away are Terminating until their processes are gone, as in a cluster.
  EXPECT_TRUE(
      testing::eventually([&] { return pod_names().size() == 1; }, std::chrono::seconds(30)));

  Result bad = run({"scale", "svc/web", "--replicas", "2"});
  EXPECT_EQ(bad.status, 1);
  Result missing = run({"scale", "deploy/nope", "--replicas", "2"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.err, "Error from server (NotFound): deployments.apps \"nope\" not found\n");
}

TEST_F(RolloutTest, RollingRestartKeepsEveryReplicaReadyThenHistoryUndoAndDeletePod) {
  // Each new pod counts as available 1 s after it is ready, so the rollout below lasts at least
  // 3 s and `rollout status` (one CLI call later) sees it in progress even on a loaded machine.
  // minReadySeconds is outside the template: this patch starts no rollout of its own.
  const Result slow = run({"patch", "deploy/web", "-p", R"({"spec":{"minReadySeconds":1}})"});
  ASSERT_EQ(slow.status, 0) << slow.err;
  ASSERT_EQ(run({"scale", "deploy/web", "--replicas", "3"}).status, 0);
  ASSERT_EQ(run({"rollout", "status", "deploy/web", "--timeout", "60s"}).status, 0);
  const std::vector<std::string> before = pod_names();
  ASSERT_EQ(before.size(), 3u);

  // Every pod change as it happens; the count only counts once all three were seen ready.
  std::atomic<bool> stop{false};
  std::atomic<int> fewest_ready{1 << 30};
  std::atomic<int> events{0};
  std::thread watcher([&] {
    api::ApiClient c = client();
    std::map<std::string, bool> pods;
    bool armed = false;
    c.watch("/api/v1/namespaces/default/pods?labelSelector=app%3Dweb&watch=1", [&](const Json& e) {
      if (stop) return false;
      const std::string name = e["object"]["metadata"]["name"];
      if (e["type"] == "DELETED")
        pods.erase(name);
      else
        pods[name] = ready(e["object"]);
      int n = 0;
      for (const auto& [pod, is_ready] : pods) n += is_ready ? 1 : 0;
      armed = armed || n == 3;
      if (armed) fewest_ready = std::min(fewest_ready.load(), n);
      ++events;
      return true;
    });
  });
  Result restart = run({"rollout", "restart", "deploy/web"});
  ASSERT_EQ(restart.status, 0) << restart.err;
  EXPECT_EQ(restart.out, "deployment.apps/web restarted\n");
  Result status = run({"rollout", "status", "deploy/web", "--timeout", "60s"});
  EXPECT_EQ(status.status, 0) << status.out << status.err;
  EXPECT_NE(status.out.find("Waiting for deployment \"web\" rollout to finish: "),
            std::string::npos)
      << status.out;
  EXPECT_TRUE(status.out.ends_with("deployment \"web\" successfully rolled out\n")) << status.out;
  // The pod that ends the watch (deleted below) is not counted.
  stop = true;
  // The old pods are Terminating until their processes are gone, as in a cluster.
  std::vector<std::string> after;
  ASSERT_TRUE(testing::eventually([&] { return (after = pod_names()).size() == 3; },
                                  std::chrono::seconds(30)))
      << after.size();
  for (const std::string& p : after)
    EXPECT_EQ(std::count(before.begin(), before.end(), p), 0) << p << " was not replaced";

  ASSERT_EQ(run({"delete", "pod", after[0].substr(4)}).status, 0);
  watcher.join();
  EXPECT_GT(events.load(), 6);
  EXPECT_GE(fewest_ready.load(), 3) << "maxUnavailable is 0: never fewer than 3 ready pods";

  // The deleted pod is replaced by one with a new name.
  std::vector<std::string> now;
  testing::eventually(
      [&] {
        now = pod_names();
        return now.size() == 3 && std::count(now.begin(), now.end(), after[0]) == 0;
      },
      std::chrono::seconds(30));
  EXPECT_EQ(now.size(), 3u);
  EXPECT_EQ(std::count(now.begin(), now.end(), after[0]), 0);
  EXPECT_EQ(run({"wait", "--for=condition=Ready", "pod", "--all", "--timeout", "60s"}).status, 0);

  Result history = run({"rollout", "history", "deploy/web"});
  EXPECT_EQ(history.status, 0) << history.err;
  EXPECT_EQ(history.out,
            "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n");

  Result undo = run({"rollout", "undo", "deploy/web"});
  EXPECT_EQ(undo.status, 0) << undo.err;
  EXPECT_EQ(undo.out, "deployment.apps/web rolled back\n");
  EXPECT_EQ(run({"rollout", "status", "deploy/web", "--timeout", "60s"}).status, 0);
  Result template_back = run({"get", "deploy", "web", "-o", "json"});
  const Json d = Json::parse(template_back.out);
  EXPECT_FALSE(json_at(d["spec"]["template"]["metadata"], "annotations")
                   .contains("kubectl.kubernetes.io/restartedAt"));
  EXPECT_EQ(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "3");
  Result history2 = run({"rollout", "history", "deploy/web"});
  EXPECT_EQ(history2.out,
            "deployment.apps/web \nREVISION  CHANGE-CAUSE\n2         <none>\n3         <none>\n\n");
  Result missing = run({"rollout", "undo", "deploy/web", "--to-revision", "7"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.err, "error: unable to find specified revision 7 in history\n");
}

// Recreate: the new pods start only after the old ones have stopped, also when stopping takes
// a second (the old pods are Terminating meanwhile, not gone).
TEST_F(RolloutTest, RecreateNeverRunsOldAndNewPodsAtOnce) {
  const fs::path dir = tmp_.path() / "runs";
  fs::create_directories(dir);
  std::ofstream(project_ / "recreate.yaml")
      << "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: once}\nspec:\n"
         "  replicas: 2\n  strategy: {type: Recreate}\n"
         "  selector: {matchLabels: {app: once}}\n"
         "  template:\n    metadata: {labels: {app: once}}\n    spec:\n"
         "      terminationGracePeriodSeconds: 10\n"
         "      containers:\n      - name: main\n        image: demo/slow-stop\n"
         "        env: [{name: DIR, value: '"
      << dir.string() << "'}]\n";
  ASSERT_EQ(run({"apply", "-f", (project_ / "recreate.yaml").string()}).status, 0);
  ASSERT_EQ(run({"rollout", "status", "deploy/once", "--timeout", "60s"}).status, 0);
  ASSERT_EQ(run({"rollout", "restart", "deploy/once"}).status, 0);
  const Result status = run({"rollout", "status", "deploy/once", "--timeout", "60s"});
  ASSERT_EQ(status.status, 0) << status.out << status.err;
  // Four runs: two old ones that stopped, two new ones that started (a Ready pod's program may
  // not have written its line yet).
  std::vector<int64_t> stops, starts_of_running;
  ASSERT_TRUE(testing::eventually(
      [&] {
        stops.clear();
        starts_of_running.clear();
        for (const auto& entry : fs::directory_iterator(dir)) {
          std::ifstream in(entry.path());
          std::string word;
          int64_t start = 0, stop = 0;
          while (in >> word) (word == "start" ? in >> start : in >> stop);
          if (stop != 0)
            stops.push_back(stop);
          else if (start != 0)
            starts_of_running.push_back(start);
        }
        return stops.size() + starts_of_running.size() == 4;
      },
      std::chrono::seconds(10)));
  ASSERT_EQ(stops.size(), 2u);
  ASSERT_EQ(starts_of_running.size(), 2u);
  EXPECT_LT(*std::max_element(stops.begin(), stops.end()),
            *std::min_element(starts_of_running.begin(), starts_of_running.end()));
}

TEST_F(RolloutTest, WaitForDeleteReturnsOnceThePodIsGone) {
  ASSERT_EQ(run({"wait", "--for=condition=Ready", "pod", "--all", "--timeout", "60s"}).status, 0);
  const std::string pod = pod_names().at(0);
  std::thread deleter([&] { run({"delete", "pod", pod.substr(4)}); });
  Result gone = run({"wait", "--for=delete", pod, "--timeout", "60s"});
  deleter.join();
  EXPECT_EQ(gone.status, 0) << gone.err;
  // Already gone: nothing to wait for.
  EXPECT_EQ(run({"wait", "--for=delete", pod, "--timeout", "1s"}).status, 0);
}

// Real kubectl scales through the scale subresource. It is not in Debian's archive, so a
// machine without it skips this test and says so.
TEST_F(RolloutTest, RealKubectlScale) {
  if (std::system("command -v kubectl >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "kubectl is not on PATH (it is not packaged by Debian); skipped";
  const std::string cmd = "KUBECONFIG=" + (state_ / "kubeconfig").string() +
                          " kubectl scale deployment web --replicas=2 2>&1";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  EXPECT_EQ(WEXITSTATUS(::pclose(p)), 0) << out;
  EXPECT_EQ(out, "deployment.apps/web scaled\n");
  Result replicas = run({"get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"});
  EXPECT_EQ(replicas.out, "2");
  ASSERT_EQ(run({"rollout", "status", "deploy/web", "--timeout", "60s"}).status, 0);
  EXPECT_EQ(pod_names().size(), 2u);
}

}  // namespace
}  // namespace ticketctl
