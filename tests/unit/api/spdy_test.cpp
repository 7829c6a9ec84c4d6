// SPDY/3.1 framing for port-forward: frames split across reads, header blocks through one zlib
// stream per direction, and broken input refused rather than trusted.

#include "runtime/api/spdy.h"

#include <gtest/gtest.h>
#include <zlib.h>

namespace ticketctl::api::spdy {
namespace {

TEST(Spdy, DictionaryIsTheSpecsOne) {
  const std::string_view d = dictionary();
  EXPECT_EQ(d.size(), 1423u);
  EXPECT_EQ(adler32(1, reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size())),
            0xe3c6a7c2u);
}

TEST(Spdy, StreamsAndDataArriveAsSentEvenByteByByte) {
  Codec client, server;
  std::string wire =
      client.syn_stream(1, {{"streamtype", "error"}, {"port", "80"}, {"requestid", "0"}}, false);
  // The second header block reuses the zlib stream (and its history), as spdystream's does.
  wire += client.syn_stream(3, {{"streamtype", "data"}, {"port", "80"}, {"requestid", "0"}}, false);
  wire += Codec::data(3, "GET / HTTP/1.1\r\n\r\n", true);
  wire += Codec::ping(1);
  std::vector<Frame> frames;
  for (char c : wire) {
    server.feed(std::string_view(&c, 1));
    for (;;) {
      Result<std::optional<Frame>> f = server.next();
      ASSERT_TRUE(f.ok()) << f.error().message;
      if (!f.value()) break;
      frames.push_back(std::move(*f.value()));
    }
  }
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[0].type, FrameType::SynStream);
  EXPECT_EQ(frames[0].stream_id, 1u);
  EXPECT_EQ(header(frames[0].headers, "streamtype"), "error");
  EXPECT_EQ(header(frames[1].headers, "streamtype"), "data");
  EXPECT_EQ(header(frames[1].headers, "port"), "80");
  EXPECT_EQ(frames[2].type, FrameType::Data);
  EXPECT_EQ(frames[2].data, "GET / HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(frames[2].fin());
  EXPECT_EQ(frames[3].type, FrameType::Ping);
  EXPECT_EQ(frames[3].value, 1u);
}

TEST(Spdy, RepliesDecodeOnTheOtherSide) {
  Codec server, client;
  // One statement per frame: the header blocks share a zlib stream, so their order matters.
  std::string wire = server.syn_reply(1, {}, false);
  wire += server.syn_reply(3, {}, false);
  wire += Codec::rst_stream(3, kRstCancel) + Codec::goaway(3, 0);
  client.feed(wire);
  std::vector<Frame> frames;
  for (;;) {
    Result<std::optional<Frame>> f = client.next();
    ASSERT_TRUE(f.ok()) << f.error().message;
    if (!f.value()) break;
    frames.push_back(std::move(*f.value()));
  }
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[1].type, FrameType::SynReply);
  EXPECT_EQ(frames[1].stream_id, 3u);
  EXPECT_TRUE(frames[1].headers.empty());
  EXPECT_EQ(frames[2].type, FrameType::RstStream);
  EXPECT_EQ(frames[2].value, kRstCancel);
  EXPECT_EQ(frames[3].type, FrameType::GoAway);
}

TEST(Spdy, BrokenInputIsAnError) {
  {
    Codec c;  // a control frame of SPDY/2
    c.feed(std::string("\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01", 12));
    EXPECT_FALSE(c.next().ok());
  }
  {
    Codec c;  // a SYN_STREAM whose header block is not zlib
    c.feed(
        std::string("\x80\x03\x00\x01\x00\x00\x00\x0e\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                    "abcd",
                    22));
    EXPECT_FALSE(c.next().ok());
  }
  {
    Codec c;  // a PING too short for its id
    c.feed(std::string("\x80\x03\x00\x06\x00\x00\x00\x02\x00\x00", 10));
    EXPECT_FALSE(c.next().ok());
  }
}

}  // namespace
}  // namespace ticketctl::api::spdy
