#include "runtime/api/admission.h"

#include <gtest/gtest.h>

#include <string>

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
