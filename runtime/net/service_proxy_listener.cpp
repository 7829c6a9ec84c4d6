// Addresses, backend lists and a listener's choice of backend (round-robin or ClientIP
// affinity) for the service proxy (service_proxy_internal.h).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>

#include "runtime/net/service_proxy_internal.h"

namespace ticketctl::net {
namespace proxy_detail {

std::optional<SockAddr> parse_address(const std::string& ip, uint16_t port) {
  SockAddr a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.ss);
  if (::inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.len = sizeof(sockaddr_in);
    return a;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
  if (::inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.len = sizeof(sockaddr_in6);
    return a;
  }
  return std::nullopt;
}

// The textual form inet_ntop gives, so "127.000.0.1"-style spellings compare equal.
std::string canonical_ip(const SockAddr& a) {
  char text[INET6_ADDRSTRLEN] = {};
  if (a.ss.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&a.ss)->sin_addr, text, sizeof text);
  } else {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&a.ss)->sin6_addr, text,
                sizeof text);
  }
  return text;
}

// The client's IP (not port) as raw bytes: the ClientIP affinity key.
std::string client_ip_key(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    const auto& addr = reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr;
    return std::string(reinterpret_cast<const char*>(&addr), sizeof addr);
  }
  const auto& addr = reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr;
  return std::string(reinterpret_cast<const char*>(&addr), sizeof addr);
}

void set_nodelay(int fd) {
  // The endpoints already chose Nagle or not; a relay that batches again only adds latency.
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Closing with a zero linger sends RST: the peer's next read or write fails with ECONNRESET at
// once instead of seeing an orderly (and misleading) end of stream.
void reset_and_close(int fd) {
  const linger hard{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  ::close(fd);
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

void raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

std::shared_ptr<const Targets> make_targets(const Backends& backends) {
  auto targets = std::make_shared<Targets>();
  targets->reserve(backends.size());
  for (const Backend& b : backends) {
    auto addr = parse_address(b.ip, b.port);
    if (!addr) continue;
    targets->push_back(Target{b, *addr, canonical_ip(*addr) + ":" + std::to_string(b.port)});
  }
  return targets;
}

Error socket_error(ErrorCode code, const std::string& key, const std::string& what, int err) {
  return Error{code, "listener " + key + ": " + what + ": " + std::strerror(err)};
}

}  // namespace proxy_detail

using namespace proxy_detail;

// Where a new connection from `client` starts trying (it then walks the list once).
ServiceProxy::Listener::Pick ServiceProxy::Listener::pick(const std::string& client) {
  std::lock_guard lock(mu);
  Pick p{targets, 0, observer, {}};
  if (p.observer) p.tag = tag;
  if (!p.targets || p.targets->empty()) return p;
  const size_t n = p.targets->size();
  if (affinity == Affinity::ClientIP) {
    auto it = sticky.find(client);
    const auto now = Clock::now();
    if (it != sticky.end() && now - it->second.last_use <= kAffinityTimeout) {
      for (size_t i = 0; i < n; ++i) {
        if ((*p.targets)[i].id == it->second.target_id) {
          it->second.last_use = now;
          p.start = i;
          return p;
        }
      }
    }
  }
  p.start = next.fetch_add(1, std::memory_order_relaxed) % n;
  // Claimed now, not when connected, so a burst of connections from one client sticks too.
  if (affinity == Affinity::ClientIP)
    sticky[client] = Sticky{(*p.targets)[p.start].id, Clock::now()};
  return p;
}

// The backend that accepted: differs from the pick when the picked one failed.
void ServiceProxy::Listener::remember(const std::string& client, const Target& target) {
  std::lock_guard lock(mu);
  if (affinity != Affinity::ClientIP) return;
  const auto now = Clock::now();
  sticky[client] = Sticky{target.id, now};
  if (++sticky_writes % 4096 == 0) {
    std::erase_if(sticky,
                  [&](const auto& e) { return now - e.second.last_use > kAffinityTimeout; });
  }
}

}  // namespace ticketctl::net
