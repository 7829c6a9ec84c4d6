#include "cli/jsonpath.h"

#include <gtest/gtest.h>

namespace ticketctl::cli {
namespace {

const Json kPods = Json::parse(R"({"kind": "List", "items": [
  {"metadata": {"name": "posts-1", "labels": {"app": "posts"}},
   "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
   "spec": {"containers": [{"name": "posts", "image": "demo/posts"}, {"name": "side", "image": "busybox"}]}},
  {"metadata": {"name": "query-1", "labels": {"app": "query"}},
   "status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}]},
   "spec": {"containers": [{"name": "query", "image": "demo/query"}]}}]})");

std::string render(std::string_view t, const Json& data = kPods) {
  auto r = render_jsonpath(t, data);
  return r.ok() ? r.value() : "ERROR: " + r.error().message;
}

TEST(JsonPath, FieldsIndexesAndWildcards) {
  EXPECT_EQ(render("{.items[0].metadata.name}"), "posts-1");
  EXPECT_EQ(render("{.items[*].metadata.name}"), "posts-1 query-1");
  EXPECT_EQ(render("{.items[-1].metadata.name}"), "query-1");
  EXPECT_EQ(render("{.items[0:1].status.phase}"), "Running");
  EXPECT_EQ(render("{.items[0].metadata.labels['app']}"), "posts");
  EXPECT_EQ(render("{..image}"), "demo/posts busybox demo/query");
  EXPECT_EQ(render("{.items[0].metadata.labels}"), R"({"app":"posts"})");
  EXPECT_EQ(render("name={.items[1].metadata.name}!"), "name=query-1!");
  EXPECT_EQ(render("{.items[5].metadata.name}"), "");
}

TEST(JsonPath, FiltersAndRanges) {
  EXPECT_EQ(render(R"({.items[?(@.status.phase=="Pending")].metadata.name})"), "query-1");
  EXPECT_EQ(render(R"({.items[0].status.conditions[?(@.type=="Ready")].status})"), "True");
  EXPECT_EQ(render(R"({range .items[*]}{.metadata.name}{"\t"}{.status.phase}{"\n"}{end})"),
            "posts-1\tRunning\nquery-1\tPending\n");
  EXPECT_EQ(render(R"({range .items[*]}[{range .spec.containers[*]}{.name} {end}]{end})"),
            "[posts side ][query ]");
}

TEST(JsonPath, SyntaxErrorsAreReported) {
  EXPECT_TRUE(render("{.items[0").starts_with("ERROR: error parsing jsonpath"));
  EXPECT_TRUE(render("{range .items[*]}{.x}").starts_with("ERROR: error parsing jsonpath"));
  EXPECT_TRUE(render("{.a}{end}").starts_with("ERROR: error parsing jsonpath"));
  EXPECT_TRUE(render("{.items[]}").starts_with("ERROR: error parsing jsonpath"));
}

// -o custom-columns: one expression, each value apart, written with or without braces and dot.
TEST(JsonPath, ValuesOfOneExpression) {
  const Json pod = kPods["items"][0];
  using V = std::vector<std::string>;
  EXPECT_EQ(jsonpath_values(".metadata.name", pod).value(), V{"posts-1"});
  EXPECT_EQ(jsonpath_values("metadata.name", pod).value(), V{"posts-1"});
  EXPECT_EQ(jsonpath_values("{.spec.containers[*].name}", pod).value(), (V{"posts", "side"}));
  EXPECT_EQ(jsonpath_values(".spec.nothing", pod).value(), V{});
  EXPECT_FALSE(jsonpath_values(".spec.containers[", pod).ok());
}

}  // namespace
}  // namespace ticketctl::cli
