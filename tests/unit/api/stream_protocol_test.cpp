// What the streaming verbs read and write without sockets (stream_protocol.h).

#include "runtime/api/stream_protocol.h"

#include <gtest/gtest.h>

namespace ticketctl::api::stream_protocol {
namespace {

TEST(StreamProtocol, ListsFindsASubprotocolAmongCommaSeparatedOnes) {
  EXPECT_TRUE(lists("v4.channel.k8s.io, v5.channel.k8s.io", kChannelV5));
  EXPECT_TRUE(lists(" SPDY/3.1+portforward.k8s.io ", kTunnel));
  EXPECT_FALSE(lists("V5.CHANNEL.K8S.IO", kChannelV5));  // subprotocols are case-sensitive
  EXPECT_FALSE(lists("v5.channel.k8s.io.x", kChannelV5));
  EXPECT_FALSE(lists("", kChannelV4));
}

TEST(StreamProtocol, ForwardPortIsOneTo65535InDecimalDigits) {
  EXPECT_EQ(parse_forward_port("3000"), 3000);
  EXPECT_EQ(parse_forward_port("1"), 1);
  EXPECT_EQ(parse_forward_port("65535"), 65535);
  for (const char* bad : {"", "0", "65536", "99999", "123456", "-1", "80a", " 80", "+80"})
    EXPECT_EQ(parse_forward_port(bad), -1) << bad;
}

TEST(StreamProtocol, TerminalSizeNeedsBothDimensionsPositive) {
  auto size = parse_terminal_size(R"({"Width":120,"Height":40})");
  ASSERT_TRUE(size);
  EXPECT_EQ(size->width, 120);
  EXPECT_EQ(size->height, 40);
  EXPECT_FALSE(parse_terminal_size(R"({"Width":0,"Height":40})"));
  EXPECT_FALSE(parse_terminal_size(R"({"Width":80})"));
  EXPECT_FALSE(parse_terminal_size("not json"));
  EXPECT_FALSE(parse_terminal_size("[80,24]"));
}

TEST(StreamProtocol, StatusResponseCarriesTheStatusCodeAndClosesTheConnection) {
  const Json status = {{"kind", "Status"}, {"code", 403}, {"reason", "Forbidden"}};
  const std::string body = status.dump();
  const std::string r = status_response(status);
  EXPECT_EQ(r, "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  EXPECT_TRUE(status_response(Json::object()).starts_with("HTTP/1.1 500 InternalError\r\n"));
}

}  // namespace
}  // namespace ticketctl::api::stream_protocol
