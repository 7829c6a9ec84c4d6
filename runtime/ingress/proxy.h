#pragma once
// The ingress data plane: HTTP and HTTPS listeners that parse requests strictly, ask the router
// (through ProxyHooks) where each one goes, and relay it to a Service's ready endpoint with
// streaming bodies, keep-alive upstream pools and WebSocket/Upgrade tunnels.
//
// Owns: its listeners, a fixed set of I/O threads (one io_context each; a connection lives on one
// thread for its whole life, so per-connection state needs no locks), per-thread upstream pools
// and the per-host TLS contexts. Knows nothing of Ingress objects: where requests go is a
// Routing value the owner publishes (decisions as RouteRef views, route.h; endpoints as
// net::Backend, net/backend.h).
//
// Threads: start() and stop() from one controlling thread. Hooks are called on the I/O threads,
// concurrently; they must be thread-safe and fast (no blocking I/O). No exception leaves the data
// path; failures become HTTP status codes (see docs/ingress.md, "Status codes").

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/core/result.h"
#include "runtime/ingress/route.h"
#include "runtime/net/backend.h"

namespace ticketctl::ingress {

// One line of the access log, handed to ProxyHooks::access_log once per request (also for
// requests the proxy answers itself: 400, 404, 503 ...). Empty strings where a field does not
// apply (no rule matched, no upstream chosen).
struct AccessLogEntry {
  std::chrono::system_clock::time_point time;  // when the request header was complete
  std::string client;                          // peer IP
  std::string scheme;                          // "http" or "https"
  std::string host;                            // Host header without port, lower case
  std::string method;
  std::string path;        // the request target as the client sent it
  std::string rule;        // RouteMatch::rule
  std::string upstream;    // "ip:port" of the endpoint that answered
  std::string pod;         // net::Backend::pod of that endpoint
  int status = 0;          // status sent to the client (101 for a tunnel)
  uint64_t bytes_in = 0;   // request bytes received from the client (header + body)
  uint64_t bytes_out = 0;  // response bytes sent to the client (header + body)
  double duration_ms = 0;  // header complete → response complete
  std::string request_id;  // X-Request-ID sent upstream

  // What the traffic tap shows beyond the log line, filled only when ProxyHooks::capture asked
  // for it when the request began (somebody taps); otherwise left empty and never touched.
  bool captured = false;
  uint16_t client_port = 0;
  std::string service;  // "ns/name" of the Service the route chose
  // As the client and the upstream sent them, up to 8 KiB of each (then a last field
  // "X-Ticketctl-Tap: more header fields were not kept").
  std::vector<std::pair<std::string, std::string>> request_headers;
  std::vector<std::pair<std::string, std::string>> response_headers;
  // The first ProxyHooks::body_limit bytes of each body (decoded from chunked), only at
  // Capture::Bodies.
  std::string request_body, response_body;
};

// How much of a request the proxy keeps for the traffic tap (AccessLogEntry's last fields).
enum class Capture { None, Headers, Bodies };

using CertificatePem = std::pair<std::string, std::string>;  // certificate chain PEM, key PEM

// Where requests go: an immutable value published whole (IngressProxy::publish). Each I/O thread
// notices a new one through a version counter and keeps the one a request started with alive
// until that request ends, so reading it takes no lock and no shared reference count, and the
// answers can be views into it. Its members are called on the I/O threads, concurrently.
// A Service port's ready endpoints as a Routing holds them, with the round-robin position its
// requests share (an atomic counter: no lock, one per endpoint set).
struct Endpoints {
  std::span<const net::Backend> backends;
  std::atomic<uint64_t>* next = nullptr;  // null → always the first
};

class Routing {
 public:
  virtual ~Routing() = default;
  // Host (lower case, no port) + request target → decision; nullopt → 404. The views point
  // into this object, into `target`, or into `scratch` (a rewritten target).
  virtual std::optional<RouteRef> route(std::string_view host, std::string_view target,
                                        std::string& scratch) const = 0;
  // A Service port's ready endpoints, pointing into this object; empty → 503.
  virtual Endpoints endpoints(std::string_view ns, std::string_view service,
                              std::string_view port) const = 0;
};

// Every request, whatever its host and path, to one Service's endpoints (benchmarks, tests).
class FixedRouting final : public Routing {
 public:
  FixedRouting(RouteMatch match, net::Backends backends)
      : match_(std::move(match)), backends_(std::move(backends)) {}
  std::optional<RouteRef> route(std::string_view, std::string_view target,
                                std::string&) const override {
    return RouteRef{match_.ns,   match_.service, match_.port,        target,
                    match_.rule, match_.options, match_.host_has_tls};
  }
  Endpoints endpoints(std::string_view, std::string_view, std::string_view) const override {
    return {backends_, &next_};
  }

 private:
  RouteMatch match_;
  net::Backends backends_;
  mutable std::atomic<uint64_t> next_{0};
};

struct ProxyHooks {
  std::function<void(const AccessLogEntry&)> access_log;  // may be empty
  // Asked once when each request's head is read (empty → Capture::None): the traffic tap's
  // one atomic load, so with nobody tapping a request costs nothing more.
  std::function<Capture()> capture;
  std::size_t body_limit = 1024;  // bytes of each body kept at Capture::Bodies
  // SNI host → certificate + key PEM (from a TLS Secret or the local CA); nullopt or an empty
  // hook → the default certificate. Called once per host; the result is cached until
  // IngressProxy::clear_certificate_cache().
  std::function<std::optional<CertificatePem>(std::string_view sni_host)> certificate;
};

struct ProxyOptions {
  std::string address = "127.0.0.1";
  int http_port = 8080;   // 0 → ephemeral; -1 → no HTTP listener
  int https_port = 8443;  // 0 → ephemeral; -1 → no HTTPS listener
  // Port named in https redirects (Location: https://host:PORT/...); 0 → the bound https port.
  // 443 is left out of the URL.
  int redirect_https_port = 0;
  int threads = 0;  // I/O threads; 0 → hardware_concurrency
  // Default certificate (clients without SNI, or hosts the hook does not know); empty → a
  // self-signed certificate for "ticketctl-ingress" is generated at start().
  std::string default_cert_pem, default_key_pem;

  std::chrono::milliseconds header_timeout{60000};       // whole request header → 408
  std::chrono::milliseconds keepalive_timeout{75000};    // idle client connection → closed
  std::chrono::milliseconds client_body_timeout{60000};  // between two reads of a request body
  std::chrono::milliseconds client_send_timeout{60000};  // between two writes to a client
  std::size_t max_header_bytes = 32 * 1024;              // request line + fields → 431
  std::size_t max_request_line = 8 * 1024;               // request line alone → 414
  std::size_t max_response_header_bytes = 64 * 1024;     // upstream response header → 502

  // Upstream keep-alive pool, per I/O thread and endpoint (ip:port).
  std::size_t upstream_idle_per_endpoint = 320;  // ingress-nginx's upstream-keepalive-connections
  std::chrono::milliseconds upstream_idle_timeout{60000};

  // stop(): how long in-flight requests may take to finish before connections are closed.
  std::chrono::milliseconds drain_timeout{5000};
};

class IngressProxy {
 public:
  IngressProxy(ProxyOptions options, ProxyHooks hooks);
  ~IngressProxy();  // stop()s
  IngressProxy(const IngressProxy&) = delete;
  IngressProxy& operator=(const IngressProxy&) = delete;

  // Binds the listeners and starts the I/O threads. Returns the bound {http, https} ports (-1 for
  // a listener that is off). Fails with the bind/TLS error; nothing keeps running on failure.
  Result<std::pair<int, int>> start();

  // Graceful: stops accepting, closes idle keep-alive connections, lets in-flight requests run
  // for up to drain_timeout, then closes everything and joins the threads. Idempotent.
  void stop();

  // Replaces where requests go; requests already routed finish on the value they started with.
  // Thread-safe; before start() too. Until the first publish every request gets 404.
  void publish(std::shared_ptr<const Routing> routing);

  // Forgets the per-host TLS contexts, so the next handshake asks the certificate hook again
  // (call after a TLS Secret changed). Thread-safe.
  void clear_certificate_cache();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// A self-signed certificate (P-256, 1 year, CN and subjectAltName DNS = common_name) for tests
// and for the default certificate. Thread-safe.
Result<CertificatePem> make_self_signed_certificate(const std::string& common_name);

}  // namespace ticketctl::ingress
