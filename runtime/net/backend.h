#pragma once
// A Service's ready endpoint as the data plane sees it: where to connect and which pod it is.
// Plain value type shared by the L4 service proxy, the ingress and the endpoints controller.

#include <cstdint>
#include <string>
#include <vector>

namespace ticketctl::net {

struct Backend {
  std::string ip;     // a pod IP, e.g. "127.80.0.7"
  uint16_t port = 0;  // the pod's target port
  std::string pod;    // "default/posts-depl-7d4f8-abcde", for logs and error bodies
  bool operator==(const Backend&) const = default;
};

using Backends = std::vector<Backend>;

}  // namespace ticketctl::net
