#include "runtime/core/strings.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>

namespace ticketctl {

size_t edit_distance(std::string_view a, std::string_view b) {
  const size_t n = a.size(), m = b.size();
  std::vector<size_t> prev2(m + 1), prev(m + 1), cur(m + 1);
  for (size_t j = 0; j <= m; ++j) prev[j] = j;
  for (size_t i = 1; i <= n; ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= m; ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[m];
}

static std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::string_view> nearest(std::string_view typed,
                                        std::span<const std::string_view> candidates) {
  const std::string typed_lower = lower(typed);
  std::optional<std::string_view> best;
  size_t best_distance = SIZE_MAX;
  for (std::string_view c : candidates) {
    const size_t d = edit_distance(typed_lower, lower(c));
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  // A third of the word, at least one edit and at most three: close enough to be a typo,
  // far enough that "replicas" is not offered for "image".
  const size_t limit = std::clamp<size_t>(typed.size() / 3, 1, 3);
  if (best && best_distance <= limit) return best;
  return std::nullopt;
}

static int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::optional<std::string> base64_decode(std::string_view in, size_t* error_offset) {
  // Go's decoder skips \r and \n anywhere; a YAML folded value may carry them.
  std::string clean;
  std::vector<size_t> origin;  // offset in `in` of each byte of `clean`
  clean.reserve(in.size());
  origin.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r' || in[i] == '\n') continue;
    clean.push_back(in[i]);
    origin.push_back(i);
  }
  auto fail = [&](size_t at) -> std::optional<std::string> {
    if (error_offset) *error_offset = at < origin.size() ? origin[at] : in.size();
    return std::nullopt;
  };
  std::string out;
  out.reserve(clean.size() / 4 * 3);
  size_t i = 0;
  while (i < clean.size()) {
    std::array<int, 4> v{};
    size_t pad = 0;
    for (size_t k = 0; k < 4; ++k) {
      // As Go does: input that ends inside a group is reported at the group's start.
      if (i + k >= clean.size()) return fail(i);
      const char c = clean[i + k];
      if (c == '=' && k >= 2) {
        pad = 4 - k;
        for (size_t r = k; r < 4; ++r)
          if (i + r >= clean.size() || clean[i + r] != '=') return fail(i + r);
        break;
      }
      v[k] = base64_value(c);
      if (v[k] < 0) return fail(i + k);
    }
    const unsigned triple = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out.push_back(static_cast<char>((triple >> 16) & 0xff));
    if (pad < 2) out.push_back(static_cast<char>((triple >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(triple & 0xff));
    i += 4;
    if (pad > 0 && i < clean.size()) return fail(i);
  }
  return out;
}

std::string base64_encode(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned t = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(t >> 18) & 63];
    out += kAlphabet[(t >> 12) & 63];
    out += kAlphabet[(t >> 6) & 63];
    out += kAlphabet[t & 63];
  }
  if (i < in.size()) {
    unsigned t = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) t |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(t >> 18) & 63];
    out += kAlphabet[(t >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(t >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::optional<size_t> invalid_utf8_at(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (s.size() - i <= n) return i;
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    const uint32_t min = n == 1 ? 0x80 : n == 2 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return std::nullopt;
}

}  // namespace ticketctl
