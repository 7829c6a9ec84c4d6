#pragma once
// SPDY/3.1 framing, the part kubectl's port-forward speaks (moby/spdystream on its side): frames
// out of a byte stream, header blocks compressed with zlib and SPDY's dictionary (one zlib
// stream per direction for the whole session), and the frames a server sends. No sockets: the
// stream server (stream_front.cpp) feeds it the bytes of a WebSocket tunnel or of a plain SPDY
// upgrade. Flow control is not implemented because spdystream neither sends nor honours
// WINDOW_UPDATE. Threads: one session, one thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/core/result.h"

namespace ticketctl::api::spdy {

enum class FrameType : uint16_t {
  Data = 0,
  SynStream = 1,
  SynReply = 2,
  RstStream = 3,
  Settings = 4,
  Ping = 6,
  GoAway = 7,
  Headers = 8,
  WindowUpdate = 9,
};

constexpr uint8_t kFlagFin = 0x01;
constexpr uint32_t kRstProtocolError = 1;
constexpr uint32_t kRstRefusedStream = 3;
constexpr uint32_t kRstCancel = 5;

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Frame {
  FrameType type = FrameType::Data;
  uint8_t flags = 0;
  uint32_t stream_id = 0;  // 0 for session frames
  // PING: its id; RST_STREAM and GOAWAY: the status; WINDOW_UPDATE: the delta.
  uint32_t value = 0;
  Headers headers;   // SYN_STREAM, SYN_REPLY, HEADERS (names lowercase, as sent)
  std::string data;  // DATA
  bool fin() const { return (flags & kFlagFin) != 0; }
};

// The value of header `name` in `h`, or empty.
std::string header(const Headers& h, std::string_view name);

// The 1423-byte dictionary of SPDY/3 header compression (draft 3, section 2.6.10.1).
std::string_view dictionary();

class Codec {
 public:
  Codec();
  ~Codec();
  Codec(const Codec&) = delete;
  Codec& operator=(const Codec&) = delete;

  // Appends received bytes; next() takes complete frames from them.
  void feed(std::string_view bytes);
  // The next complete frame, nullopt when more bytes are needed, an error when the peer broke
  // the protocol (the session must end). Unknown control frame types are skipped, as the spec
  // says. Budgets: a decompressed header block of at most 64 KiB, 100 headers.
  Result<std::optional<Frame>> next();
  size_t buffered() const { return in_.size() - pos_; }

  // Frames to send.
  std::string syn_reply(uint32_t stream_id, const Headers& headers, bool fin);
  static std::string data(uint32_t stream_id, std::string_view payload, bool fin);
  static std::string rst_stream(uint32_t stream_id, uint32_t status);
  static std::string ping(uint32_t id);
  static std::string goaway(uint32_t last_good_stream, uint32_t status);

  // The client side, for tests: a SYN_STREAM as spdystream sends it.
  std::string syn_stream(uint32_t stream_id, const Headers& headers, bool fin);

 private:
  Result<Headers> inflate_headers(std::string_view block);
  std::string deflate_headers(const Headers& headers);

  struct Zlib;
  std::unique_ptr<Zlib> z_;
  std::string in_;
  size_t pos_ = 0;
};

}  // namespace ticketctl::api::spdy
