#include "runtime/api/patch.h"
#include "tests/support/timing.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

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

// ---- budgets: nothing a patch body holds can exhaust the stack, memory or time.

std::string deep_merge_patch(size_t levels) {
  std::string p;
  for (size_t i = 0; i < levels; ++i) p += "{\"a\":";
  return p + "1" + std::string(levels, '}');
}

TEST(PatchBudget, DeepPatchesAreRefusedBeforeAnythingRecurses) {
  for (const char* type :
       {"application/merge-patch+json", "application/strategic-merge-patch+json"}) {
    const auto start = std::chrono::steady_clock::now();
    auto r = apply_patch(kDeployment, type, deep_merge_patch(100000));
    EXPECT_LT(std::chrono::steady_clock::now() - start,
              ticketctl::testing::time_bound(std::chrono::milliseconds(100)));
    ASSERT_FALSE(r.ok()) << type;
    EXPECT_EQ(r.error().code, ErrorCode::Invalid);
    EXPECT_NE(r.error().message.find("nests deeper than 400 levels"), std::string::npos)
        << r.error().message;
    // Up to the limit is allowed, and merges.
    auto ok = apply_patch(kDeployment, type, deep_merge_patch(399));
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_EQ(ok.value()["spec"]["replicas"], 1);
  }
}

TEST(PatchBudget, AJsonPatchCannotNestTheObjectPastTheLimit) {
  // Each value nests 300 levels; one added inside the other would make 600.
  const std::string v300 = std::string(300, '[') + std::string(300, ']');
  std::string inner = "/deep";
  for (int i = 0; i < 299; ++i) inner += "/0";
  const std::string ops = R"([{"op": "add", "path": "/deep", "value": )" + v300 +
                          R"(}, {"op": "add", "path": ")" + inner + R"(/-", "value": )" + v300 +
                          "}]";
  auto r = apply_patch(kDeployment, "application/json-patch+json", ops);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("the patched object nests deeper than 400 levels"),
            std::string::npos)
      << r.error().message;
}

TEST(PatchBudget, JsonPatchCopiesCannotDoubleTheObjectUntilMemoryRunsOut) {
  // Forty copies of a list into itself would make 2^40 values.
  std::string ops = R"([{"op": "add", "path": "/x", "value": [1, 2, 3, 4, 5, 6, 7, 8]})";
  for (int i = 0; i < 40; ++i) ops += R"(, {"op": "copy", "from": "/x", "path": "/x/-"})";
  ops += "]";
  auto r = apply_patch(kDeployment, "application/json-patch+json", ops);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("makes the object larger than 1572864 bytes"), std::string::npos)
      << r.error().message;
  // A few copies are fine.
  auto ok = apply_patch(
      kDeployment, "application/json-patch+json",
      R"([{"op": "copy", "from": "/metadata/labels", "path": "/metadata/annotations"}])");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok.value()["metadata"]["annotations"]["app"], "posts");
}

TEST(PatchBudget, JsonPatchOperationsAreLimitedAsTheApiServerLimitsThem) {
  std::string ops = "[";
  for (int i = 0; i <= 10000; ++i)
    ops += std::string(i ? "," : "") + R"({"op": "test", "path": "/spec/replicas", "value": 1})";
  ops += "]";
  auto r = apply_patch(kDeployment, "application/json-patch+json", ops);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "the JSON patch has 10001 operations; at most 10000 are allowed");
}

TEST(PatchBudget, LongStrategicListsMergeInLinearTime) {
  // 100,000 env entries against 100,000: a scan per element would take minutes.
  Json original = kDeployment;
  Json env = Json::array(), patch_env = Json::array();
  for (int i = 0; i < 100000; ++i) {
    // fmt, not "V" + std::to_string: g++ 12 -O3 sees a false -Wrestrict in the latter.
    env.push_back({{"name", fmt::format("V{}", i)}, {"value", "old"}});
    patch_env.push_back({{"name", fmt::format("V{}", i * 2)}, {"value", "new"}});
  }
  original["spec"]["template"]["spec"]["containers"][0]["env"] = env;
  patch_env.push_back({{"name", "V1"}, {"$patch", "delete"}});
  const Json patch = {
      {"spec",
       {{"template", {{"spec", {{"containers", {{{"name", "posts"}, {"env", patch_env}}}}}}}}}}};
  const auto start = std::chrono::steady_clock::now();
  auto r = apply_patch(original, "application/strategic-merge-patch+json", patch.dump());
  EXPECT_LT(std::chrono::steady_clock::now() - start,
            ticketctl::testing::time_bound(std::chrono::seconds(5)));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Json& merged = r.value()["spec"]["template"]["spec"]["containers"][0]["env"];
  ASSERT_EQ(merged.size(), 150000u - 1);  // 100,000 + 50,000 new - V1
  EXPECT_EQ(merged[0], Json::parse(R"({"name": "V0", "value": "new"})"));
  EXPECT_EQ(merged[1], Json::parse(R"({"name": "V2", "value": "new"})"));
  EXPECT_EQ(merged[2], Json::parse(R"({"name": "V3", "value": "old"})"));
}

TEST(PatchBudget, StrategicDeleteKeepsTheOrderOfWhatRemains) {
  const Json patch = Json::parse(R"({"spec": {"template": {"spec": {"containers": [
    {"name": "posts", "env": [{"name": "A", "$patch": "delete"}, {"name": "D", "value": "4"}]}]}}}})");
  const Json out = strategic_merge(kDeployment, patch);
  EXPECT_EQ(out["spec"]["template"]["spec"]["containers"][0]["env"],
            Json::parse(R"([{"name": "B", "value": "2"}, {"name": "D", "value": "4"}])"));
}

}  // namespace
}  // namespace ticketctl::api
