// Names the deployment controller derives stay valid however long the Deployment's name is.
#include <gtest/gtest.h>

#include "runtime/controllers/deployment.h"
#include "runtime/manifest/names.h"
#include "tests/support/temp_dir.h"

namespace ticketctl::controllers {
namespace {

TEST(DerivedNames, ShortNamesAreKeptWhole) {
  EXPECT_EQ(replicaset_name("posts-depl", "6bb58d578b"), "posts-depl-6bb58d578b");
  EXPECT_EQ(generated_pod_name("posts-depl-6bb58d578b", "x2bq5"), "posts-depl-6bb58d578b-x2bq5");
}

TEST(DerivedNames, ALongDeploymentNameIsCutSoTheReplicaSetNameFits) {
  const std::string name(253, 'a');
  const std::string rs = replicaset_name(name, "6bb58d578b");
  EXPECT_EQ(rs.size(), 253u);
  EXPECT_TRUE(rs.ends_with("a-6bb58d578b"));
  EXPECT_FALSE(manifest::check_dns1123_subdomain(rs)) << *manifest::check_dns1123_subdomain(rs);
  // The pod keeps 58 characters of "<rs>-" and 5 random ones, as generateName does.
  const std::string pod = generated_pod_name(rs, "x2bq5");
  EXPECT_EQ(pod, std::string(58, 'a') + "x2bq5");
  EXPECT_FALSE(manifest::check_dns1123_subdomain(pod));
}

TEST(DerivedNames, ACutBeforeADotDoesNotLeaveAnInvalidName) {
  // 241 characters then a dot at the cut: "<...>.-hash" would be invalid.
  const std::string name = std::string(241, 'a') + ".bbbbbbbbbbb";
  const std::string rs = replicaset_name(name, "6bb58d578b");
  EXPECT_LE(rs.size(), 253u);
  EXPECT_FALSE(manifest::check_dns1123_subdomain(rs)) << *manifest::check_dns1123_subdomain(rs);
  const std::string pod = generated_pod_name(std::string(57, 'a') + ".b", "x2bq5");
  EXPECT_FALSE(manifest::check_dns1123_subdomain(pod)) << *manifest::check_dns1123_subdomain(pod);
}

TEST(DerivedNames, TheControllerCreatesValidObjectsForA253CharacterDeployment) {
  testing::TempDir tmp("ticketctl-names");
  auto store = std::move(store::Store::open(tmp.path() / "state.db").value());
  Json d = Json::parse(R"({"apiVersion": "apps/v1", "kind": "Deployment",
      "metadata": {"namespace": "default"},
      "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "long"}},
        "template": {"metadata": {"labels": {"app": "long"}},
          "spec": {"containers": [{"name": "c", "image": "demo/posts"}]}}}})");
  d["metadata"]["name"] = std::string(253, 'd');
  ASSERT_TRUE(store->create("deployments.apps", d).ok());
  DeploymentController controller(*store, 1);
  for (int i = 0; i < 10 && controller.reconcile() > 0; ++i) {
  }
  const std::vector<Json> replicasets = store->list("replicasets.apps", "default");
  ASSERT_EQ(replicasets.size(), 1u);
  const std::string rs = replicasets[0]["metadata"]["name"];
  EXPECT_LE(rs.size(), 253u);
  EXPECT_FALSE(manifest::check_dns1123_subdomain(rs));
  const std::vector<Json> pods = store->list("pods", "default");
  ASSERT_EQ(pods.size(), 2u);
  for (const Json& p : pods) {
    const std::string pod = p["metadata"]["name"];
    EXPECT_EQ(pod.size(), 63u);
    EXPECT_FALSE(manifest::check_dns1123_subdomain(pod));
  }
  // Converged: another pass changes nothing.
  EXPECT_EQ(controller.reconcile(), 0);
}

}  // namespace
}  // namespace ticketctl::controllers
