#include "runtime/api/spdy.h"

#include <zlib.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace ticketctl::api::spdy {
namespace {

constexpr size_t kMaxHeaderBlock = 64 * 1024;
constexpr uint32_t kMaxHeaders = 100;
constexpr uint16_t kVersion = 3;

// The dictionary is these words, each after its length as 4 big-endian bytes, then kTail.
constexpr std::array<std::string_view, 65> kWords = {
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
};
constexpr std::string_view kTail =
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 "
    "Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 "
    "Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, "
    "Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,application/xml,"
    "application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdch"
    "charset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

void put32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

uint32_t get32(std::string_view s, size_t at) {
  return (uint32_t{static_cast<unsigned char>(s[at])} << 24) |
         (uint32_t{static_cast<unsigned char>(s[at + 1])} << 16) |
         (uint32_t{static_cast<unsigned char>(s[at + 2])} << 8) |
         uint32_t{static_cast<unsigned char>(s[at + 3])};
}

// Frame header: control bit, version and type, or the stream id; then flags and 24-bit length.
std::string control(FrameType type, uint8_t flags, std::string_view payload) {
  std::string out;
  out.reserve(8 + payload.size());
  put32(out, 0x80000000u | (uint32_t{kVersion} << 16) | static_cast<uint16_t>(type));
  put32(out, (uint32_t{flags} << 24) | static_cast<uint32_t>(payload.size()));
  out.append(payload);
  return out;
}

}  // namespace

std::string_view dictionary() {
  static const std::string dict = [] {
    std::string d;
    for (std::string_view w : kWords) {
      put32(d, static_cast<uint32_t>(w.size()));
      d.append(w);
    }
    d.append(kTail);
    return d;
  }();
  return dict;
}

std::string header(const Headers& h, std::string_view name) {
  for (const auto& [k, v] : h)
    if (k == name) return v;
  return {};
}

struct Codec::Zlib {
  z_stream in{};
  z_stream out{};
  bool in_ok = false, out_ok = false;
  ~Zlib() {
    if (in_ok) inflateEnd(&in);
    if (out_ok) deflateEnd(&out);
  }
};

Codec::Codec() : z_(std::make_unique<Zlib>()) {
  z_->in_ok = inflateInit(&z_->in) == Z_OK;
  z_->out_ok = deflateInit(&z_->out, Z_DEFAULT_COMPRESSION) == Z_OK;
  if (z_->out_ok) {
    const std::string_view d = dictionary();
    deflateSetDictionary(&z_->out, reinterpret_cast<const Bytef*>(d.data()),
                         static_cast<uInt>(d.size()));
  }
}

Codec::~Codec() = default;

void Codec::feed(std::string_view bytes) {
  if (pos_ > 0 && pos_ == in_.size()) {
    in_.clear();
    pos_ = 0;
  } else if (pos_ > 64 * 1024) {
    in_.erase(0, pos_);
    pos_ = 0;
  }
  in_.append(bytes);
}

Result<Headers> Codec::inflate_headers(std::string_view block) {
  if (!z_->in_ok) return Error{ErrorCode::Internal, "spdy: zlib could not be initialised"};
  std::string plain;
  z_stream& z = z_->in;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(block.data()));
  z.avail_in = static_cast<uInt>(block.size());
  std::array<char, 4096> chunk;
  do {
    z.next_out = reinterpret_cast<Bytef*>(chunk.data());
    z.avail_out = static_cast<uInt>(chunk.size());
    int rc = inflate(&z, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT) {
      const std::string_view d = dictionary();
      if (inflateSetDictionary(&z, reinterpret_cast<const Bytef*>(d.data()),
                               static_cast<uInt>(d.size())) != Z_OK)
        return Error{ErrorCode::Invalid, "spdy: header block uses another dictionary"};
      rc = Z_OK;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END)
      return Error{ErrorCode::Invalid, fmt::format("spdy: bad compressed header block ({})",
                                                   z.msg ? z.msg : "zlib error")};
    plain.append(chunk.data(), chunk.size() - z.avail_out);
    if (plain.size() > kMaxHeaderBlock)
      return Error{ErrorCode::Invalid, "spdy: header block larger than 64 KiB"};
    if (rc == Z_BUF_ERROR) break;  // no progress possible: all input used, all output out
  } while (z.avail_in > 0 || z.avail_out == 0);
  // Number of pairs, then length-prefixed names and values.
  Headers out;
  size_t at = 0;
  auto take = [&](std::string& into) {
    if (plain.size() - at < 4) return false;
    const uint32_t n = get32(plain, at);
    at += 4;
    if (plain.size() - at < n) return false;
    into.assign(plain, at, n);
    at += n;
    return true;
  };
  if (plain.size() < 4) return Error{ErrorCode::Invalid, "spdy: truncated header block"};
  const uint32_t count = get32(plain, 0);
  at = 4;
  if (count > kMaxHeaders) return Error{ErrorCode::Invalid, "spdy: more than 100 headers"};
  for (uint32_t i = 0; i < count; ++i) {
    std::string name, value;
    if (!take(name) || !take(value))
      return Error{ErrorCode::Invalid, "spdy: truncated header block"};
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

std::string Codec::deflate_headers(const Headers& headers) {
  std::string plain;
  put32(plain, static_cast<uint32_t>(headers.size()));
  for (const auto& [k, v] : headers) {
    put32(plain, static_cast<uint32_t>(k.size()));
    plain.append(k);
    put32(plain, static_cast<uint32_t>(v.size()));
    plain.append(v);
  }
  std::string out;
  z_stream& z = z_->out;
  z.next_in = reinterpret_cast<Bytef*>(plain.data());
  z.avail_in = static_cast<uInt>(plain.size());
  std::array<char, 4096> chunk;
  do {
    z.next_out = reinterpret_cast<Bytef*>(chunk.data());
    z.avail_out = static_cast<uInt>(chunk.size());
    deflate(&z, Z_SYNC_FLUSH);
    out.append(chunk.data(), chunk.size() - z.avail_out);
  } while (z.avail_out == 0);
  return out;
}

Result<std::optional<Frame>> Codec::next() {
  const std::string_view in = std::string_view(in_).substr(pos_);
  if (in.size() < 8) return std::optional<Frame>();
  const uint32_t first = get32(in, 0), second = get32(in, 4);
  const size_t length = second & 0xffffff;
  if (in.size() < 8 + length) return std::optional<Frame>();
  const std::string_view payload = in.substr(8, length);
  pos_ += 8 + length;
  Frame f;
  f.flags = static_cast<uint8_t>(second >> 24);
  if ((first & 0x80000000u) == 0) {
    f.type = FrameType::Data;
    f.stream_id = first & 0x7fffffff;
    if (f.stream_id == 0) return Error{ErrorCode::Invalid, "spdy: data frame on stream 0"};
    f.data.assign(payload);
    return std::optional<Frame>(std::move(f));
  }
  const uint16_t version = (first >> 16) & 0x7fff;
  if (version != kVersion)
    return Error{ErrorCode::Invalid, fmt::format("spdy: unsupported version {}", version)};
  const auto need = [&](size_t n) -> Result<bool> {
    if (length < n) return Error{ErrorCode::Invalid, "spdy: truncated control frame"};
    return true;
  };
  f.type = static_cast<FrameType>(first & 0xffff);
  switch (f.type) {
    case FrameType::SynStream:
    case FrameType::SynReply:
    case FrameType::Headers: {
      const size_t skip = f.type == FrameType::SynStream ? 10 : 4;
      if (Result<bool> ok = need(skip); !ok.ok()) return ok.error();
      f.stream_id = get32(payload, 0) & 0x7fffffff;
      if (f.type == FrameType::SynStream) f.value = get32(payload, 4) & 0x7fffffff;
      Result<Headers> h = inflate_headers(payload.substr(skip));
      if (!h.ok()) return h.error();
      f.headers = std::move(h.value());
      if (f.stream_id == 0) return Error{ErrorCode::Invalid, "spdy: stream 0 opened"};
      break;
    }
    case FrameType::RstStream:
    case FrameType::GoAway:
    case FrameType::WindowUpdate:
      if (Result<bool> ok = need(8); !ok.ok()) return ok.error();
      f.stream_id = get32(payload, 0) & 0x7fffffff;
      f.value = get32(payload, 4);
      break;
    case FrameType::Ping:
      if (Result<bool> ok = need(4); !ok.ok()) return ok.error();
      f.value = get32(payload, 0);
      break;
    case FrameType::Settings:
      break;
    default:
      return next();  // an unknown control frame is ignored
  }
  return std::optional<Frame>(std::move(f));
}

std::string Codec::syn_reply(uint32_t stream_id, const Headers& headers, bool fin) {
  std::string payload;
  put32(payload, stream_id & 0x7fffffff);
  payload += deflate_headers(headers);
  return control(FrameType::SynReply, fin ? kFlagFin : 0, payload);
}

std::string Codec::syn_stream(uint32_t stream_id, const Headers& headers, bool fin) {
  std::string payload;
  put32(payload, stream_id & 0x7fffffff);
  put32(payload, 0);
  payload.append(2, '\0');  // priority, slot
  payload += deflate_headers(headers);
  return control(FrameType::SynStream, fin ? kFlagFin : 0, payload);
}

std::string Codec::data(uint32_t stream_id, std::string_view payload, bool fin) {
  std::string out;
  out.reserve(8 + payload.size());
  put32(out, stream_id & 0x7fffffff);
  put32(out, (uint32_t{fin ? kFlagFin : uint8_t{0}} << 24) | static_cast<uint32_t>(payload.size()));
  out.append(payload);
  return out;
}

std::string Codec::rst_stream(uint32_t stream_id, uint32_t status) {
  std::string payload;
  put32(payload, stream_id & 0x7fffffff);
  put32(payload, status);
  return control(FrameType::RstStream, 0, payload);
}

std::string Codec::ping(uint32_t id) {
  std::string payload;
  put32(payload, id);
  return control(FrameType::Ping, 0, payload);
}

std::string Codec::goaway(uint32_t last_good_stream, uint32_t status) {
  std::string payload;
  put32(payload, last_good_stream & 0x7fffffff);
  put32(payload, status);
  return control(FrameType::GoAway, 0, payload);
}

}  // namespace ticketctl::api::spdy
