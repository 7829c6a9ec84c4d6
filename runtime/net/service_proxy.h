#pragma once
// The L4 data plane of Services, NodePorts and port-forward: TCP listeners that relay each
// accepted connection to one backend (a ready pod IP:port), chosen per connection.
//
// Owns: the listening sockets, every relayed connection and its descriptors, and a few event-loop
// threads (epoll, edge-triggered; splice() through a pipe per direction, so payload bytes never
// enter user space). No thread per connection; nothing on the data path throws.
//
// Threads: every public member may be called from any thread, concurrently (the controllers call
// them from their own thread). The destructor must not race with other calls; it stops the loops
// and closes every listener and connection (relayed connections are cut, not drained).
//
// Per connection: backends are taken from the listener's current list at accept time (so
// set_backends() applies to the next connection at once), round-robin by a per-listener counter,
// or, with Affinity::ClientIP, the backend this client IP last used while it stays in the list
// (entries expire after Kubernetes' default 10800 s). Connecting has a 2 s timeout; a backend that
// refuses or times out is skipped for the next one, each tried at most once. Refusal: when a
// listener has no backends, or none accepts, the client connection is accepted and reset at once
// (SO_LINGER {1, 0}), so the client's first read/write fails with ECONNRESET (its connect()
// itself succeeds: the kernel completes the handshake before we see the connection). Closing the
// listener instead would let the port be taken and lose an ephemeral port's identity.
// Half-close is relayed: a FIN from one side becomes shutdown(SHUT_WR) on the other while the
// opposite direction keeps flowing. An error or reset on either side resets both.
//
// Observing (the traffic tap): a listener made with Observe{true} copies its new
// connections through user-space buffers instead of splice() and parses HTTP/1.1 in both
// directions (http_observer.h), reporting each exchange, or each non-HTTP connection when it
// ends, to the proxy's ExchangeObserver on the loop's thread. Every byte is still forwarded
// unchanged and in order. A listener switches mode for new connections only.
//
// Limitations: TCP over IPv4 or IPv6 only (no UDP, no SCTP); the backend sees the proxy's address
// (127.0.0.1 for loopback backends), not the client's.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime/core/result.h"
#include "runtime/net/backend.h"

namespace ticketctl::net {

enum class Affinity { None, ClientIP };

struct ListenerSpec {
  std::string ip;     // e.g. "127.96.0.12", "127.0.0.1" or "::1"
  uint16_t port = 0;  // 0 = ephemeral (listen() returns the port it got)
};

// A listener's observing mode (the traffic tap); applies to the connections accepted after.
struct Observe {
  bool enabled = false;  // parse and report HTTP/1.1 to the proxy's ExchangeObserver
  std::string tag;       // reported with each exchange: what the listener serves ("ns/name")
};

// One HTTP/1.1 exchange an observing listener relayed (a request and its response), or one
// connection that was not HTTP, or the bytes after a 101 Switching Protocols (http = false).
struct ObservedExchange {
  std::string listener;  // the listener's key
  std::string tag;       // its Observe::tag
  std::string client_ip, backend_ip;
  uint16_t client_port = 0, backend_port = 0;
  std::chrono::system_clock::time_point time;  // request head complete / connection accepted
  bool http = true;
  std::string method, host, path;  // http only (path: the request target as sent)
  int status = 0;                  // 0: no response before the connection ended
  double latency_ms = 0;  // http: request head complete → response complete; else the connection's life
  uint64_t request_bytes = 0;   // http: head + body as sent; else client → backend
  uint64_t response_bytes = 0;  // http: head + body (1xx interim included); else backend → client
  std::vector<std::pair<std::string, std::string>> request_headers, response_headers;
  std::string request_body, response_body;  // the first body_limit bytes, when wanted
};

// Where observing listeners report. Called on the proxy's loop threads: must not block.
struct ExchangeObserver {
  std::function<void(ObservedExchange&&)> report;
  std::function<bool()> want_bodies;  // asked as each message begins; null = never
  size_t body_limit = 1024;
};

// Counters of one listener since it was created, for tests and `describe`.
struct ListenerStats {
  uint64_t accepted = 0;          // client connections accepted
  uint64_t active = 0;            // connections currently connecting or relaying
  uint64_t refused = 0;           // reset because no backend was listed or none accepted
  uint64_t bytes_to_backend = 0;  // payload relayed client → backend
  uint64_t bytes_to_client = 0;   // payload relayed backend → client
  uint64_t observed = 0;          // connections accepted in observing mode
};

class ServiceProxy {
 public:
  static constexpr std::chrono::milliseconds kConnectTimeout{2000};
  static constexpr std::chrono::seconds kAffinityTimeout{10800};  // sessionAffinityConfig default

  // Starts `threads` event loops (at least one). Raises the RLIMIT_NOFILE soft limit to the hard
  // limit: every relayed connection holds six descriptors (two sockets, two pipes).
  explicit ServiceProxy(int threads = 1);
  ~ServiceProxy();
  ServiceProxy(const ServiceProxy&) = delete;
  ServiceProxy& operator=(const ServiceProxy&) = delete;

  // Creates or updates the listener `key` ("svc/default/posts-srv/4000", "nodeport/31515",
  // "pf/12") on at.ip:at.port and returns the bound port. Calling again with the same key and
  // address (port 0 matches whatever port the listener got) only swaps backends, affinity and
  // observing mode: no rebind, existing connections untouched. A different address closes the old listener (its
  // connections may finish) and binds the new one. Errors: Invalid (bad IP), AlreadyExists
  // (address in use), Internal (other socket errors); on error the old listener is kept.
  Result<uint16_t> listen(const std::string& key, const ListenerSpec& at, Backends backends,
                          Affinity affinity = Affinity::None, const Observe& observe = {});

  // Where observing listeners report; listeners keep the observer they were given by listen(),
  // so set it before the first listen() with `observe`.
  void set_observer(ExchangeObserver observer);

  // Live update: the next accepted connection uses `backends`. Unknown keys are ignored.
  // Backends whose IP does not parse are skipped.
  void set_backends(const std::string& key, Backends backends);

  // Stops listening (when this returns, new connects to the address are refused by the kernel);
  // connections already relayed may finish. Unknown keys are ignored.
  void close(const std::string& key);

  std::optional<ListenerStats> stats(const std::string& key) const;
  std::vector<std::string> keys() const;

  struct Listener;  // implementation types, in service_proxy.cpp
  class Loop;

 private:
  std::vector<std::unique_ptr<Loop>> loops_;
  mutable std::mutex mu_;  // guards listeners_ and next_loop_
  std::unordered_map<std::string, std::shared_ptr<Listener>> listeners_;
  size_t next_loop_ = 0;
  std::shared_ptr<const ExchangeObserver> observer_;  // guarded by mu_
};

}  // namespace ticketctl::net
