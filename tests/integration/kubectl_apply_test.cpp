// The course's `kubectl apply -f infra/k8s` against a real control plane: a legacy regex Ingress
// is converted (with kubectl's Warning) and stored as networking.k8s.io/v1; `up` and
// `ticketctl apply` write last-applied-configuration as kubectl does, so the two tools can take
// turns without warnings, new ReplicaSets or pod restarts; a `rollout restart` and a
// `kubectl scale` survive a later apply and `up`. Real kubectl is not in Debian's archive:
// without it on PATH every test says it skipped.

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <utility>

#include "tests/support/kubectl.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using testing::ticketctl;

constexpr const char* kDeployment = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-depl
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: demo/sleeper
          env:
            - {name: MODE, value: "a&b <c>"}
---
apiVersion: v1
kind: Service
metadata: {name: web-srv}
spec:
  selector: {app: web}
  ports: [{port: 3000, targetPort: 3000}]
)";

class KubectlApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::kubectl_installed())
      GTEST_SKIP() << "kubectl is not on PATH (it is not packaged by Debian); skipped";
    fs::create_directories(project() / "k8s");
    std::ofstream(project() / "ticketctl.yaml")
        << "images:\n"
           "  demo/sleeper: {context: ., command: [sleep, '600']}\n";
    std::ofstream(project() / "k8s/web.yaml") << kDeployment;
    fs::copy_file(
        fs::path(TICKETCTL_SOURCE_DIR) / "tests/fixtures/course-repo/infra/k8s/ingress-srv.yaml",
        project() / "k8s/ingress-srv.yaml");
  }

  void TearDown() override {
    if (started_) ticketctl({"down", "--state-dir", state().string()});
  }

  void up(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"up",  "-d",          "--timeout",
                                     "60s", "--state-dir", state().string()};
    args.insert(args.end(), extra.begin(), extra.end());
    const testing::Result r = ticketctl(args, "", project().string());
    started_ = true;
    ASSERT_EQ(r.status, 0) << r.out << r.err;
  }

  fs::path project() const { return dir_.path() / "project"; }
  fs::path state() const { return dir_.path() / "state"; }

  // kubectl with this control plane's kubeconfig: exit status, stdout, stderr.
  testing::Result kubectl(const std::string& args) const {
    return testing::kubectl(state() / "kubeconfig", args, project(), dir_.path());
  }

  std::string get(const std::string& what, const std::string& jsonpath) const {
    const testing::Result r = kubectl("get " + what + " -o jsonpath='" + jsonpath + "'");
    EXPECT_EQ(r.status, 0) << r.err;
    return r.out;
  }

  // Waits as a script would: the controller saw the latest spec and the rollout is complete.
  void settled() const {
    const testing::Result r = kubectl("rollout status deploy/web-depl --timeout=60s");
    ASSERT_EQ(r.status, 0) << r.out << r.err;
  }

  // ReplicaSets and pods by name and uid: what a restart or a new rollout would change.
  std::string workload() const {
    return get("rs,pods", "{range .items[*]}{.metadata.name}={.metadata.uid} {end}");
  }

  testing::TempDir dir_{"ticketctl-kubectl-apply"};
  bool started_ = false;
};

TEST_F(KubectlApplyTest, CourseApplyAfterUpConvertsTheLegacyIngressAndChangesNothing) {
  up({"-f", "k8s"});
  settled();
  const std::string before = workload();
  const testing::Result r = kubectl("apply -f k8s");
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("Warning: networking.k8s.io/v1beta1 Ingress is unavailable in "
                       "Kubernetes v1.22+; ticketctl converts it to and from "
                       "networking.k8s.io/v1 Ingress"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("last-applied-configuration"), std::string::npos) << r.err;
  EXPECT_EQ(r.out,
            "ingress.networking.k8s.io/ingress-service unchanged\n"
            "deployment.apps/web-depl unchanged\nservice/web-srv unchanged\n");

  // Stored as v1; read through v1beta1, converted back.
  EXPECT_EQ(get("ingress ingress-service", "{.apiVersion}"), "networking.k8s.io/v1");
  EXPECT_EQ(get("ingress ingress-service", "{.spec.rules[0].http.paths[0].backend.service.name}"),
            "auth-srv");
  EXPECT_EQ(get("ingresses.v1beta1.networking.k8s.io ingress-service",
                "{.spec.rules[0].http.paths[2].backend.serviceName}"),
            "client-srv");
  settled();
  EXPECT_EQ(workload(), before);
}

TEST_F(KubectlApplyTest, KubectlCreatesTheLegacyIngressAndReappliesItUnchanged) {
  up({"--empty"});
  const testing::Result created = kubectl("apply -f k8s/ingress-srv.yaml");
  EXPECT_EQ(created.status, 0) << created.out << created.err;
  EXPECT_EQ(created.out, "ingress.networking.k8s.io/ingress-service created\n");
  EXPECT_NE(created.err.find("Warning: networking.k8s.io/v1beta1 Ingress"), std::string::npos)
      << created.err;
  EXPECT_EQ(get("ingress ingress-service", "{.apiVersion} {.spec.rules[0].http.paths[1].pathType}"),
            "networking.k8s.io/v1 ImplementationSpecific");

  const testing::Result again = kubectl("apply -f k8s/ingress-srv.yaml");
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.out, "ingress.networking.k8s.io/ingress-service unchanged\n");

  // A change goes through the legacy version's PATCH and is stored converted.
  std::string text = testing::slurp(project() / "k8s/ingress-srv.yaml");
  text.replace(text.find("servicePort: 3000"), 17, "servicePort: 4000");
  std::ofstream(project() / "k8s/ingress-srv.yaml") << text;
  const testing::Result changed = kubectl("apply -f k8s/ingress-srv.yaml");
  EXPECT_EQ(changed.status, 0) << changed.err;
  EXPECT_EQ(changed.out, "ingress.networking.k8s.io/ingress-service configured\n");
  EXPECT_EQ(
      get("ingress ingress-service", "{.spec.rules[0].http.paths[0].backend.service.port.number}"),
      "4000");
  // extensions/v1beta1 reads the same object.
  EXPECT_EQ(get("ingresses.v1beta1.extensions ingress-service",
                "{.spec.rules[0].http.paths[0].backend.servicePort}"),
            "4000");
}

TEST_F(KubectlApplyTest, TicketctlApplyKeepsWhatKubectlCreatedAndWhatKubectlChanged) {
  up({"--empty"});
  testing::Result r = kubectl("apply -f k8s/web.yaml");
  ASSERT_EQ(r.status, 0) << r.err;
  // kubectl's first command reads discovery, legacy versions included: no Warning for that.
  EXPECT_EQ(r.err, "");
  settled();
  const std::string created = workload();

  // Same manifest through ticketctl: same template hash, same annotation, nothing to do.
  testing::Result t = ticketctl({"apply", "-f", "k8s/web.yaml", "--state-dir", state().string()},
                                "", project().string());
  EXPECT_EQ(t.status, 0) << t.err;
  EXPECT_EQ(t.out, "deployment.apps/web-depl unchanged\nservice/web-srv unchanged\n");
  settled();
  EXPECT_EQ(workload(), created);

  // A restart and a scale are not in the manifest: apply and `up` keep them.
  ASSERT_EQ(kubectl("rollout restart deploy/web-depl").status, 0);
  ASSERT_EQ(kubectl("scale deploy/web-depl --replicas=2").status, 0);
  settled();
  const std::string restarted = workload();
  EXPECT_NE(restarted, created);
  const std::string restarted_at =
      "{.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}";
  const std::string stamp = get("deploy web-depl", restarted_at);
  EXPECT_FALSE(stamp.empty());

  t = ticketctl({"apply", "-f", "k8s/web.yaml", "--state-dir", state().string()}, "",
                project().string());
  EXPECT_EQ(t.status, 0) << t.err;
  settled();
  EXPECT_EQ(workload(), restarted);
  EXPECT_EQ(get("deploy web-depl", restarted_at), stamp);
  EXPECT_EQ(get("deploy web-depl", "{.spec.replicas}"), "2");

  const std::string sets = "{range .items[*]}{.metadata.name}={.metadata.uid} {end}";
  const std::string replicasets = get("rs", sets);
  ASSERT_EQ(ticketctl({"down", "--state-dir", state().string()}).status, 0);
  up({"-f", "k8s/web.yaml"});
  settled();
  EXPECT_EQ(get("deploy web-depl", restarted_at), stamp);
  EXPECT_EQ(get("deploy web-depl", "{.spec.replicas}"), "2");
  EXPECT_EQ(get("rs", sets), replicasets);
  // kubectl reads back what `up` wrote: no warning, nothing to change.
  r = kubectl("apply -f k8s/web.yaml");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, "deployment.apps/web-depl unchanged\nservice/web-srv unchanged\n");
}

}  // namespace
}  // namespace ticketctl
