#pragma once
// Service addresses, allocated the way the API server does it on create: a ClusterIP from the
// service range (loopback, 127.96.0.0/16 by default) and, for NodePort and LoadBalancer
// Services, nodePorts from 30000-32767. A manifest's own clusterIP or nodePort is honoured when
// it is inside the range and free; the ClusterIP is immutable afterwards, and an update or apply
// that leaves them out keeps them (as a PUT to a real API server does). Released on delete,
// because free addresses are computed from the stored Services.
//
// NodePorts are host ports: with a registry (node_ports.h) a port another control plane of
// this user holds is never handed out, a manifest that asks for one is refused, and a kept port
// that another project took while this one was down is replaced by a free one. New ports also
// skip ports some other program listens on. Runs as the store's admission step, so the caller
// already holds the store's lock.

#include <cstdint>
#include <functional>
#include <set>
#include <string>

#include "runtime/core/result.h"
#include "runtime/net/node_ports.h"
#include "runtime/store/store.h"

namespace ticketctl::net {

struct ServiceRange {
  uint32_t base = 0x7f600000;  // 127.96.0.0
  int prefix = 16;
  uint32_t first_offset = 1;  // where this project starts looking for a free address
  // Addresses taken outside this project's store (other projects' relays); may be empty.
  std::function<std::set<uint32_t>()> taken_on_host;
  // The nodePort registry shared with other control planes; none in unit tests.
  NodePortRegistry* node_ports = nullptr;
  // TCP ports in use on the host (listening_tcp_ports); may be empty.
  std::function<std::set<int>()> ports_listening;
};

inline constexpr int kNodePortMin = 30000, kNodePortMax = 32767;

Result<bool> admit_service(store::Store& store, const ServiceRange& range, Json& service,
                           const Json* old);

std::string ipv4_string(uint32_t ip);
// 0 when `text` is not a dotted quad.
uint32_t parse_ipv4(const std::string& text);

}  // namespace ticketctl::net
