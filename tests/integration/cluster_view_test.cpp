// What kubectl users see of the cluster itself, against a real control plane running one pod
// (tests/integration/programs/http_ok.js) behind a Service: the `localhost` Node, pods bound to
// it, EndpointSlices beside Endpoints, the `kubernetes` Service and API defaulting. Read through
// ticketctl's verbs, and through real kubectl where it is installed (else those tests skip).

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "tests/support/eventually.h"
#include "tests/support/kubectl.h"
#include "tests/support/process.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::Result;
using testing::ticketctl;

constexpr const char* kManifests = R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: web
          image: demo/web:v1
          ports: [{containerPort: 8080}]
          readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
)";

class ClusterViewTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() /
                         ("ticketctl-cluster-view-" + std::to_string(::getpid())));
    const fs::path project = *root_ / "project";
    fs::create_directories(project / "k8s");
    fs::copy_file(fs::path(TICKETCTL_SOURCE_DIR) / "tests/integration/programs/http_ok.js",
                  project / "http_ok.js");
    std::ofstream(project / "ticketctl.yaml")
        << "manifests: [k8s]\nimages:\n"
           "  demo/web: {context: ., command: [node, http_ok.js], env: {PORT: '8080'}}\n";
    std::ofstream(project / "k8s/app.yaml") << kManifests;
    const Result r = ticketctl({"up", "-d", "--timeout", "60s", "--state-dir", state().string()},
                               "", project.string());
    ASSERT_EQ(r.status, 0) << r.out << r.err;
  }

  static void TearDownTestSuite() {
    if (!root_) return;
    ticketctl({"down", "--state-dir", state().string()});
    std::error_code ec;
    fs::remove_all(*root_, ec);
    delete root_;
    root_ = nullptr;
  }

  void SetUp() override { ASSERT_TRUE(root_); }

  static fs::path state() { return *root_ / "state"; }
  static Result run(std::vector<std::string> args) {
    args.push_back("--state-dir");
    args.push_back(state().string());
    return ticketctl(std::move(args));
  }
  static json get_json(const std::string& kind, const std::string& name = "") {
    const Result r =
        name.empty() ? run({"get", kind, "-o", "json"}) : run({"get", kind, name, "-o", "json"});
    EXPECT_EQ(r.status, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }
  // Exit status, and stdout with stderr after it.
  static std::pair<int, std::string> kubectl(const std::string& args) {
    const Result r = testing::kubectl(state() / "kubeconfig", args, state(), state());
    return {r.status, r.out + r.err};
  }
  static std::string pod_ip() {
    const json pods = get_json("pods");
    return pods["items"].empty() ? "" : pods["items"][0]["status"].value("podIP", "");
  }

  static fs::path* root_;
};
fs::path* ClusterViewTest::root_ = nullptr;

TEST_F(ClusterViewTest, TheLocalhostNodeIsThisMachineAndPodsRunOnIt) {
  const Result nodes = run({"get", "nodes"});
  ASSERT_EQ(nodes.status, 0) << nodes.err;
  EXPECT_NE(nodes.out.find("localhost   Ready    control-plane"), std::string::npos) << nodes.out;
  const json node = get_json("node", "localhost");
  EXPECT_EQ(node["status"]["capacity"]["cpu"], std::to_string(::sysconf(_SC_NPROCESSORS_ONLN)));
  const std::string memory = node["status"]["capacity"]["memory"];
  EXPECT_TRUE(memory.ends_with("Ki") && memory.size() > 3) << memory;
  EXPECT_EQ(node["status"]["addresses"][0]["address"], "127.0.0.1");
  EXPECT_EQ(node["status"]["nodeInfo"]["operatingSystem"], "linux");
  EXPECT_FALSE(node["status"]["nodeInfo"].value("kernelVersion", "").empty());

  const Result describe = run({"describe", "node", "localhost"});
  ASSERT_EQ(describe.status, 0) << describe.err;
  EXPECT_NE(describe.out.find("  Ready           True    KubeletReady"), std::string::npos)
      << describe.out;
  EXPECT_NE(describe.out.find("  cpu:     " + std::to_string(::sysconf(_SC_NPROCESSORS_ONLN))),
            std::string::npos)
      << describe.out;
  EXPECT_NE(describe.out.find("  InternalIP:  127.0.0.1"), std::string::npos) << describe.out;
  EXPECT_EQ(describe.out.find("Namespace:"), std::string::npos) << describe.out;

  const json pods = get_json("pods");
  ASSERT_EQ(pods["items"].size(), 1u);
  EXPECT_EQ(pods["items"][0]["spec"]["nodeName"], "localhost");
  EXPECT_EQ(pods["items"][0]["status"]["hostIP"], "127.0.0.1");
  const Result wide = run({"get", "pods", "-o", "wide"});
  EXPECT_NE(wide.out.find(" localhost "), std::string::npos) << wide.out;

  // The Node is the machine: clients cannot delete or replace it.
  const Result del = run({"delete", "node", "localhost"});
  EXPECT_NE(del.status, 0);
  EXPECT_NE(del.err.find("not allowed on nodes"), std::string::npos) << del.err;
}

TEST_F(ClusterViewTest, ObjectsCarryTheApiServersDefaults) {
  const json d = get_json("deployment", "web");
  EXPECT_EQ(d["spec"]["strategy"], json::parse(R"({"type": "RollingUpdate",
    "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})"));
  EXPECT_EQ(d["spec"]["revisionHistoryLimit"], 10);
  EXPECT_EQ(d["spec"]["progressDeadlineSeconds"], 600);
  const json& c = d["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(c["imagePullPolicy"], "IfNotPresent");  // tagged :v1
  EXPECT_EQ(c["terminationMessagePath"], "/dev/termination-log");
  EXPECT_EQ(d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"], 2);  // as written
  const json svc = get_json("service", "web");
  EXPECT_EQ(svc["spec"]["sessionAffinity"], "None");
  EXPECT_EQ(svc["spec"]["ipFamilies"], json::array({"IPv4"}));
  // An unchanged manifest applied again stays unchanged: defaults do not count as a change.
  const Result again = ticketctl(
      {"apply", "-f", (*root_ / "project/k8s").string(), "--state-dir", state().string()});
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.out.find("deployment.apps/web unchanged"), std::string::npos) << again.out;
  EXPECT_EQ(get_json("replicasets")["items"].size(), 1u);
}

TEST_F(ClusterViewTest, EndpointSlicesMirrorEndpointsAndTheKubernetesServiceComesBack) {
  std::string ip;
  ASSERT_TRUE(
      testing::eventually([&] { return !(ip = pod_ip()).empty(); }, std::chrono::seconds(20)));
  json slice;
  ASSERT_TRUE(testing::eventually(
      [&] {
        const json slices = get_json("endpointslices");
        for (const json& s : slices["items"])
          if (s["metadata"]["labels"].value("kubernetes.io/service-name", "") == "web") slice = s;
        return !slice.is_null() && !slice["endpoints"].empty() &&
               slice["endpoints"][0]["conditions"]["ready"] == true;
      },
      std::chrono::seconds(20)))
      << slice.dump();
  EXPECT_EQ(slice["addressType"], "IPv4");
  EXPECT_EQ(slice["endpoints"][0]["addresses"][0], ip);
  EXPECT_EQ(slice["endpoints"][0]["targetRef"]["kind"], "Pod");
  EXPECT_EQ(slice["ports"], json::parse(R"([{"name": "http", "port": 8080, "protocol": "TCP"}])"));
  const Result table = run({"get", "endpointslices"});
  EXPECT_NE(table.out.find("IPv4          8080    " + ip), std::string::npos) << table.out;

  // The kubernetes Service points at this API; deleted, it is put back.
  const json kube = get_json("endpoints", "kubernetes");
  const json info = json::parse(testing::slurp(state() / "apiserver.json"));
  EXPECT_EQ(kube["subsets"][0]["ports"][0]["port"], info["port"]);
  EXPECT_EQ(kube["subsets"][0]["addresses"][0]["ip"], "127.0.0.1");
  ASSERT_EQ(run({"delete", "service", "kubernetes"}).status, 0);
  EXPECT_TRUE(testing::eventually(
      [&] {
        return run({"get", "service", "kubernetes"}).status == 0 &&
               run({"get", "endpoints", "kubernetes"}).status == 0;
      },
      std::chrono::seconds(15)));
  EXPECT_EQ(get_json("service", "kubernetes")["spec"]["ports"][0]["port"], 443);
}

TEST_F(ClusterViewTest, RealKubectlSeesANodeEndpointsAndDefaults) {
  if (!testing::kubectl_installed())
    GTEST_SKIP() << "kubectl is not on PATH (it is not packaged by Debian); skipped";
  auto [nodes_status, nodes] = kubectl("get nodes --no-headers");
  ASSERT_EQ(nodes_status, 0) << nodes;
  EXPECT_EQ(nodes.rfind("localhost   Ready   control-plane", 0), 0u) << nodes;
  EXPECT_EQ(std::count(nodes.begin(), nodes.end(), '\n'), 1) << nodes;

  auto [node_status, node] = kubectl("describe node localhost");
  ASSERT_EQ(node_status, 0) << node;
  EXPECT_NE(node.find("cpu:     " + std::to_string(::sysconf(_SC_NPROCESSORS_ONLN))),
            std::string::npos)
      << node;
  EXPECT_NE(node.find("InternalIP:  127.0.0.1"), std::string::npos) << node;
  EXPECT_EQ(node.find("Failed to get lease"), std::string::npos) << node;

  std::string ip;
  ASSERT_TRUE(
      testing::eventually([&] { return !(ip = pod_ip()).empty(); }, std::chrono::seconds(20)));
  std::string svc;
  EXPECT_TRUE(testing::eventually(
      [&] {
        svc = kubectl("describe svc web").second;
        return svc.find("Endpoints:                " + ip + ":8080") != std::string::npos;
      },
      std::chrono::seconds(20)))
      << svc;

  auto [slices_status, slices] = kubectl("get endpointslices");
  ASSERT_EQ(slices_status, 0) << slices;
  EXPECT_NE(slices.find("ADDRESSTYPE"), std::string::npos) << slices;
  EXPECT_NE(slices.find(ip), std::string::npos) << slices;

  auto [deploy_status, deploy] = kubectl("describe deployment web");
  ASSERT_EQ(deploy_status, 0) << deploy;
  EXPECT_NE(deploy.find("StrategyType:           RollingUpdate"), std::string::npos) << deploy;

  auto [kube_status, kube] = kubectl("get service kubernetes -o jsonpath={.spec.ports[0].port}");
  EXPECT_EQ(kube_status, 0) << kube;
  EXPECT_EQ(kube, "443");
}

}  // namespace
}  // namespace ticketctl
