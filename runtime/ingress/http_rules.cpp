#include "runtime/ingress/http_rules.h"

#include <cctype>
#include <random>

namespace ticketctl::ingress {

bool unsupported_version(std::string_view head) {
  const std::string_view line = head.substr(0, head.find("\r\n"));
  if (line.size() < 8) return false;
  const std::string_view v = line.substr(line.size() - 8);
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!v.starts_with("HTTP/") || !digit(v[5]) || v[6] != '.' || !digit(v[7])) return false;
  if (line.size() > 8 && line[line.size() - 9] != ' ') return false;
  return v != "HTTP/1.0" && v != "HTTP/1.1";
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void make_request_id(std::string& id) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  id.assign(32, '0');
  for (int half = 0; half < 2; ++half) {
    uint64_t v = rng();
    for (int i = 0; i < 16; ++i, v >>= 4) id[half * 16 + i] = hex[v & 15];
  }
}

bool normalize_host(std::string_view v, std::string& out) {
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  std::string_view host = v;
  if (!v.empty() && v.front() == '[') {
    const auto close = v.find(']');
    if (close == std::string_view::npos) return false;
    host = v.substr(0, close + 1);
  } else if (const auto colon = v.find(':'); colon != std::string_view::npos) {
    host = v.substr(0, colon);
    for (char c : v.substr(colon + 1))
      if (c < '0' || c > '9') return false;
  }
  out.clear();
  for (char c : host) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ||
                    c == '_' || c == '[' || c == ']' || c == ':';
    if (!ok) return false;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return true;
}

}  // namespace ticketctl::ingress
