#include "runtime/tap/tap_json.h"

#include "runtime/core/rfc3339.h"

namespace ticketctl::tap {
namespace {

Result<bool> parse_bool(std::string_view name, std::string_view text) {
  if (text.empty() || text == "false" || text == "0") return false;
  if (text == "true" || text == "1") return true;
  return Error{ErrorCode::Invalid, "query parameter " + std::string(name) + "=\"" +
                                       std::string(text) + "\": expected true or false"};
}

Json peer_json(const Peer& p) {
  return {{"ip", p.ip},
          {"port", p.port},
          {"pod", p.pod},
          {"workload", p.workload},
          {"service", p.service}};
}

Json headers_json(const Headers& headers) {
  Json out = Json::array();
  for (const auto& [name, value] : headers) out.push_back({{"name", name}, {"value", value}});
  return out;
}

std::string line_of(const char* type, Json object) {
  const Json line = {{"type", type}, {"object", std::move(object)}};
  // Replace, not throw: a body is whatever bytes the service sent.
  return line.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace

Result<Query> parse_query(std::string_view target, std::string_view ns, std::string_view bodies,
                          std::string_view show_secrets) {
  Query q;
  Result<bool> b = parse_bool("bodies", bodies);
  if (!b.ok()) return b.error();
  Result<bool> s = parse_bool("showSecrets", show_secrets);
  if (!s.ok()) return s.error();
  q.bodies = b.value();
  q.show_secrets = s.value();
  if (ns.empty() && target.find('/') != std::string_view::npos)
    return Error{ErrorCode::Invalid,
                 "tap target \"" + std::string(target) +
                     "\" names an object: use /apis/ticketctl.dev/v1/namespaces/NS/tap"};
  Result<Target> t = parse_target(target, ns.empty() ? "default" : ns);
  if (!t.ok()) return t.error();
  q.target = std::move(t.value());
  return q;
}

Json exchange_json(const Exchange& e, bool bodies, bool show_secrets) {
  const Exchange* shown = &e;
  Exchange masked;
  if (!show_secrets) {
    // Only headers are masked; copying them (not the bodies) is enough.
    masked.request_headers = e.request_headers;
    masked.response_headers = e.response_headers;
    mask_secrets(masked);
  }
  const Headers& request_headers = show_secrets ? shown->request_headers : masked.request_headers;
  const Headers& response_headers =
      show_secrets ? shown->response_headers : masked.response_headers;
  Json o = {{"time", rfc3339::format_micro(rfc3339::Time::from(e.time))},
            {"seq", e.seq},
            {"via", e.via == Exchange::Via::Ingress ? "ingress" : "relay"},
            {"kind", e.http ? "http" : "connection"},
            {"source", peer_json(e.source)},
            {"destination", peer_json(e.destination)},
            {"method", e.method},
            {"host", e.host},
            {"path", e.path},
            {"status", e.status},
            {"latencyMs", e.latency_ms},
            {"requestBytes", e.request_bytes},
            {"responseBytes", e.response_bytes},
            {"requestHeaders", headers_json(request_headers)},
            {"responseHeaders", headers_json(response_headers)}};
  if (bodies) {
    o["requestBody"] = e.request_body.substr(0, kBodyLimit);
    o["responseBody"] = e.response_body.substr(0, kBodyLimit);
  }
  return o;
}

std::string exchange_line(const Exchange& e, bool bodies, bool show_secrets) {
  return line_of("EXCHANGE", exchange_json(e, bodies, show_secrets));
}

std::string dropped_line(uint64_t count) {
  return line_of("DROPPED", {{"count", count}});
}

std::string subscribed_line(const Query& q) {
  return line_of("SUBSCRIBED", {{"target", to_string(q.target)}, {"bodies", q.bodies}});
}

}  // namespace ticketctl::tap
