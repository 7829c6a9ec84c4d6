#pragma once
// The ingress router: Ingress objects in, one routing decision per request out. Pure — no
// sockets, no clock, no store — so every ingress-nginx rule it imitates is unit-tested.
//
// Owns: the merged per-host location tables (ingress-nginx's "servers"), compiled path regexes,
// parsed annotations and the TLS host list. A built RouteTable is immutable: route(),
// find_tls() and the other const members may be called from any number of threads at once.
// Rebuild a new table when Ingresses change and swap it in (e.g. behind a shared_ptr).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/ingress/route.h"
#include "runtime/manifest/json.h"

namespace ticketctl::ingress {

// One host under some Ingress's spec.tls[].hosts, for the proxy's SNI certificate choice.
struct TlsHost {
  std::string host;    // lowercase; may be a wildcard such as "*.example.com"
  std::string ns;      // namespace of the Ingress, where the Secret lives
  std::string secret;  // spec.tls[].secretName; empty means "use the default certificate"
};

class RouteTable {
 public:
  RouteTable();
  ~RouteTable();
  RouteTable(RouteTable&&) noexcept;
  RouteTable& operator=(RouteTable&&) noexcept;
  RouteTable(const RouteTable&) = delete;
  RouteTable& operator=(const RouteTable&) = delete;

  // Longest path route() matches; longer ones get std::nullopt. nginx rejects request lines
  // over 8 KiB with 414 by default: the proxy should do the same before calling route().
  static constexpr size_t kMaxPathLength = 8192;

  // Builds from every Ingress object (networking.k8s.io/v1 JSON). Ingresses are ordered as
  // ingress-nginx orders them (creationTimestamp, then namespace/name descending) before merging,
  // so "the first one wins" rules do not depend on the order of `ingresses`. Problems (ignored
  // ingress class, bad regex, invalid annotation value, duplicate path, ...) are appended to
  // `warnings` (when not null) as "namespace/name: message".
  static RouteTable build(const std::vector<Json>& ingresses, std::vector<std::string>* warnings);

  // host: the Host header value (any case, optional ":port", optional trailing dot, "[v6]:port"
  // accepted). target: the origin-form request-target, path plus optional "?query".
  // Returns std::nullopt when no rule and no default backend applies (the proxy answers 404),
  // or when the path is longer than kMaxPathLength.
  // Allocates only the strings of the returned RouteMatch, except that paths of hosts in regex
  // mode are matched with std::regex, which allocates internally.
  std::optional<RouteMatch> route(std::string_view host, std::string_view target) const;
  // The same decision without copies: views into this table and `target`; a rewritten target
  // is built in `scratch` (whose capacity the caller keeps across requests).
  std::optional<RouteRef> route_ref(std::string_view host, std::string_view target,
                                    std::string& scratch) const;

  // Every TLS host of every served Ingress, in Ingress order; the first entry for a host wins
  // in find_tls().
  const std::vector<TlsHost>& tls_hosts() const { return tls_hosts_; }
  // The TLS entry for an SNI name or Host (case-insensitive, exact before "*.domain" wildcard),
  // or nullptr when the name is not listed under any `tls:`.
  const TlsHost* find_tls(std::string_view host) const;

  // Number of hosts with rules (the catch-all for rules without host counts as one).
  size_t host_count() const;
  // A multi-line dump of the merged table in evaluation order, for `ticketctl` debugging output:
  //   posts.com (regex)
  //     ~* ^/posts/?(.*)/comments  -> default/comments-srv:4001  [default/ingress-srv]
  std::string describe() const;

  struct Location;  // one matchable path rule (router.cpp)
  struct Server;    // the merged rules of one host (router.cpp)

 private:
  const Server* find_server(std::string_view lower_host) const;

  std::vector<Server> servers_;           // exact host names, sorted by name
  std::vector<Server> wildcard_servers_;  // "*.example.com", sorted by the part after "*."
  std::vector<Server> catch_all_;         // zero or one: rules without host + catch-all default
  std::vector<TlsHost> tls_hosts_;
};

}  // namespace ticketctl::ingress
