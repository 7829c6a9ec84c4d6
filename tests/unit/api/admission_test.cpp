#include "runtime/api/admission.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runtime/core/limits.h"

namespace ticketctl::api {
namespace {

TEST(MergeStringData, EncodesIntoDataReplacingTheSameKey) {
  Json secret = Json::parse(R"({"kind": "Secret", "data": {"a": "b2xk", "keep": "eA=="},
    "stringData": {"a": "new", "JWT_KEY": "asdf"}})");
  merge_string_data(secret);
  EXPECT_FALSE(secret.contains("stringData"));
  EXPECT_EQ(secret["data"], Json::parse(R"({"a": "bmV3", "keep": "eA==", "JWT_KEY": "YXNkZg=="})"));
}

TEST(MergeStringData, CreatesDataAndLeavesOtherSecretsAlone) {
  Json only = Json::parse(R"({"stringData": {"k": ""}})");
  merge_string_data(only);
  EXPECT_EQ(only, Json::parse(R"({"data": {"k": ""}})"));
  Json plain = Json::parse(R"({"data": {"k": "eA=="}})");
  merge_string_data(plain);
  EXPECT_EQ(plain, Json::parse(R"({"data": {"k": "eA=="}})"));
}

std::vector<std::string> fields_of(const std::vector<ForbiddenChange>& changes) {
  std::vector<std::string> fields;
  for (const ForbiddenChange& c : changes) fields.push_back(c.field);
  return fields;
}

TEST(ImmutableChanges, AnImmutableConfigMapKeepsItsDataAndStaysImmutable) {
  const Json stored = Json::parse(R"({"kind": "ConfigMap", "metadata": {"name": "c"},
    "immutable": true, "data": {"a": "1"}})");
  Json same = stored;
  same["metadata"]["labels"] = {{"x", "y"}};  // metadata may change
  EXPECT_TRUE(immutable_changes(stored, same).empty());
  Json changed = stored;
  changed["data"]["a"] = "2";
  changed["binaryData"] = {{"b", "AA=="}};
  changed.erase("immutable");
  EXPECT_EQ(fields_of(immutable_changes(stored, changed)),
            (std::vector<std::string>{"immutable", "data", "binaryData"}));
  EXPECT_EQ(immutable_changes(stored, changed)[0].message,
            "field is immutable when `immutable` is set");
}

TEST(ImmutableChanges, AMutableOrEmptyObjectMayChange) {
  const Json mutable_map = Json::parse(R"({"kind": "ConfigMap", "data": {"a": "1"}})");
  EXPECT_TRUE(immutable_changes(mutable_map, Json::parse(R"({"immutable": true})")).empty());
  const Json flagged_false = Json::parse(R"({"immutable": false, "data": {"a": "1"}})");
  EXPECT_TRUE(immutable_changes(flagged_false, Json::parse(R"({"data": {}})")).empty());
  // No data and empty data are the same; a stored value of the wrong type is not `true`.
  EXPECT_TRUE(immutable_changes(Json::parse(R"({"immutable": true, "data": {}})"),
                                Json::parse(R"({"immutable": true})"))
                  .empty());
  EXPECT_TRUE(immutable_changes(Json::parse(R"({"immutable": "true", "data": {"a": "1"}})"),
                                Json::parse(R"({"data": {}})"))
                  .empty());
}

TEST(SelectorChange, SameSelectorWrittenDifferentlyIsNoChange) {
  const Json stored = Json::parse(R"({"spec": {"selector": {"matchLabels": {"app": "a"}}}})");
  EXPECT_FALSE(selector_change(stored, stored));
  // Empty matchExpressions and none are the same; a stored object without a selector (nothing
  // to keep) takes any.
  EXPECT_FALSE(selector_change(
      stored,
      Json::parse(
          R"({"spec": {"selector": {"matchLabels": {"app": "a"}, "matchExpressions": []}}})")));
  EXPECT_FALSE(selector_change(Json::parse(R"({"spec": {}})"), stored));
}

TEST(SelectorChange, NamesTheNewSelectorAsTheApiServerPrintsIt) {
  const Json stored = Json::parse(R"({"spec": {"selector": {"matchLabels": {"app": "a"}}}})");
  EXPECT_EQ(selector_change(stored, Json::parse(R"({"spec": {"selector": {"matchLabels":
                                                     {"tier": "web", "app": "b"}}}})")),
            "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"b\", "
            "\"tier\":\"web\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field "
            "is immutable");
  EXPECT_EQ(selector_change(stored, Json::parse(R"({"spec": {"selector": {"matchExpressions": [
                                      {"key": "app", "operator": "In", "values": ["a", "b"]},
                                      {"key": "canary", "operator": "DoesNotExist"}]}}})")),
            "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
            "MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{"
            "Key:\"app\", Operator:\"In\", Values:[]string{\"a\", \"b\"}}, "
            "v1.LabelSelectorRequirement{Key:\"canary\", Operator:\"DoesNotExist\", "
            "Values:[]string(nil)}}}: field is immutable");
}

TEST(ReplacementReason, NamesWhatTheServerRefusesToUpdateByKind) {
  const Json deployment = Json::parse(R"({"spec": {"selector": {"matchLabels": {"app": "a"}}}})");
  const Json relabelled = Json::parse(R"({"spec": {"selector": {"matchLabels": {"app": "b"}}}})");
  EXPECT_STREQ(replacement_reason("deployments.apps", deployment, relabelled),
               kReplacedForSelector);
  EXPECT_EQ(replacement_reason("deployments.apps", deployment, deployment), nullptr);
  // A Service's selector is a plain map that may change.
  EXPECT_EQ(replacement_reason("services", deployment, relabelled), nullptr);

  const Json frozen = Json::parse(R"({"immutable": true, "data": {"a": "MQ=="}})");
  const Json changed = Json::parse(R"({"immutable": true, "data": {"a": "Mg=="}})");
  EXPECT_STREQ(replacement_reason("configmaps", frozen, changed), kReplacedForImmutableData);
  EXPECT_EQ(replacement_reason("configmaps", frozen, frozen), nullptr);
  EXPECT_EQ(replacement_reason("configmaps", Json::parse(R"({"data": {"a": "MQ=="}})"), changed),
            nullptr);
  // A Secret's stringData counts as the server merges it: "1" is data's "MQ==".
  EXPECT_EQ(replacement_reason("secrets", frozen,
                               Json::parse(R"({"immutable": true, "stringData": {"a": "1"}})")),
            nullptr);
  EXPECT_STREQ(replacement_reason("secrets", frozen,
                                  Json::parse(R"({"immutable": true, "stringData": {"a": "2"}})")),
               kReplacedForImmutableData);
}

TEST(TooLargeToStore, RefusesObjectsOverEtcdsLimit) {
  EXPECT_FALSE(too_large_to_store(Json{{"a", std::string(1000, 'x')}}));
  const auto refused = too_large_to_store(Json{{"a", std::string(limits::kMaxObjectBytes, 'x')}});
  ASSERT_TRUE(refused);
  EXPECT_EQ(*refused,
            "Request entity too large: the object is 1572872 bytes; the store takes "
            "objects up to 1572864 bytes (etcd's request limit)");
}

}  // namespace
}  // namespace ticketctl::api
