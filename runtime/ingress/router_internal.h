#pragma once
// The router's internals shared by its three files (router.h is the interface): router_build.cpp
// turns Ingresses into the table, router_annotations.cpp reads an Ingress's annotations and
// backends, router.cpp matches requests against the built table. Not for use outside ingress/.

#include <fmt/format.h>

#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/ingress/router.h"

namespace ticketctl::ingress {
namespace router_detail {

enum class PathType { kExact, kPrefix, kImplementationSpecific };

inline char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

inline bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

struct Backend {
  std::string service;
  std::string port;
};

// Everything build() needs from one Ingress, read once.
struct ParsedIngress {
  std::string ns;
  std::string name;
  std::string created;  // metadata.creationTimestamp (RFC 3339, compared as text)
  const Json* body = nullptr;
  RouteOptions options;
  bool use_regex = false;
  std::optional<std::string> rewrite_target;
  std::optional<Backend> default_backend;
  bool default_backend_used = false;

  std::string key() const { return ns + "/" + name; }
};

class WarningSink {
 public:
  explicit WarningSink(std::vector<std::string>* out) : out_(out) {}
  template <typename... Args>
  void add(const ParsedIngress& ing, fmt::format_string<Args...> f, Args&&... args) {
    if (out_) out_->push_back(ing.key() + ": " + fmt::format(f, std::forward<Args>(args)...));
  }

 private:
  std::vector<std::string>* out_;
};

// Annotations and backends (router_annotations.cpp).
std::optional<Backend> parse_backend(const Json& backend, std::string_view where,
                                     const ParsedIngress& ing, WarningSink& warn);
// ingress-nginx serves Ingresses of class "nginx" and, by default, those without any class.
// The legacy annotation wins over spec.ingressClassName, as in ingress-nginx.
std::optional<std::string> foreign_class(const Json& ingress);
void parse_annotations(ParsedIngress& ing, WarningSink& warn);

}  // namespace router_detail

struct RouteTable::Location {
  enum class Match {
    kExact,   // nginx `location = /p`
    kPrefix,  // Kubernetes Prefix: `location /p/` plus `location = /p` (key is /p)
    kString,  // ImplementationSpecific: nginx `location /p`, a plain string prefix
    kRegex,   // `location ~* "^p"`
  };
  Match match = Match::kString;
  router_detail::PathType type = router_detail::PathType::kImplementationSpecific;
  std::string path;          // as written ("/" when the Ingress left it empty)
  std::string key;           // non-regex: the string compared with the request path
  std::regex regex;          // kRegex: "^" + path, case-insensitive
  std::string regex_prefix;  // kRegex: literal_prefix(path), checked before the regex
  std::optional<std::regex> rewrite_regex;  // path unanchored, as ingress-nginx's `rewrite`
  std::string rewrite_target;
  size_t seq = 0;                                         // definition order across all Ingresses
  const router_detail::ParsedIngress* ingress = nullptr;  // only during build()
  bool regex_requested = false;  // use-regex or rewrite-target on its Ingress

  std::string ns;
  std::string service;
  std::string port;
  std::string rule;
  RouteOptions options;

  // Length nginx's longest-prefix choice compares; kPrefix matches as "/p/".
  size_t prefix_length() const { return match == Match::kPrefix ? key.size() + 1 : key.size(); }
  bool prefix_matches(std::string_view request_path) const {
    if (match == Match::kString) return request_path.starts_with(key);
    return request_path.size() > key.size() && request_path[key.size()] == '/' &&
           request_path.starts_with(key);
  }
};

struct RouteTable::Server {
  std::string name;  // lowercase host, "*.example.com", or "" for rules without host
  std::string key;   // lookup key: the name, or the part after "*." for wildcards
  bool regex_mode = false;
  std::vector<Location> locations;   // regex mode: evaluation order; else definition order
  std::vector<uint32_t> exact;       // non-regex: exact candidates sorted by (key, rank, seq)
  std::vector<uint32_t> prefixes;    // non-regex: sorted by prefix length desc, then seq
  std::optional<Location> fallback;  // a default backend for paths no location matches
};

}  // namespace ticketctl::ingress
