// The ingress proxy's request-head rules and formatting that need no sockets (http_rules.h).

#include "runtime/ingress/http_rules.h"

#include <gtest/gtest.h>

namespace ticketctl::ingress {
namespace {

TEST(HttpRules, OnlyWellFormedOtherVersionsAreUnsupported) {
  EXPECT_TRUE(unsupported_version("GET / HTTP/2.0\r\nHost: a\r\n\r\n"));
  EXPECT_TRUE(unsupported_version("GET / HTTP/1.2\r\n"));
  EXPECT_FALSE(unsupported_version("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_FALSE(unsupported_version("GET / HTTP/1.0\r\n"));
  EXPECT_FALSE(unsupported_version("GET / HTTP/x.y\r\n"));  // garbage: 400, not 505
  EXPECT_FALSE(unsupported_version("GET /HTTP/2.0\r\n"));   // no space before the version
  EXPECT_FALSE(unsupported_version("HTTP/2"));
}

TEST(HttpRules, NormalizeHostLowersAndDropsThePort) {
  std::string out;
  EXPECT_TRUE(normalize_host(" Posts.COM:8080 ", out));
  EXPECT_EQ(out, "posts.com");
  EXPECT_TRUE(normalize_host("[::1]:8443", out));
  EXPECT_EQ(out, "[::1]");
  EXPECT_TRUE(normalize_host("", out));
  EXPECT_EQ(out, "");
  EXPECT_FALSE(normalize_host("posts.com:80x", out));
  EXPECT_FALSE(normalize_host("[::1", out));
  EXPECT_FALSE(normalize_host("a/b", out));
  EXPECT_FALSE(normalize_host("a b", out));
}

TEST(HttpRules, RequestIdsAre32HexDigitsAndDiffer) {
  std::string a, b;
  make_request_id(a);
  make_request_id(b);
  ASSERT_EQ(a.size(), 32u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
}

TEST(HttpRules, FieldPortAndChunkFraming) {
  std::string out;
  append_field(out, "X-Real-IP", "10.0.0.1");
  append_port(out, 65535);
  out += ' ';
  append_chunk_header(out, 255);
  EXPECT_EQ(out, "X-Real-IP: 10.0.0.1\r\n65535 ff\r\n");
  EXPECT_EQ(lower("MiXeD-Case"), "mixed-case");
}

}  // namespace
}  // namespace ticketctl::ingress
