#include "runtime/manifest/json_input.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "runtime/core/limits.h"
#include "tests/support/timing.h"

namespace ticketctl {
namespace {

std::string nested_arrays(size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

TEST(ParseJson, AcceptsNestingUpToTheLimit) {
  Result<Json> ok = parse_json(nested_arrays(limits::kMaxNestingDepth));
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(json_depth(ok.value()), limits::kMaxNestingDepth);
}

TEST(ParseJson, RefusesDeeperNestingQuickly) {
  // 100,000 levels: nlohmann would parse it, and then dump() or a merge patch would overflow
  // the stack.
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "{\"a\":";
  deep += "1" + std::string(100000, '}');
  const auto start = std::chrono::steady_clock::now();
  Result<Json> r = parse_json(deep);
  EXPECT_LT(std::chrono::steady_clock::now() - start,
            ticketctl::testing::time_bound(std::chrono::milliseconds(100)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::Invalid);
  EXPECT_EQ(r.error().message,
            "the JSON nests deeper than 400 levels: ticketctl reads no JSON nested deeper (see "
            "docs/limits.md)");
}

TEST(ParseJson, SyntaxErrorsSayWhere) {
  Result<Json> r = parse_json("{\"a\": tru}");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(
      r.error().message.starts_with("the body is not valid JSON: parse error at line 1, "
                                    "column 10"))
      << r.error().message;
  EXPECT_FALSE(parse_json("").ok());
  EXPECT_FALSE(parse_json("{} {}").ok());
}

TEST(JsonDepthAndSize, CountWithoutRecursion) {
  EXPECT_EQ(json_depth(Json(1)), 0u);
  EXPECT_EQ(json_depth(Json::parse(R"({"a": [1, {"b": []}], "c": {}})")), 4u);
  EXPECT_EQ(json_size(Json::parse(R"({"a": [1, 2], "b": null})")), 5u);
  // Counting stops soon after the limit: a huge value costs no more than the limit.
  EXPECT_LE(json_size(Json(std::vector<int>(100000, 1)), 10), 11u);
  // Deep values built in code (not parsed) are measured without overflowing the stack.
  Json deep = Json::array();
  Json* at = &deep;
  for (int i = 0; i < 50000; ++i) {
    at->push_back(Json::array());
    at = &at->back();
  }
  EXPECT_EQ(json_depth(deep), 50001u);
}

}  // namespace
}  // namespace ticketctl
