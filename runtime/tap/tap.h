#pragma once
// The traffic tap's stream: what the ingress and the observing relay saw, handed to whoever
// taps (the API's tap endpoint, which `ticketctl tap`, the dashboard and scripts read).
//
// Owns: the subscriptions and their bounded queues. Publishers (the ingress's I/O threads, the
// relay's loops) call `active()` first, one relaxed atomic load, and build an Exchange only
// when somebody taps; with no subscription nothing else is done and nothing is routed through
// the relay (the data plane asks `targets()`).
//
// Threads: every member may be called from any thread. `on_targets_changed` callbacks run on
// the thread that subscribed or unsubscribed, outside the hub's lock.
//
// Bounds: each subscription holds at most `queue_limit` exchanges; a slow reader loses the
// oldest, counted in `dropped()`, and never slows a publisher. Bodies are cut to kBodyLimit.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/core/result.h"

namespace ticketctl::tap {

inline constexpr size_t kBodyLimit = 1024;  // the first KiB of each body, with --body

// What a tap follows. `ns` is the namespace of Service, Deployment and Pod targets. All: every
// exchange the ingress and the relay see (`ticketctl tap` without a target, the dashboard).
struct Target {
  enum class Kind { All, Ingress, Service, Deployment, Pod };
  Kind kind = Kind::Ingress;
  std::string ns;
  std::string name;
  bool operator==(const Target&) const = default;
};

// "all" (or empty), "ingress", "svc/NAME", "service/NAME", "services/NAME", "deploy/NAME", "deployment/NAME",
// "deployments/NAME", "pod/NAME", "po/NAME", "pods/NAME"; names are DNS labels (subdomains for
// pods). Invalid with a message naming the text otherwise.
Result<Target> parse_target(std::string_view text, std::string_view ns);
std::string to_string(const Target& t);  // "all", "ingress", "svc/default/query-srv", ...

// One end of an exchange. Empty strings where it does not apply or is not known.
struct Peer {
  std::string ip;        // "127.96.3.7", or the client's address for the ingress
  uint16_t port = 0;
  std::string pod;       // "default/posts-depl-6d5f8-x2k9q" when the address is a pod's
  std::string workload;  // "default/posts-depl" when that pod belongs to a Deployment
  std::string service;   // destination only: "default/posts-clusterip-srv" when reached through it
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// One HTTP/1.1 exchange (a request and its response), or one connection that was not HTTP
// (or whose bytes after a 101 Switching Protocols are only counted).
struct Exchange {
  enum class Via { Ingress, Relay };
  uint64_t seq = 0;  // set by publish(): increasing, so a reader can tell a gap
  std::chrono::system_clock::time_point time;  // request head complete / connection accepted
  Via via = Via::Relay;
  bool http = true;
  Peer source;
  Peer destination;
  std::string method;   // http only
  std::string host;     // Host header
  std::string path;     // request target as sent
  int status = 0;       // 0: the connection ended before a response
  double latency_ms = 0;  // http: request head → response complete; else the connection's life
  uint64_t request_bytes = 0;   // http: this exchange's request (head + body); else client → server
  uint64_t response_bytes = 0;  // http: this exchange's response; else server → client
  Headers request_headers;      // raw; readers mask Authorization and Cookie (mask_secrets)
  Headers response_headers;     // raw; readers mask Set-Cookie
  std::string request_body;     // the first kBodyLimit bytes, only when a subscriber wants bodies
  std::string response_body;
};

// Whether `e` is what `t` follows: everything; the ingress's requests; what reaches a Service; what reaches
// or leaves a Deployment's or a pod's pods.
bool matches(const Target& t, const Exchange& e);

// Authorization, Proxy-Authorization, Cookie and Set-Cookie values replaced by "***".
void mask_secrets(Exchange& e);

class Hub {
 public:
  class Subscription;

  explicit Hub(size_t queue_limit = 4096);
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Publishers' check before building an Exchange: is anybody tapping (anything)?
  bool active() const noexcept { return subscribers_.load(std::memory_order_relaxed) != 0; }
  // Whether some subscription wants bodies (publishers capture them only then).
  bool wants_bodies() const noexcept {
    return body_subscribers_.load(std::memory_order_relaxed) != 0;
  }

  // Hands `e` to every subscription whose target matches it. Never blocks on a reader.
  void publish(Exchange e);

  // A new subscription; it ends when the last shared_ptr to it goes.
  std::shared_ptr<Subscription> subscribe(Target target, bool bodies);

  // The targets of the live subscriptions, each once: what the data plane routes through the
  // observing relay.
  std::vector<Target> targets() const;

  // How many subscriptions are open, and how many exchanges were published to them since the
  // hub was made (a publish with nobody tapping is not counted: it did nothing). What the API
  // reports at /apis/ticketctl.dev/v1/taps, so tests and scripts can tell "subscribed" and
  // "nothing was published" apart without sleeping.
  size_t subscriptions() const;
  uint64_t published() const;

  // `f` runs whenever the set of targets changes (outside the hub's lock). One callback; a
  // second call replaces the first.
  void on_targets_changed(std::function<void()> f);

  // Ends every wait() at once and makes later ones return at once (the control plane stops).
  void close();

  class Subscription {
   public:
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

    // Waits up to `timeout` for exchanges and returns all that are queued (possibly none).
    std::vector<Exchange> wait(std::chrono::milliseconds timeout);
    uint64_t dropped() const;  // lost because this reader fell behind
    bool closed() const;       // the hub was closed
    const Target& target() const { return target_; }
    bool bodies() const { return bodies_; }

   private:
    friend class Hub;
    Subscription(Hub* hub, Target target, bool bodies)
        : hub_(hub), target_(std::move(target)), bodies_(bodies) {}
    Hub* hub_;
    const Target target_;
    const bool bodies_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Exchange> queue_;
    uint64_t dropped_ = 0;
    bool closed_ = false;
  };

 private:
  void remove(Subscription* s);
  void notify_targets_changed();

  const size_t queue_limit_;
  std::atomic<int> subscribers_{0};
  std::atomic<int> body_subscribers_{0};
  mutable std::mutex mu_;  // guards subs_, closed_, next_seq_, on_targets_changed_
  std::vector<Subscription*> subs_;
  bool closed_ = false;
  uint64_t next_seq_ = 1;
  std::shared_ptr<std::function<void()>> on_targets_changed_;
};

}  // namespace ticketctl::tap
