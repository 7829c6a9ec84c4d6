#include "runtime/api/stream_protocol.h"

#include <fmt/format.h>

namespace ticketctl::api::stream_protocol {

std::string http_response(int code, std::string_view reason, const std::string& body,
                          std::string_view extra_headers) {
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}"
      "Connection: close\r\n\r\n{}",
      code, reason, body.size(), extra_headers, body);
}

std::string status_response(const Json& status) {
  const int code = status.value("code", 500);
  return http_response(code, status.value("reason", "InternalError"), status.dump());
}

bool lists(std::string_view value, std::string_view want) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == want) return true;
    if (comma == std::string_view::npos) break;
    value = value.substr(comma + 1);
  }
  return false;
}

int parse_forward_port(std::string_view text) {
  int port = text.empty() || text.size() > 5 ? -1 : 0;
  for (char c : text) port = port >= 0 && c >= '0' && c <= '9' ? port * 10 + (c - '0') : -1;
  return port <= 0 || port > 65535 ? -1 : port;
}

std::optional<TerminalSize> parse_terminal_size(std::string_view message) {
  const Json size = Json::parse(message, nullptr, false);
  if (size.is_object() && size.value("Width", 0) > 0 && size.value("Height", 0) > 0)
    return TerminalSize{static_cast<unsigned short>(size.value("Width", 0)),
                        static_cast<unsigned short>(size.value("Height", 0))};
  return std::nullopt;
}

}  // namespace ticketctl::api::stream_protocol
