#include "runtime/api/patch.h"

#include <gtest/gtest.h>

namespace ticketctl::api {
namespace {

const Json kDeployment = Json::parse(R"({
  "metadata": {"name": "posts-depl", "labels": {"app": "posts", "tier": "api"}},
  "spec": {"replicas": 1, "template": {"spec": {"containers": [
    {"name": "posts", "image": "demo/posts", "ports": [{"containerPort": 4000}],
     "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
    {"name": "sidecar", "image": "busybox"}]}}}})");

TEST(StrategicMerge, MergesContainersEnvAndPortsByTheirKeys) {
  const Json patch = Json::parse(R"({"spec": {"template": {"spec": {"containers": [
    {"name": "posts", "image": "demo/posts:v2", "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
     "ports": [{"containerPort": 9229, "name": "debug"}]}]}}}})");
  const Json out = strategic_merge(kDeployment, patch);
  const Json& containers = out["spec"]["template"]["spec"]["containers"];
  ASSERT_EQ(containers.size(), 2u);  // the sidecar is untouched, not replaced away
  EXPECT_EQ(containers[0]["image"], "demo/posts:v2");
  EXPECT_EQ(containers[0]["env"], Json::parse(R"([{"name": "A", "value": "1"},
      {"name": "B", "value": "3"}, {"name": "C", "value": "4"}])"));
  EXPECT_EQ(containers[0]["ports"].size(), 2u);
  EXPECT_EQ(containers[1]["image"], "busybox");
}

TEST(StrategicMerge, DirectivesAndNulls) {
  const Json patch = Json::parse(R"({
    "metadata": {"labels": {"tier": null}},
    "$setElementOrder/containers": [{"name": "posts"}],
    "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}})");
  const Json out = strategic_merge(kDeployment, patch);
  EXPECT_EQ(out["metadata"]["labels"], Json::parse(R"({"app": "posts"})"));
  EXPECT_EQ(out["spec"]["template"]["spec"]["containers"].size(), 1u);
  EXPECT_FALSE(out.contains("$setElementOrder/containers"));
}

TEST(StrategicMerge, ListsWithoutAMergeKeyAreReplaced) {
  const Json original = Json::parse(R"({"args": ["--a", "--b"]})");
  EXPECT_EQ(strategic_merge(original, Json::parse(R"({"args": ["--c"]})"))["args"],
            Json::parse(R"(["--c"])"));
}

TEST(ApplyPatch, MergePatchJsonPatchAndErrors) {
  auto merged =
      apply_patch(kDeployment, "application/merge-patch+json", R"({"spec": {"replicas": 3}})");
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ(merged.value()["spec"]["replicas"], 3);
  // Merge patch replaces lists whole, unlike the strategic one.
  auto replaced = apply_patch(kDeployment, "application/merge-patch+json; charset=utf-8",
                              R"({"spec": {"template": {"spec": {"containers": []}}}})");
  EXPECT_TRUE(replaced.value()["spec"]["template"]["spec"]["containers"].empty());

  auto json_patch = apply_patch(kDeployment, "application/json-patch+json",
                                R"([{"op": "replace", "path": "/spec/replicas", "value": 5}])");
  ASSERT_TRUE(json_patch.ok());
  EXPECT_EQ(json_patch.value()["spec"]["replicas"], 5);

  auto bad_path = apply_patch(kDeployment, "application/json-patch+json",
                              R"([{"op": "replace", "path": "/nope/x", "value": 1}])");
  ASSERT_FALSE(bad_path.ok());
  EXPECT_NE(bad_path.error().message.find("cannot be applied"), std::string::npos);
  EXPECT_FALSE(apply_patch(kDeployment, "application/merge-patch+json", "{not json").ok());
  EXPECT_FALSE(is_patch_type("application/apply-patch+yaml"));
  EXPECT_TRUE(is_patch_type("application/strategic-merge-patch+json"));
}

}  // namespace
}  // namespace ticketctl::api
