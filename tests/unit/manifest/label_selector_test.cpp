#include "runtime/manifest/label_selector.h"

#include <gtest/gtest.h>

#include "runtime/api/selector.h"

namespace ticketctl::manifest {
namespace {

const Json kLabels = Json::parse(R"({"app": "posts", "tier": "api"})");

Json expr(const char* key, const char* op, Json values = nullptr) {
  Json e = {{"key", key}, {"operator", op}};
  if (!values.is_null()) e["values"] = std::move(values);
  return e;
}

bool selects(const Json& e, const Json& labels = kLabels) {
  return label_selector_matches(Json{{"matchExpressions", Json::array({e})}}, labels);
}

TEST(LabelSelectorObject, MatchLabelsNeedsEveryPairAsAString) {
  EXPECT_TRUE(label_selector_matches(Json::parse(R"({"matchLabels": {"app": "posts"}})"), kLabels));
  EXPECT_TRUE(label_selector_matches(
      Json::parse(R"({"matchLabels": {"app": "posts", "tier": "api"}})"), kLabels));
  EXPECT_FALSE(label_selector_matches(
      Json::parse(R"({"matchLabels": {"app": "posts", "tier": "web"}})"), kLabels));
  EXPECT_FALSE(label_selector_matches(Json::parse(R"({"matchLabels": {"x": ""}})"), kLabels));
  EXPECT_FALSE(label_selector_matches(Json::parse(R"({"matchLabels": {"app": "posts"}})"),
                                      Json::parse(R"({"app": 1})")));
  EXPECT_TRUE(labels_match(Json::parse(R"({"app": "posts"})"), kLabels));
  EXPECT_FALSE(labels_match(Json::parse(R"({"app": "posts"})"), nullptr));
  EXPECT_TRUE(labels_match(nullptr, nullptr));
}

TEST(LabelSelectorObject, In) {
  EXPECT_TRUE(selects(expr("tier", "In", {"web", "api"})));
  EXPECT_FALSE(selects(expr("tier", "In", {"web"})));
  EXPECT_FALSE(selects(expr("canary", "In", {"true"})));  // absent is not in
  EXPECT_FALSE(selects(expr("tier", "In", Json::array())));
  EXPECT_FALSE(selects(expr("tier", "In")));
}

TEST(LabelSelectorObject, NotIn) {
  EXPECT_TRUE(selects(expr("tier", "NotIn", {"web"})));
  EXPECT_FALSE(selects(expr("tier", "NotIn", {"web", "api"})));
  EXPECT_TRUE(selects(expr("canary", "NotIn", {"true"})));  // absent is not in either
  EXPECT_FALSE(selects(expr("tier", "NotIn")));             // refused by the API server
}

TEST(LabelSelectorObject, Exists) {
  EXPECT_TRUE(selects(expr("tier", "Exists")));
  EXPECT_FALSE(selects(expr("canary", "Exists")));
  EXPECT_TRUE(selects(expr("tier", "Exists"), Json::parse(R"({"tier": ""})")));
}

TEST(LabelSelectorObject, DoesNotExist) {
  EXPECT_TRUE(selects(expr("canary", "DoesNotExist")));
  EXPECT_FALSE(selects(expr("tier", "DoesNotExist")));
  EXPECT_TRUE(selects(expr("tier", "DoesNotExist"), nullptr));
}

TEST(LabelSelectorObject, EveryPartMustHoldAndUnknownOperatorsSelectNothing) {
  const Json both = Json::parse(R"({"matchLabels": {"app": "posts"},
      "matchExpressions": [{"key": "tier", "operator": "In", "values": ["api"]},
                           {"key": "canary", "operator": "DoesNotExist"}]})");
  EXPECT_TRUE(label_selector_matches(both, kLabels));
  EXPECT_FALSE(label_selector_matches(both, Json::parse(R"({"app": "posts", "tier": "web"})")));
  EXPECT_FALSE(label_selector_matches(both, Json::parse(R"({"tier": "api"})")));
  EXPECT_FALSE(selects(expr("tier", "Gt", {"1"})));
  EXPECT_FALSE(selects(expr("tier", "in", {"api"})));
  EXPECT_TRUE(label_selector_matches(Json::object(), kLabels));
}

TEST(LabelSelectorObject, StringIsKubectlsSortedByKey) {
  EXPECT_EQ(label_selector_string(Json::parse(R"({"matchLabels": {"tier": "api", "app": "posts"},
      "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod", "dev"]},
                           {"key": "zone", "operator": "Exists"},
                           {"key": "canary", "operator": "DoesNotExist"},
                           {"key": "app", "operator": "In", "values": ["posts"]}]})")),
            "app=posts,app in (posts),!canary,env notin (dev,prod),tier=api,zone");
  EXPECT_EQ(label_selector_string(nullptr), "");
  EXPECT_EQ(label_selector_string(Json::object()), "");
  EXPECT_EQ(label_selector_string(Json{{"matchExpressions", {expr("a", "In")}}}), std::nullopt);
  EXPECT_EQ(label_selector_string(Json{{"matchExpressions", {expr("a", "Exists", {"x"})}}}),
            std::nullopt);
  EXPECT_EQ(label_selector_string(Json{{"matchExpressions", {expr("a", "Lt", {"1"})}}}),
            std::nullopt);
}

// The text is what `?labelSelector=` and HPA read back: parsed, it selects what the object does.
TEST(LabelSelectorObject, StringSelectsWhatTheObjectSelects) {
  const Json selector = Json::parse(R"({"matchLabels": {"app": "posts"},
      "matchExpressions": [{"key": "tier", "operator": "In", "values": ["api", "web"]},
                           {"key": "env", "operator": "NotIn", "values": ["prod"]},
                           {"key": "zone", "operator": "Exists"},
                           {"key": "canary", "operator": "DoesNotExist"}]})");
  Result<api::Selector> parsed = api::parse_label_selector(*label_selector_string(selector));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  for (const char* labels :
       {R"({"app": "posts", "tier": "api", "zone": "a"})", R"({"app": "posts", "tier": "db"})",
        R"({"app": "posts", "tier": "web", "zone": "a", "env": "prod"})",
        R"({"app": "posts", "tier": "web", "zone": "a", "canary": "1"})",
        R"({"app": "users", "tier": "api", "zone": "a"})",
        R"({"app": "posts", "tier": "web", "zone": "", "env": "dev"})"}) {
    const Json l = Json::parse(labels);
    EXPECT_EQ(api::matches(parsed.value(), l), label_selector_matches(selector, l)) << labels;
  }
}

}  // namespace
}  // namespace ticketctl::manifest
