#pragma once
// The service proxy's internals shared by its files (service_proxy.h is the interface):
// service_proxy.cpp runs the epoll loops (accept, connect, relay events) and the public members;
// service_proxy_listener.cpp holds addresses, backend lists and a listener's affinity and
// counters; service_proxy_relay.cpp moves one direction's bytes (splice through a pipe).
// Not for use outside net/.

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/net/http_observer.h"
#include "runtime/net/service_proxy.h"

namespace ticketctl::net {
namespace proxy_detail {

using Clock = std::chrono::steady_clock;

// Bytes asked of one splice(); the kernel clamps it to what the pipe holds.
constexpr size_t kSpliceChunk = size_t{1} << 20;
// A bulk flow's pipe grows to this once it has moved kGrowPipeAfter bytes: fewer wake-ups per
// megabyte. Short connections keep the default 64 KiB and spare the user's pipe budget
// (fs.pipe-user-pages-soft); a refused resize is harmless.
constexpr int kPipeSize = 256 << 10;
constexpr uint64_t kGrowPipeAfter = 1 << 20;
// Fallback when the process is out of descriptors for pipes: copy through user space.
constexpr size_t kBufferSize = 64 << 10;
// An observed connection always copies through user space (the parser reads every byte); a
// larger buffer halves the system calls per megabyte of a bulk body.
constexpr size_t kObservedBufferSize = 128 << 10;
// An observed flow splices what the observer need not see only from this many bytes on: short
// bodies are not worth the pipe's system calls.
constexpr uint64_t kSpliceSkipAtLeast = 64 << 10;
// ...through a pipe the size of a bulk flow's (kPipeSize). Measured with tests/bench/tap_up.sh
// (tapped vs untapped Service, 1 GiB): 64 KiB 0.54x, 128 KiB 0.58x, 256 KiB 0.52-0.65x,
// 512 KiB 0.49x, 1 MiB 0.44-0.56x; 256 KiB led 1 MiB in each of four paired runs, and a tapped
// connection takes a quarter of the user's pipe budget (fs.pipe-user-pages-soft).
constexpr int kObservedPipeSize = 256 << 10;

struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&ss); }
};

std::optional<SockAddr> parse_address(const std::string& ip, uint16_t port);
// The textual form inet_ntop gives, so "127.000.0.1"-style spellings compare equal.
std::string canonical_ip(const SockAddr& a);
// The client's IP (not port) as raw bytes: the ClientIP affinity key.
std::string client_ip_key(const sockaddr_storage& ss);
void set_nodelay(int fd);
// Closing with a zero linger sends RST: the peer's next read or write fails with ECONNRESET at
// once instead of seeing an orderly (and misleading) end of stream.
void reset_and_close(int fd);
void close_fd(int& fd);
void raise_fd_limit();

struct Target {
  Backend backend;
  SockAddr addr;
  std::string id;  // "ip:port", what ClientIP affinity remembers
};
using Targets = std::vector<Target>;

std::shared_ptr<const Targets> make_targets(const Backends& backends);
Error socket_error(ErrorCode code, const std::string& key, const std::string& what, int err);

// One direction of a relayed connection: bytes read from `src` wait in a pipe (or, without
// descriptors to spare, a buffer) until `dst` takes them.
struct Flow {
  int pipe_r = -1, pipe_w = -1;
  std::unique_ptr<char[]> buffer;
  size_t capacity = 0;
  HttpObserver* observer = nullptr;  // an observed connection's: shown every byte read
  bool upstream = false;             // client → backend
  size_t in_pipe = 0;  // observed: bytes spliced past the observer (buffer empty meanwhile)
  size_t off = 0, queued = 0;  // pipe: bytes in it; buffer: [off, queued) is pending
  bool eof = false;            // src sent FIN
  bool shut = false;           // ...and we passed it on with shutdown(dst, SHUT_WR)
  uint64_t total = 0;          // bytes delivered to dst
  bool grown = false;

  void open();  // a pipe, or the buffer when out of descriptors
  void open_observed(HttpObserver* o, bool client_to_backend);  // always the buffer
  void close();
  // Moves what it can from src to dst until both would block. False on a socket error.
  bool relay(int src, int dst, std::atomic<uint64_t>& counter);
  // The same for an observed connection: through the buffer, where the observer sees the bytes,
  // or, for what it says it need not see (a large body's middle), spliced through a pipe.
  bool relay_observed(int src, int dst, std::atomic<uint64_t>& counter);
};

}  // namespace proxy_detail

// One listening socket and what its connections need: backends, affinity and counters. Shared by
// the proxy's map, the loop that polls it and every connection it accepted.
struct ServiceProxy::Listener {
  uint64_t id = 0;
  std::string key;
  std::string ip;  // canonical
  uint16_t port = 0;
  int fd = -1;  // after registration, touched only by `loop`'s thread
  Loop* loop = nullptr;

  std::mutex mu;  // guards targets, affinity, sticky, observer and tag
  std::shared_ptr<const proxy_detail::Targets> targets;
  Affinity affinity = Affinity::None;
  struct Sticky {
    std::string target_id;
    proxy_detail::Clock::time_point last_use;
  };
  std::unordered_map<std::string, Sticky> sticky;  // client IP bytes → backend it last used
  uint64_t sticky_writes = 0;

  std::atomic<uint64_t> next{0};    // round-robin position
  std::atomic<uint64_t> spread{0};  // which loop gets the next accepted connection
  std::atomic<uint64_t> accepted{0}, active{0}, refused{0}, to_backend{0}, to_client{0};
  std::atomic<uint64_t> observed{0};
  // Set: new connections are observed and reported there (guarded by mu, like targets).
  std::shared_ptr<const ExchangeObserver> observer;
  std::string tag;

  ~Listener() { proxy_detail::close_fd(fd); }

  struct Pick {
    std::shared_ptr<const proxy_detail::Targets> targets;
    size_t start = 0;
    std::shared_ptr<const ExchangeObserver> observer;  // the mode at accept time
    std::string tag;
  };

  // Where a new connection from `client` starts trying (it then walks the list once).
  Pick pick(const std::string& client);
  // The backend that accepted: differs from the pick when the picked one failed.
  void remember(const std::string& client, const proxy_detail::Target& target);
};

}  // namespace ticketctl::net
