#include "runtime/controllers/deployment.h"

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

#include <algorithm>
#include <filesystem>

namespace ticketctl::controllers {
namespace {
namespace fs = std::filesystem;

class DeploymentControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(store::Store::open(tmp_.path() / "state.db").value());
  }
  static Json deployment(int replicas, const std::string& image = "demo/posts") {
    Json d = Json::parse(R"({"apiVersion": "apps/v1", "kind": "Deployment",
      "metadata": {"name": "posts-depl", "namespace": "default"},
      "spec": {"selector": {"matchLabels": {"app": "posts"}},
        "template": {"metadata": {"labels": {"app": "posts"}},
          "spec": {"containers": [{"name": "posts"}]}}}})");
    d["spec"]["replicas"] = replicas;
    d["spec"]["template"]["spec"]["containers"][0]["image"] = image;
    return d;
  }
  // Runs the controller until it has nothing left to do, as the control plane does.
  void converge(DeploymentController& c) {
    for (int i = 0; i < 10; ++i)
      if (c.reconcile() == 0) return;
    FAIL() << "did not converge";
  }
  std::vector<Json> pods() { return store_->list("pods", "default"); }
  std::vector<Json> replicasets() { return store_->list("replicasets.apps", "default"); }

  ticketctl::testing::TempDir tmp_{"ticketctl-ctl"};
  std::unique_ptr<store::Store> store_;  // declared after tmp_: closed before it is removed
};

TEST_F(DeploymentControllerTest, CreatesAReplicaSetAndPendingPodsNamedAsKubernetesDoes) {
  Json d = store_->create("deployments.apps", deployment(2)).value();
  DeploymentController c(*store_, 42);
  converge(c);
  ASSERT_EQ(replicasets().size(), 1u);
  const Json rs = replicasets()[0];
  const std::string hash = pod_template_hash(d["spec"]["template"]);
  EXPECT_EQ(rs["metadata"]["name"], "posts-depl-" + hash);
  EXPECT_EQ(rs["metadata"]["labels"]["pod-template-hash"], hash);
  EXPECT_EQ(rs["metadata"]["ownerReferences"][0]["uid"], d["metadata"]["uid"]);
  EXPECT_EQ(rs["spec"]["selector"]["matchLabels"]["pod-template-hash"], hash);
  EXPECT_EQ(rs["status"]["replicas"], 2);

  ASSERT_EQ(pods().size(), 2u);
  for (const Json& p : pods()) {
    const std::string name = p["metadata"]["name"];
    ASSERT_EQ(name.size(), std::string("posts-depl-" + hash + "-xxxxx").size()) << name;
    EXPECT_TRUE(name.starts_with("posts-depl-" + hash + "-")) << name;
    EXPECT_EQ(name.substr(name.size() - 5).find_first_not_of("bcdfghjklmnpqrstvwxz2456789"),
              std::string::npos);
    EXPECT_EQ(p["status"]["phase"], "Pending");
    EXPECT_EQ(p["metadata"]["labels"]["app"], "posts");
    EXPECT_EQ(p["metadata"]["ownerReferences"][0]["uid"], rs["metadata"]["uid"]);
    EXPECT_EQ(p["spec"]["containers"][0]["image"], "demo/posts");
  }
  const Json status = store_->get({"deployments.apps", "default", "posts-depl"}).value()["status"];
  EXPECT_EQ(status["replicas"], 2);
  EXPECT_EQ(status["updatedReplicas"], 2);
  EXPECT_EQ(status["readyReplicas"], 0);
  EXPECT_EQ(c.reconcile(), 0);  // steady state writes nothing
}

TEST_F(DeploymentControllerTest, RecordsEventsAsKubernetesControllersDo) {
  store_->create("deployments.apps", deployment(2));
  DeploymentController c(*store_, 5);
  converge(c);
  std::vector<std::string> seen;
  for (const Json& e : store_->list("events", "default"))
    seen.push_back(e["involvedObject"]["kind"].get<std::string>() + " " +
                   e["reason"].get<std::string>());
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen,
            (std::vector<std::string>{"Deployment ScalingReplicaSet", "ReplicaSet SuccessfulCreate",
                                      "ReplicaSet SuccessfulCreate"}));
  const Json rs = replicasets()[0];
  bool scaled = false;
  for (const Json& e : store_->list("events", "default"))
    if (e["reason"] == "ScalingReplicaSet")
      scaled = e["message"] ==
               "Scaled up replica set " + rs["metadata"]["name"].get<std::string>() + " to 2";
  EXPECT_TRUE(scaled);
}

TEST_F(DeploymentControllerTest, ScalesDownAndUp) {
  Json d = store_->create("deployments.apps", deployment(3)).value();
  DeploymentController c(*store_, 1);
  converge(c);
  ASSERT_EQ(pods().size(), 3u);
  ASSERT_TRUE(store_->update("deployments.apps", deployment(1)).ok());
  converge(c);
  EXPECT_EQ(pods().size(), 1u);
  ASSERT_TRUE(store_->update("deployments.apps", deployment(4)).ok());
  converge(c);
  EXPECT_EQ(pods().size(), 4u);
}

TEST_F(DeploymentControllerTest, ANewTemplateRollsToANewReplicaSet) {
  store_->create("deployments.apps", deployment(2));
  DeploymentController c(*store_, 7);
  converge(c);
  const std::string old_rs = replicasets()[0]["metadata"]["name"];
  ASSERT_TRUE(store_->update("deployments.apps", deployment(2, "demo/posts:v2")).ok());
  converge(c);
  ASSERT_EQ(replicasets().size(), 2u);  // the old one is kept (scaled to 0) as history
  for (const Json& rs : replicasets())
    EXPECT_EQ(rs["spec"]["replicas"], rs["metadata"]["name"] == old_rs ? 0 : 2);
  ASSERT_EQ(pods().size(), 2u);
  for (const Json& p : pods()) EXPECT_EQ(p["spec"]["containers"][0]["image"], "demo/posts:v2");
}

TEST_F(DeploymentControllerTest, DeletingTheDeploymentCollectsItsReplicaSetsAndPods) {
  store_->create("deployments.apps", deployment(2));
  DeploymentController c(*store_, 3);
  converge(c);
  ASSERT_TRUE(store_->remove({"deployments.apps", "default", "posts-depl"}).ok());
  converge(c);
  EXPECT_TRUE(replicasets().empty());
  EXPECT_TRUE(pods().empty());
}

TEST_F(DeploymentControllerTest, PodsWithoutOwnersAreLeftAlone) {
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "standalone"}, {"namespace", "default"}}},
              {"spec", {{"containers", {{{"name", "c"}, {"image", "redis"}}}}}}};
  ASSERT_TRUE(store_->create("pods", pod).ok());
  DeploymentController c(*store_, 3);
  converge(c);
  EXPECT_EQ(pods().size(), 1u);
}

TEST(PodTemplateHash, IsStableAndUsesTheSafeAlphabet) {
  const Json t = {{"spec", {{"containers", {{{"name", "a"}, {"image", "b"}}}}}}};
  EXPECT_EQ(pod_template_hash(t), pod_template_hash(t));
  EXPECT_NE(pod_template_hash(t), pod_template_hash(Json{{"spec", {}}}));
  EXPECT_EQ(pod_template_hash(t).find_first_not_of("bcdfghjklmnpqrstvwxz2456789"),
            std::string::npos);
}

}  // namespace
}  // namespace ticketctl::controllers
