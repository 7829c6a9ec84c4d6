#include "runtime/core/strings.h"

#include <gtest/gtest.h>

#include <array>

namespace ticketctl {
namespace {

TEST(EditDistance, CountsTranspositionAsOneEdit) {
  EXPECT_EQ(edit_distance("contianers", "containers"), 1u);
  EXPECT_EQ(edit_distance("image", "image"), 0u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("replica", "replicas"), 1u);
}

TEST(Nearest, SuggestsCloseNamesOnly) {
  constexpr std::array<std::string_view, 4> fields = {"containers", "volumes", "restartPolicy",
                                                      "hostname"};
  EXPECT_EQ(nearest("contianers", fields), "containers");
  EXPECT_EQ(nearest("Containers", fields), "containers");
  EXPECT_EQ(nearest("restartpolicy", fields), "restartPolicy");
  EXPECT_FALSE(nearest("image", fields).has_value());
  EXPECT_FALSE(nearest("x", fields).has_value());
}

TEST(Base64, DecodesStandardPaddedInput) {
  EXPECT_EQ(base64_decode("YXNkZg=="), "asdf");
  EXPECT_EQ(base64_decode("YXNk"), "asd");
  EXPECT_EQ(base64_decode("YXM="), "as");
  EXPECT_EQ(base64_decode(""), "");
  EXPECT_EQ(base64_decode("YXNk\nZg=="), "asdf");  // line breaks are skipped, as Go does
}

TEST(Base64, ReportsTheFirstBadByte) {
  size_t at = 99;
  EXPECT_FALSE(base64_decode("YXNk*g==", &at));
  EXPECT_EQ(at, 4u);
  EXPECT_FALSE(base64_decode("YXNkZg", &at));  // missing padding: Go names the group's start
  EXPECT_EQ(at, 4u);
  EXPECT_FALSE(base64_decode("secret", &at));
  EXPECT_EQ(at, 4u);
  EXPECT_FALSE(base64_decode("YQ==YQ==", &at));  // data after padding
  EXPECT_EQ(at, 4u);
  EXPECT_FALSE(base64_decode("Y===", &at));
}

TEST(Base64, EncodeRoundTrips) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "\x01\xff\x10 secret"}) {
    EXPECT_EQ(base64_decode(base64_encode(s)), s) << s;
  }
  EXPECT_EQ(base64_encode("asdf"), "YXNkZg==");
}

TEST(Quote, EscapesLikeGo) {
  EXPECT_EQ(quote("abc"), "\"abc\"");
  EXPECT_EQ(quote("a\"b\n"), "\"a\\\"b\\n\"");
  EXPECT_EQ(quote(std::string("\x01", 1)), "\"\\x01\"");
}

}  // namespace
}  // namespace ticketctl
