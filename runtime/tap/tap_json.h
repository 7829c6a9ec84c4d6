#pragma once
// The tap stream on the wire: an Exchange as the JSON object the API's tap endpoint, `ticketctl
// tap -o json` and the dashboard's Traffic view read, and the query that opens a stream. One
// place, so the three readers see the same shape (docs/commands/tap.md, "The stream").
//
// Pure functions; any thread.

#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/core/result.h"
#include "runtime/manifest/json.h"
#include "runtime/tap/tap.h"

namespace ticketctl::tap {

// What a reader asked for: the target and whether it wants bodies and unmasked secrets.
struct Query {
  Target target;
  bool bodies = false;
  bool show_secrets = false;
};

// The query parameters as text (absent: empty). `ns` is the path's namespace, empty on the
// cluster-wide path, where only `all` and `ingress` are taken. Booleans are "true", "false",
// "1", "0" or empty. Invalid with a message naming the parameter otherwise.
Result<Query> parse_query(std::string_view target, std::string_view ns, std::string_view bodies,
                          std::string_view show_secrets);

// The exchange as its stream object: time (RFC 3339, micros), via, kind, source, destination,
// method, host, path, status, latencyMs, requestBytes, responseBytes, requestHeaders and
// responseHeaders ([{name, value}]; Authorization, Cookie and Set-Cookie masked unless
// `show_secrets`), and requestBody/responseBody only when `bodies`.
Json exchange_json(const Exchange& e, bool bodies, bool show_secrets);

// One line of the stream, newline-terminated: {"type":"EXCHANGE","object":...}. Bytes that are
// not UTF-8 (a binary body, a body cut inside a character, obs-text in a header) become U+FFFD,
// so the line is always valid JSON.
std::string exchange_line(const Exchange& e, bool bodies, bool show_secrets);
// {"type":"DROPPED","object":{"count":N}}: N exchanges this reader lost by falling behind.
std::string dropped_line(uint64_t count);
// {"type":"SUBSCRIBED","object":{"target":"svc/default/x","bodies":false}}: the first line,
// once the subscription is in place (a reader may send traffic from then on).
std::string subscribed_line(const Query& q);

}  // namespace ticketctl::tap
