// How `ticketctl tap` prints an exchange for a person: who → where, the request, status,
// latency and sizes on one line; bodies indented under it with --body; connections as TCP.

#include "cli/tap_format.h"

#include <gtest/gtest.h>

namespace ticketctl::cli {
namespace {

Json exchange() {
  return Json::parse(R"({"time":"2026-12-04T12:01:02.345678Z","via":"ingress","kind":"http",
    "source":{"ip":"127.0.0.1","port":50412,"pod":"","workload":"","service":""},
    "destination":{"ip":"127.80.0.5","port":4000,"pod":"default/posts-depl-6d5f8-x2k9q",
      "workload":"default/posts-depl","service":"default/posts-clusterip-srv"},
    "method":"POST","host":"posts.com","path":"/posts/create","status":201,"latencyMs":3.14,
    "requestBytes":57,"responseBytes":112,"requestHeaders":[],"responseHeaders":[],
    "requestBody":"{\"title\":\"a\"}\r\nsecond","responseBody":"{\"id\":1}"})");
}

TEST(TapFormat, OneLinePerExchange) {
  const std::string line = tap_text(exchange(), "default", false);
  // The time of day is local; the rest is fixed.
  EXPECT_EQ(line.substr(8),
            ".345  ingress → posts-clusterip-srv/posts-depl-6d5f8-x2k9q  POST /posts/create  201  "
            "3.1ms  57B→112B");
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(TapFormat, BodiesIndentedUnderTheLine) {
  const std::string text = tap_text(exchange(), "default", true);
  EXPECT_NE(text.find("\n    > {\"title\":\"a\"}\n    > second\n    < {\"id\":1}"),
            std::string::npos)
      << text;
}

TEST(TapFormat, PodsAndOtherNamespacesAndConnections) {
  Json e = exchange();
  e["via"] = "relay";
  e["source"]["pod"] = "blog/posts-depl-1";
  e["destination"]["service"] = "";
  e["status"] = 0;
  e["latencyMs"] = 2300.0;
  std::string line = tap_text(e, "blog", false);
  EXPECT_NE(
      line.find("  posts-depl-1 → default/posts-depl-6d5f8-x2k9q  POST /posts/create  -  2.3s"),
      std::string::npos)
      << line;
  e["kind"] = "connection";
  e["requestBytes"] = 1229;
  e["responseBytes"] = 300;
  line = tap_text(e, "blog", false);
  EXPECT_NE(line.find("→ default/posts-depl-6d5f8-x2k9q  TCP  1.2KiB→300B  2.3s"),
            std::string::npos)
      << line;
  e["destination"] = {{"ip", "127.0.0.1"}, {"port", 5432}, {"pod", ""}, {"service", ""}};
  EXPECT_NE(tap_text(e, "blog", false).find("→ 127.0.0.1:5432  TCP"), std::string::npos);
}

TEST(TapFormat, HumanBytes) {
  EXPECT_EQ(human_bytes(0), "0B");
  EXPECT_EQ(human_bytes(1023), "1023B");
  EXPECT_EQ(human_bytes(1229), "1.2KiB");
  EXPECT_EQ(human_bytes(3u << 20), "3.0MiB");
}

}  // namespace
}  // namespace ticketctl::cli
