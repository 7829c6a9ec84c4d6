#include "runtime/controllers/deployment.h"

#include "runtime/api/defaults.h"
#include "runtime/controllers/endpoints.h"
#include "runtime/core/rfc3339.h"

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

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
  Json get_deployment() {
    return store_->get({"deployments.apps", "default", "posts-depl"}).value();
  }
  // The fake kubelet: every pod that is not ready yet runs and turns Ready, as of `since`.
  void mark_ready(const std::string& since = "2020-01-01T00:00:00Z") {
    for (const Json& p : pods()) {
      if (pod_ready(p)) continue;
      Json status = {
          {"phase", "Running"},
          {"conditions", {{{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", since}}}}};
      ASSERT_TRUE(store_->update_status({"pods", "default", p["metadata"]["name"]}, status).ok());
    }
  }
  int ready_pods() {
    int n = 0;
    for (const Json& p : pods()) n += pod_ready(p) ? 1 : 0;
    return n;
  }
  // Rolls to the end with the fake kubelet making pods ready between controller passes;
  // returns the fewest ready and the most existing pods seen at any point on the way.
  std::pair<int, int> roll(DeploymentController& c, size_t replicas) {
    int fewest_ready = 1 << 30, most_pods = 0;
    for (int step = 0; step < 50; ++step) {
      for (int i = 0; i < 10 && c.reconcile() != 0; ++i) {
        fewest_ready = std::min(fewest_ready, ready_pods());
        most_pods = std::max(most_pods, static_cast<int>(pods().size()));
      }
      fewest_ready = std::min(fewest_ready, ready_pods());
      most_pods = std::max(most_pods, static_cast<int>(pods().size()));
      if (pods().size() == replicas && ready_pods() == static_cast<int>(replicas) &&
          replicasets_with_pods() == 1)
        return {fewest_ready, most_pods};
      mark_ready();
    }
    ADD_FAILURE() << "the rollout did not finish";
    return {fewest_ready, most_pods};
  }
  int replicasets_with_pods() {
    int n = 0;
    for (const Json& rs : replicasets()) n += rs["spec"]["replicas"].get<int>() > 0 ? 1 : 0;
    return n;
  }

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
  mark_ready();
  converge(c);
  const std::string old_rs = replicasets()[0]["metadata"]["name"];
  ASSERT_TRUE(store_->update("deployments.apps", deployment(2, "demo/posts:v2")).ok());
  roll(c, 2);
  ASSERT_EQ(replicasets().size(), 2u);  // the old one is kept (scaled to 0) as history
  for (const Json& rs : replicasets())
    EXPECT_EQ(rs["spec"]["replicas"], rs["metadata"]["name"] == old_rs ? 0 : 2);
  ASSERT_EQ(pods().size(), 2u);
  for (const Json& p : pods()) EXPECT_EQ(p["spec"]["containers"][0]["image"], "demo/posts:v2");
}

TEST(Fenceposts, PercentagesRoundSurgeUpAndUnavailableDown) {
  auto d = [](int replicas, Json surge, Json unavailable) {
    Json o = {{"spec", {{"replicas", replicas}}}};
    if (!surge.is_null()) o["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = surge;
    if (!unavailable.is_null())
      o["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] = unavailable;
    const Fenceposts f = resolve_fenceposts(o);
    return std::make_pair(f.max_surge, f.max_unavailable);
  };
  using P = std::pair<int64_t, int64_t>;
  EXPECT_EQ(d(4, nullptr, nullptr), P(1, 1));   // 25% / 25%
  EXPECT_EQ(d(10, nullptr, nullptr), P(3, 2));  // 2.5 up, 2.5 down
  EXPECT_EQ(d(3, nullptr, nullptr), P(1, 0));
  EXPECT_EQ(d(1, nullptr, nullptr), P(1, 0));
  EXPECT_EQ(d(3, 2, 1), P(2, 1));
  EXPECT_EQ(d(10, "30%", "55%"), P(3, 5));
  EXPECT_EQ(d(3, 0, 0), P(0, 1));  // both zero: one may be unavailable, as Kubernetes resolves
  EXPECT_EQ(d(3, "0%", "10%"), P(0, 1));
  Json recreate = {{"spec", {{"replicas", 3}, {"strategy", {{"type", "Recreate"}}}}}};
  EXPECT_EQ(resolve_fenceposts(recreate).max_surge, 0);
  EXPECT_EQ(resolve_fenceposts(recreate).max_unavailable, 0);
  EXPECT_EQ(scaled_value("25%", 7, true), 2);
  EXPECT_EQ(scaled_value("25%", 7, false), 1);
  EXPECT_EQ(scaled_value(4, 7, false), 4);
}

TEST_F(DeploymentControllerTest, RollingUpdateWithoutUnavailabilityKeepsEveryReplicaReady) {
  Json d = deployment(3);
  d["spec"]["strategy"] = {{"type", "RollingUpdate"},
                           {"rollingUpdate", {{"maxSurge", 1}, {"maxUnavailable", 0}}}};
  store_->create("deployments.apps", d);
  DeploymentController c(*store_, 11);
  roll(c, 3);
  d["spec"]["template"]["spec"]["containers"][0]["image"] = "demo/posts:v2";
  ASSERT_TRUE(store_->update("deployments.apps", d).ok());
  // Step one: only the surge pod is added; nothing old goes while it is not ready.
  converge(c);
  EXPECT_EQ(pods().size(), 4u);
  EXPECT_EQ(ready_pods(), 3);
  converge(c);
  EXPECT_EQ(pods().size(), 4u) << "an old pod went before the new one was ready";
  const auto [fewest_ready, most_pods] = roll(c, 3);
  EXPECT_GE(fewest_ready, 3);
  EXPECT_LE(most_pods, 4);
  for (const Json& p : pods()) EXPECT_EQ(p["spec"]["containers"][0]["image"], "demo/posts:v2");
}

TEST_F(DeploymentControllerTest, DefaultRollingUpdateStaysWithinMaxSurgeAndMaxUnavailable) {
  store_->create("deployments.apps", deployment(8));
  DeploymentController c(*store_, 12);
  roll(c, 8);
  ASSERT_TRUE(store_->update("deployments.apps", deployment(8, "demo/posts:v2")).ok());
  const auto [fewest_ready, most_pods] = roll(c, 8);
  EXPECT_GE(fewest_ready, 8 - 2);  // maxUnavailable 25% of 8
  EXPECT_LE(most_pods, 8 + 2);     // maxSurge 25% of 8
  EXPECT_LT(fewest_ready, 8) << "the default strategy may use its unavailability";
}

TEST_F(DeploymentControllerTest, RecreateRemovesEveryOldPodBeforeCreatingNewOnes) {
  Json d = deployment(3);
  d["spec"]["strategy"] = {{"type", "Recreate"}};
  store_->create("deployments.apps", d);
  DeploymentController c(*store_, 13);
  roll(c, 3);
  d["spec"]["template"]["spec"]["containers"][0]["image"] = "demo/posts:v2";
  ASSERT_TRUE(store_->update("deployments.apps", d).ok());
  c.reconcile();  // old ReplicaSet to zero, its pods deleted; no new ReplicaSet yet
  EXPECT_TRUE(pods().empty());
  EXPECT_EQ(replicasets().size(), 1u);
  converge(c);
  ASSERT_EQ(replicasets().size(), 2u);
  ASSERT_EQ(pods().size(), 3u);
  for (const Json& p : pods()) EXPECT_EQ(p["spec"]["containers"][0]["image"], "demo/posts:v2");
}

// Pods with running containers are deleted gracefully (Terminating until the kubelet removes
// them): a Recreate rollout starts no new pod while one of them is still there.
TEST_F(DeploymentControllerTest, RecreateWaitsForTerminatingPodsToBeGone) {
  Json d = deployment(2);
  d["spec"]["strategy"] = {{"type", "Recreate"}};
  store_->create("deployments.apps", d);
  DeploymentController c(*store_, 15);
  roll(c, 2);
  for (const Json& p : pods()) {
    Json status = p["status"];
    status["containerStatuses"] = {
        {{"name", "posts"}, {"state", {{"running", {{"startedAt", "2020-01-01T00:00:00Z"}}}}}}};
    ASSERT_TRUE(store_->update_status({"pods", "default", p["metadata"]["name"]}, status).ok());
  }
  d["spec"]["template"]["spec"]["containers"][0]["image"] = "demo/posts:v2";
  ASSERT_TRUE(store_->update("deployments.apps", d).ok());
  for (int i = 0; i < 5; ++i) c.reconcile();
  ASSERT_EQ(pods().size(), 2u);
  for (const Json& p : pods()) {
    EXPECT_FALSE(p["metadata"]["deletionTimestamp"].is_null()) << p.dump();
    EXPECT_EQ(p["metadata"]["deletionGracePeriodSeconds"], 30);
    EXPECT_EQ(p["spec"]["containers"][0]["image"], "demo/posts");
  }
  // The kubelet removes them once their processes are gone; only then do new pods come.
  for (const Json& p : pods())
    ASSERT_TRUE(store_->remove({"pods", "default", p["metadata"]["name"]}).ok());
  converge(c);
  ASSERT_EQ(pods().size(), 2u);
  for (const Json& p : pods()) EXPECT_EQ(p["spec"]["containers"][0]["image"], "demo/posts:v2");
}

TEST_F(DeploymentControllerTest, RevisionsAnnotateReplicaSetsAndTheDeploymentAndUndoReusesOne) {
  store_->create("deployments.apps", deployment(1));
  DeploymentController c(*store_, 14);
  roll(c, 1);
  ASSERT_TRUE(store_->update("deployments.apps", deployment(1, "demo/posts:v2")).ok());
  roll(c, 1);
  auto revision_of_image = [&](const std::string& image) {
    for (const Json& rs : replicasets())
      if (rs["spec"]["template"]["spec"]["containers"][0]["image"] == image)
        return rs["metadata"]["annotations"][kRevisionAnnotation].get<std::string>();
    return std::string("none");
  };
  EXPECT_EQ(revision_of_image("demo/posts"), "1");
  EXPECT_EQ(revision_of_image("demo/posts:v2"), "2");
  EXPECT_EQ(get_deployment()["metadata"]["annotations"][kRevisionAnnotation], "2");
  // Going back to the first template brings its ReplicaSet back as the newest revision.
  ASSERT_TRUE(store_->update("deployments.apps", deployment(1)).ok());
  roll(c, 1);
  EXPECT_EQ(replicasets().size(), 2u);
  EXPECT_EQ(revision_of_image("demo/posts"), "3");
  EXPECT_EQ(get_deployment()["metadata"]["annotations"][kRevisionAnnotation], "3");
}

TEST_F(DeploymentControllerTest, ChangeCauseGoesToTheReplicaSetAndStatusHasKubernetesConditions) {
  Json d = deployment(2);
  d["metadata"]["annotations"] = {{"kubernetes.io/change-cause", "first"}};
  store_->create("deployments.apps", d);
  DeploymentController c(*store_, 15);
  converge(c);
  auto reasons = [&] {
    std::map<std::string, std::string> out;
    const Json d = get_deployment();
    for (const Json& cond : d["status"]["conditions"])
      out[cond["type"].get<std::string>()] =
          cond["status"].get<std::string>() + " " + cond["reason"].get<std::string>();
    return out;
  };
  EXPECT_EQ(reasons()["Available"], "False MinimumReplicasUnavailable");
  EXPECT_EQ(reasons()["Progressing"], "True ReplicaSetUpdated");
  roll(c, 2);
  ASSERT_EQ(replicasets().size(), 1u);
  EXPECT_EQ(replicasets()[0]["metadata"]["annotations"]["kubernetes.io/change-cause"], "first");
  EXPECT_EQ(replicasets()[0]["status"]["availableReplicas"], 2);
  EXPECT_EQ(replicasets()[0]["status"]["readyReplicas"], 2);
  EXPECT_EQ(replicasets()[0]["status"]["fullyLabeledReplicas"], 2);
  const Json status = get_deployment()["status"];
  EXPECT_EQ(status["replicas"], 2);
  EXPECT_EQ(status["updatedReplicas"], 2);
  EXPECT_EQ(status["readyReplicas"], 2);
  EXPECT_EQ(status["availableReplicas"], 2);
  EXPECT_EQ(status["unavailableReplicas"], 0);
  EXPECT_EQ(status["observedGeneration"], get_deployment()["metadata"]["generation"]);
  EXPECT_EQ(reasons()["Available"], "True MinimumReplicasAvailable");
  EXPECT_EQ(reasons()["Progressing"], "True NewReplicaSetAvailable");
  EXPECT_EQ(c.reconcile(), 0);
}

TEST_F(DeploymentControllerTest, RevisionHistoryLimitDeletesTheOldestIdleReplicaSets) {
  Json d = deployment(1);
  d["spec"]["revisionHistoryLimit"] = 1;
  store_->create("deployments.apps", d);
  DeploymentController c(*store_, 16);
  for (const char* image : {"demo/posts", "demo/posts:v2", "demo/posts:v3"}) {
    d["spec"]["template"]["spec"]["containers"][0]["image"] = image;
    Json current = get_deployment();
    current["spec"] = d["spec"];
    ASSERT_TRUE(store_->update("deployments.apps", current).ok());
    roll(c, 1);
  }
  converge(c);
  std::set<std::string> revisions;
  for (const Json& rs : replicasets())
    revisions.insert(rs["metadata"]["annotations"][kRevisionAnnotation].get<std::string>());
  EXPECT_EQ(revisions, (std::set<std::string>{"2", "3"}));
}

TEST_F(DeploymentControllerTest, PodsBecomeAvailableAfterMinReadySecondsWithARequeue) {
  Json d = deployment(1);
  d["spec"]["minReadySeconds"] = 30;
  store_->create("deployments.apps", d);
  DeploymentController c(*store_, 17);
  converge(c);
  mark_ready(rfc3339::now_seconds());
  converge(c);
  EXPECT_EQ(get_deployment()["status"]["readyReplicas"], 1);
  EXPECT_EQ(get_deployment()["status"]["availableReplicas"], 0);
  EXPECT_GT(c.requeue_after(), std::chrono::seconds(28));
  EXPECT_LE(c.requeue_after(), std::chrono::seconds(30));
  // Ready for long enough: available.
  const std::string pod = pods()[0]["metadata"]["name"];
  Json status = pods()[0]["status"];
  status["conditions"][0]["lastTransitionTime"] = "2020-01-01T00:00:00Z";
  ASSERT_TRUE(store_->update_status({"pods", "default", pod}, status).ok());
  converge(c);
  EXPECT_EQ(get_deployment()["status"]["availableReplicas"], 1);
}

// A Ready time written with fractions or an offset is still a time: the pod is not taken as
// ready since the epoch (and so available at once) because its text is not whole seconds in UTC.
TEST_F(DeploymentControllerTest, MinReadySecondsCountsFromReadyTimesWithFractionsAndOffsets) {
  Json d = deployment(1);
  d["spec"]["minReadySeconds"] = 30;
  store_->create("deployments.apps", d);
  DeploymentController c(*store_, 19);
  converge(c);
  mark_ready(rfc3339::now_micro());
  converge(c);
  EXPECT_EQ(get_deployment()["status"]["readyReplicas"], 1);
  EXPECT_EQ(get_deployment()["status"]["availableReplicas"], 0);
  EXPECT_GT(c.requeue_after(), std::chrono::seconds(28));
  // The same moment as local time in UTC+02:00.
  const rfc3339::Time now = rfc3339::now();
  const std::string utc = rfc3339::format_seconds(now.seconds + 2 * 3600);
  const std::string pod = pods()[0]["metadata"]["name"];
  Json status = pods()[0]["status"];
  status["conditions"][0]["lastTransitionTime"] = utc.substr(0, utc.size() - 1) + "+02:00";
  ASSERT_TRUE(store_->update_status({"pods", "default", pod}, status).ok());
  converge(c);
  EXPECT_EQ(get_deployment()["status"]["availableReplicas"], 0);
}

TEST_F(DeploymentControllerTest, ScalingDownRemovesPodsThatAreNotReadyFirst) {
  store_->create("deployments.apps", deployment(2));
  DeploymentController c(*store_, 18);
  roll(c, 2);
  ASSERT_TRUE(store_->update("deployments.apps", deployment(3)).ok());
  converge(c);  // the third pod is not ready
  std::string unready;
  for (const Json& p : pods())
    if (!pod_ready(p)) unready = p["metadata"]["name"];
  ASSERT_FALSE(unready.empty());
  ASSERT_TRUE(store_->update("deployments.apps", deployment(2)).ok());
  converge(c);
  ASSERT_EQ(pods().size(), 2u);
  for (const Json& p : pods()) EXPECT_NE(p["metadata"]["name"], unready);
}

TEST_F(DeploymentControllerTest, ChangedConfigMapContentRollsThePods) {
  Json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata", {{"name", "settings"}, {"namespace", "default"}}},
             {"data", {{"MODE", "a"}}}};
  ASSERT_TRUE(store_->create("configmaps", cm).ok());
  Json d = deployment(1);
  d["spec"]["template"]["spec"]["containers"][0]["envFrom"] = {
      {{"configMapRef", {{"name", "settings"}}}}};
  store_->create("deployments.apps", d);
  DeploymentController c(*store_, 19);
  roll(c, 1);
  const Json first = replicasets()[0];
  EXPECT_TRUE(first["spec"]["template"]["metadata"]["annotations"].contains(kConfigHashAnnotation));
  cm = store_->get({"configmaps", "default", "settings"}).value();
  cm["data"]["MODE"] = "b";
  ASSERT_TRUE(store_->update("configmaps", cm).ok());
  roll(c, 1);
  ASSERT_EQ(replicasets().size(), 2u);
  EXPECT_NE(pods()[0]["metadata"]["labels"]["pod-template-hash"],
            first["metadata"]["labels"]["pod-template-hash"]);
  // Without references the template is hashed as written: no annotation.
  EXPECT_FALSE(effective_template(*store_, deployment(1))["metadata"].contains("annotations"));
}

TEST_F(DeploymentControllerTest, ASettledDeploymentStillSeesEveryChangeOfItsInputs) {
  // Settled objects are passed over until something they read changes: a deleted pod, a status,
  // a scale. Each must still be acted on in the very next pass.
  store_->create("deployments.apps", deployment(2));
  DeploymentController c(*store_, 23);
  roll(c, 2);
  EXPECT_EQ(c.reconcile(), 0);
  const std::string gone = pods()[0]["metadata"]["name"];
  ASSERT_TRUE(store_->remove({"pods", "default", gone}).ok());
  EXPECT_GT(c.reconcile(), 0);
  ASSERT_EQ(pods().size(), 2u);
  for (const Json& p : pods()) EXPECT_NE(p["metadata"]["name"], gone);
  roll(c, 2);
  EXPECT_EQ(get_deployment()["status"]["readyReplicas"], 2);
  Json d = get_deployment();
  d["spec"]["replicas"] = 1;
  d["metadata"].erase("resourceVersion");
  ASSERT_TRUE(store_->update("deployments.apps", d).ok());
  EXPECT_GT(c.reconcile(), 0);
  converge(c);
  EXPECT_EQ(pods().size(), 1u);
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

// An upgrade to API defaulting: the Deployment and its ReplicaSet were stored as written; the
// same manifest applied again is now defaulted on its way in. Nothing may roll: no new
// ReplicaSet, the running pod kept.
TEST_F(DeploymentControllerTest, ReapplyingAfterDefaultingWasAddedRollsNothing) {
  ASSERT_TRUE(store_->create("deployments.apps", deployment(1)).ok());
  DeploymentController c(*store_);
  converge(c);
  mark_ready();
  converge(c);
  ASSERT_EQ(replicasets().size(), 1u);
  const std::string rs = replicasets()[0]["metadata"]["name"];
  const std::string pod = pods()[0]["metadata"]["name"];

  store_->set_admission(
      [](store::Store&, const std::string& resource, Json& object, const Json*) -> Result<bool> {
        api::apply_defaults(resource, object);
        return true;
      });
  Result<std::vector<store::Applied>> applied =
      store_->apply({{"deployments.apps", deployment(1)}});
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(applied.value()[0].outcome, store::Outcome::Configured);  // defaults were added
  EXPECT_EQ(get_deployment()["spec"]["strategy"]["type"], "RollingUpdate");
  converge(c);
  ASSERT_EQ(replicasets().size(), 1u);
  EXPECT_EQ(replicasets()[0]["metadata"]["name"], rs);
  ASSERT_EQ(pods().size(), 1u);
  EXPECT_EQ(pods()[0]["metadata"]["name"], pod);
  // Applied once more, the defaulted spec is the stored one.
  const Json generation = get_deployment()["metadata"]["generation"];
  ASSERT_TRUE(store_->apply({{"deployments.apps", deployment(1)}}).ok());
  EXPECT_EQ(get_deployment()["metadata"]["generation"], generation);
  // A real change still rolls.
  ASSERT_TRUE(store_->apply({{"deployments.apps", deployment(1, "demo/posts:v2")}}).ok());
  converge(c);
  EXPECT_EQ(replicasets().size(), 2u);
}

TEST(PodTemplateHash, DependsOnlyOnTheTemplatesContent) {
  // kubectl sends keys sorted, a manifest keeps its author's order; absent, null and empty are
  // the same template.
  const Json written = Json::parse(
      R"({"metadata": {"labels": {"b": "2", "a": "1"}},
          "spec": {"containers": [{"name": "a", "image": "b", "args": []}]}})");
  const Json sorted = Json::parse(
      R"({"spec": {"containers": [{"image": "b", "name": "a", "resources": {}}],
                   "volumes": null},
          "metadata": {"annotations": {}, "labels": {"a": "1", "b": "2"}}})");
  EXPECT_EQ(pod_template_hash(written), pod_template_hash(sorted));
  Json restarted = written;
  restarted["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] = "now";
  EXPECT_NE(pod_template_hash(written), pod_template_hash(restarted));
}

}  // namespace
}  // namespace ticketctl::controllers
