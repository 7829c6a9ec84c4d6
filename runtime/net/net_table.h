#pragma once
// The table the control plane writes for libticketctl_net.so (runtime/net/preload): which Service
// names resolve to which IPs, and which connects are redirected. One definition of the text
// format, shared by the writer (control plane) and the tests; the C reader is
// runtime/net/preload/table.c. Header-only; pure functions, callable from any thread.
//
//   # ticketctl net table v1
//   svc <name> <namespace> <ip>[,<ip>...]     a Service; "-" for a headless one without ready pods
//   redirect <ip> <port> <to-ip> <to-port>    connect() to ip:port goes to to-ip:to-port instead
//   backends <ip> <port> <none|clientip> <ip>:<port>[,<ip>:<port>...] | -
//                                             a ClusterIP:port and its ready endpoints, which the
//                                             library connects to directly (connect-time
//                                             balancing); "-": no ready endpoint, refuse
//   tapped <pod-ip>                           a pod a traffic tap follows: the library in that
//                                             pod balances nothing itself, so its ClusterIP
//                                             connects reach the (observing) relay
//
// Lines may come in any order; readers ignore line kinds they do not know (a library older than
// `backends` keeps sending ClusterIP connects to the relay; one older than `tapped` keeps
// balancing in a tapped pod, so the tap sees only what reaches tapped Services). A `backends`
// line takes precedence over a `redirect` of the same ip:port, unless the pod is `tapped`. The file must be
// replaced atomically (write a temporary file in the same directory, then rename it): running
// pods notice the new file on their next lookup.

#include <cstdint>
#include <string>
#include <vector>

namespace ticketctl::net {

struct ServiceEntry {
  std::string name;              // DNS-1035 label, e.g. "auth-srv"
  std::string ns;                // namespace, e.g. "default"
  std::vector<std::string> ips;  // IPv4 ClusterIP, or the ready pod IPs of a headless Service
  bool operator==(const ServiceEntry&) const = default;
};

struct Redirect {
  std::string ip;  // a ClusterIP
  uint16_t port = 0;
  std::string to_ip;  // where the Service proxy really listens
  uint16_t to_port = 0;
  bool operator==(const Redirect&) const = default;
};

// One TCP port of a ClusterIP Service and its ready endpoints (pod IP, target port).
struct BalancedPort {
  struct Endpoint {
    std::string ip;
    uint16_t port = 0;
    bool operator==(const Endpoint&) const = default;
  };
  std::string ip;  // the ClusterIP
  uint16_t port = 0;
  bool client_ip_affinity = false;  // sessionAffinity: ClientIP
  std::vector<Endpoint> endpoints;
  bool operator==(const BalancedPort&) const = default;
};

inline constexpr const char* kNetTableHeader = "# ticketctl net table v1\n";

// Fields must not contain blanks or newlines (names are DNS labels, IPs are dotted quads); an
// entry that breaks this is left out rather than corrupting the lines after it.
inline std::string format_net_table(const std::vector<ServiceEntry>& services,
                                    const std::vector<Redirect>& redirects,
                                    const std::vector<BalancedPort>& balanced = {},
                                    const std::vector<std::string>& tapped = {}) {
  const auto is_field = [](const std::string& s) {
    return !s.empty() && s.find_first_of(" \t\r\n#,") == std::string::npos;
  };
  std::string out = kNetTableHeader;
  for (const ServiceEntry& svc : services) {
    bool ok = is_field(svc.name) && is_field(svc.ns);
    std::string ips;
    for (const std::string& ip : svc.ips) {
      ok = ok && is_field(ip);
      ips += (ips.empty() ? "" : ",") + ip;
    }
    if (!ok) continue;
    out += "svc " + svc.name + " " + svc.ns + " " + (ips.empty() ? "-" : ips) + "\n";
  }
  for (const Redirect& r : redirects) {
    if (!is_field(r.ip) || !is_field(r.to_ip) || r.port == 0 || r.to_port == 0) continue;
    out += "redirect " + r.ip + " " + std::to_string(r.port) + " " + r.to_ip + " " +
           std::to_string(r.to_port) + "\n";
  }
  for (const BalancedPort& b : balanced) {
    bool ok = is_field(b.ip) && b.port != 0;
    std::string eps;
    for (const BalancedPort::Endpoint& e : b.endpoints) {
      // An endpoint that cannot be written is left out; the others still serve.
      if (!is_field(e.ip) || e.ip.find(':') != std::string::npos || e.port == 0) continue;
      eps += (eps.empty() ? "" : ",") + e.ip + ":" + std::to_string(e.port);
    }
    if (!ok) continue;
    out += "backends " + b.ip + " " + std::to_string(b.port) + " " +
           (b.client_ip_affinity ? "clientip" : "none") + " " + (eps.empty() ? "-" : eps) + "\n";
  }
  for (const std::string& ip : tapped)
    if (is_field(ip)) out += "tapped " + ip + "\n";
  return out;
}

}  // namespace ticketctl::net
