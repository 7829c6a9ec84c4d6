#include "runtime/manifest/scalar.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ticketctl::manifest {
namespace {

TEST(ResolveScalar, PlainScalarsFollowYaml11AsKubernetesDoes) {
  EXPECT_EQ(resolve_scalar("3000", "?"), Json(3000));
  EXPECT_EQ(resolve_scalar("-7", "?"), Json(-7));
  EXPECT_EQ(resolve_scalar("0x1F", "?"), Json(31));
  EXPECT_EQ(resolve_scalar("017", "?"), Json(15));  // YAML 1.1 octal
  EXPECT_EQ(resolve_scalar("1_000", "?"), Json(1000));
  EXPECT_EQ(resolve_scalar("0.5", "?"), Json(0.5));
  EXPECT_EQ(resolve_scalar("1e3", "?"), Json(1000.0));
  EXPECT_EQ(resolve_scalar("yes", "?"), Json(true));
  EXPECT_EQ(resolve_scalar("On", "?"), Json(true));
  EXPECT_EQ(resolve_scalar("no", "?"), Json(false));
  EXPECT_EQ(resolve_scalar("FALSE", "?"), Json(false));
  EXPECT_EQ(resolve_scalar("~", "?"), Json(nullptr));
  EXPECT_EQ(resolve_scalar("", "?"), Json(nullptr));
  EXPECT_TRUE(std::isinf(resolve_scalar(".inf", "?").get<double>()));
}

TEST(ResolveScalar, TextThatIsNotANumberStaysAString) {
  for (const char* s :
       {"100m", "1Gi", "1.2.3", "0x", "08", "--port", "e3", ".", "yes please", "1e"}) {
    EXPECT_TRUE(resolve_scalar(s, "?").is_string()) << s;
  }
}

TEST(ResolveScalar, QuotedAndTaggedStringsStayStrings) {
  EXPECT_EQ(resolve_scalar("3000", "!"), Json("3000"));
  EXPECT_EQ(resolve_scalar("yes", "!"), Json("yes"));
  EXPECT_EQ(resolve_scalar("true", "tag:yaml.org,2002:str"), Json("true"));
}

TEST(JsonTypeName, NamesTypesForMessages) {
  EXPECT_EQ(json_type_name(Json(1)), "integer");
  EXPECT_EQ(json_type_name(Json(1.5)), "number");
  EXPECT_EQ(json_type_name(Json(true)), "boolean");
  EXPECT_EQ(json_type_name(Json("x")), "string");
  EXPECT_EQ(json_type_name(Json()), "null");
}

}  // namespace
}  // namespace ticketctl::manifest
