#pragma once
// What the ingress router decides for one request, and what the proxy needs to act on it.
// Plain value types; the router (router.h) produces them, the proxy (proxy.h) consumes them.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ticketctl::ingress {

// Per-Ingress settings from ingress-nginx annotations, with ingress-nginx's defaults.
struct RouteOptions {
  int64_t max_body_bytes = 1 << 20;                 // proxy-body-size (default 1m; 0 = unlimited)
  std::chrono::milliseconds connect_timeout{5000};  // proxy-connect-timeout (seconds in YAML)
  std::chrono::milliseconds read_timeout{60000};    // proxy-read-timeout
  std::chrono::milliseconds send_timeout{60000};    // proxy-send-timeout
  bool ssl_redirect = true;         // only acts when the host has TLS (a `tls:` entry)
  bool force_ssl_redirect = false;  // redirects to https even without a `tls:` entry
  bool enable_cors = false;         // answers preflights and adds Access-Control-* headers
};

struct RouteMatch {
  std::string ns;       // the Ingress's namespace (the backend Service lives there)
  std::string service;  // backend Service name
  std::string port;     // the Service port: a number ("4000") or a port name ("http")
  std::string target;   // path + query to send upstream (after rewrite-target)
  std::string rule;     // "default/ingress-srv posts.com /posts/create" for error bodies and logs
  RouteOptions options;
  bool host_has_tls = false;  // the host is listed under some Ingress's `tls:`
};

// The same decision as views: into the routing table that made it (valid while that table
// lives) and into the request target, or a caller's buffer when the target was rewritten. What
// the proxy uses per request, so that routing allocates nothing.
struct RouteRef {
  std::string_view ns, service, port, target, rule;
  RouteOptions options;
  bool host_has_tls = false;
};

}  // namespace ticketctl::ingress
