#pragma once
// Service addresses, allocated the way the API server does it on create: a ClusterIP from the
// service range (loopback, 127.96.0.0/16 by default) and, for NodePort and LoadBalancer
// Services, nodePorts from 30000-32767. A manifest's own clusterIP or nodePort is honoured when
// it is inside the range and free; both are immutable afterwards, and an update or apply that
// leaves them out keeps them (as a PUT to a real API server does). Released on delete, because
// free addresses are computed from the stored Services. Runs as the store's admission step, so
// the caller already holds the store's lock.

#include <cstdint>
#include <functional>
#include <set>
#include <string>

#include "runtime/core/result.h"
#include "runtime/store/store.h"

namespace ticketctl::net {

struct ServiceRange {
  uint32_t base = 0x7f600000;  // 127.96.0.0
  int prefix = 16;
  uint32_t first_offset = 1;  // where this project starts looking for a free address
  // Addresses taken outside this project's store (other projects' relays); may be empty.
  std::function<std::set<uint32_t>()> taken_on_host;
};

inline constexpr int kNodePortMin = 30000, kNodePortMax = 32767;

Result<bool> admit_service(store::Store& store, const ServiceRange& range, Json& service,
                           const Json* old);

std::string ipv4_string(uint32_t ip);
// 0 when `text` is not a dotted quad.
uint32_t parse_ipv4(const std::string& text);

}  // namespace ticketctl::net
