#pragma once
// The byte- and text-level rules of kubectl's streaming protocols that need no socket: the
// subprotocol names and channel numbers, the HTTP answers written before an upgrade, and the
// parsing of what a client sends inside a session (a port-forward's port header, a terminal
// resize). Plain C++, kept out of stream_front.cpp so that the Beast unit stays as small as it
// can; the sessions themselves are there.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/manifest/json.h"

namespace ticketctl::api::stream_protocol {

inline constexpr std::string_view kChannelV5 = "v5.channel.k8s.io";
inline constexpr std::string_view kChannelV4 = "v4.channel.k8s.io";
inline constexpr std::string_view kTunnel = "SPDY/3.1+portforward.k8s.io";
inline constexpr std::string_view kPortForwardV1 = "portforward.k8s.io";

// exec and attach: every binary message starts with its channel; v5 adds kClose ([255, 0] is
// the end of stdin).
inline constexpr uint8_t kStdin = 0, kStdout = 1, kStderr = 2, kStatus = 3, kResize = 4,
                         kClose = 255;

// A complete HTTP/1.1 answer with a JSON body that closes the connection.
std::string http_response(int code, std::string_view reason, const std::string& body,
                          std::string_view extra_headers = {});
// A metav1.Status as that answer, its code and reason as the HTTP status.
std::string status_response(const Json& status);

// Whether a comma-separated header value lists `want` (case-sensitive, as subprotocols are).
bool lists(std::string_view value, std::string_view want);

// A port-forward stream's `port` header: 1..65535 in plain decimal digits, else -1.
int parse_forward_port(std::string_view text);

struct TerminalSize {
  unsigned short width = 0, height = 0;
};
// A resize message (channel 4: JSON {"Width":W,"Height":H}); nullopt when it is not one with
// both sizes positive.
std::optional<TerminalSize> parse_terminal_size(std::string_view message);

}  // namespace ticketctl::api::stream_protocol
