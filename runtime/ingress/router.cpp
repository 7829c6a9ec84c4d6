// Matching a request against a built RouteTable: host lookup (exact, then one-label wildcard,
// then the catch-all), nginx's location choice, rewrite-target (allocations: see router.h).
// The table is built in router_build.cpp.

#include "runtime/ingress/router.h"

#include <algorithm>
#include <array>
#include <regex>

#include "runtime/ingress/router_internal.h"

namespace ticketctl::ingress {

using namespace router_detail;

namespace {

constexpr size_t kMaxHostLength = 255;  // DNS limit; longer Host headers match no host rule

// The Host header as a lookup key, lowercased into `buf` without allocating: port stripped
// ("posts.com:8080", "[::1]:8443"), trailing dot dropped as nginx does.
std::string_view normalize_host(std::string_view host, std::array<char, kMaxHostLength>& buf) {
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close != std::string_view::npos) host = host.substr(0, close + 1);
  } else {
    const size_t colon = host.rfind(':');
    if (colon != std::string_view::npos && host.find(':') == colon) {
      const std::string_view port = host.substr(colon + 1);
      if (std::all_of(port.begin(), port.end(), is_digit)) host = host.substr(0, colon);
    }
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.size() > buf.size()) return {};
  for (size_t i = 0; i < host.size(); ++i) buf[i] = lower(host[i]);
  return {buf.data(), host.size()};
}

// "*.example.com" covers "a.example.com" but neither "example.com" nor "a.b.example.com"
// (Kubernetes: the wildcard matches exactly one DNS label).
std::string_view wildcard_suffix(std::string_view lower_host) {
  const size_t dot = lower_host.find('.');
  if (dot == 0 || dot == std::string_view::npos) return {};
  return lower_host.substr(dot + 1);
}

// Expands nginx rewrite captures ($0..$9) from `m` into `out`; other text is copied.
void expand_rewrite(std::string_view replacement, const std::cmatch& m, std::string& out) {
  for (size_t i = 0; i < replacement.size(); ++i) {
    const char c = replacement[i];
    if (c == '$' && i + 1 < replacement.size() && is_digit(replacement[i + 1])) {
      const size_t group = static_cast<size_t>(replacement[i + 1] - '0');
      if (group < m.size() && m[group].matched) out.append(m[group].first, m[group].second);
      ++i;
    } else {
      out.push_back(c);
    }
  }
}

bool starts_with_ignoring_case(std::string_view s, std::string_view lower_prefix) {
  if (s.size() < lower_prefix.size()) return false;
  for (size_t i = 0; i < lower_prefix.size(); ++i)
    if (lower(s[i]) != lower_prefix[i]) return false;
  return true;
}

}  // namespace

RouteTable::RouteTable() = default;
RouteTable::~RouteTable() = default;
RouteTable::RouteTable(RouteTable&&) noexcept = default;
RouteTable& RouteTable::operator=(RouteTable&&) noexcept = default;

const RouteTable::Server* RouteTable::find_server(std::string_view lower_host) const {
  auto lookup = [](const std::vector<Server>& v, std::string_view key) -> const Server* {
    auto it = std::lower_bound(v.begin(), v.end(), key,
                               [](const Server& s, std::string_view k) { return s.key < k; });
    return it != v.end() && it->key == key ? &*it : nullptr;
  };
  if (!lower_host.empty()) {
    if (const Server* s = lookup(servers_, lower_host)) return s;
    if (std::string_view suffix = wildcard_suffix(lower_host); !suffix.empty())
      if (const Server* s = lookup(wildcard_servers_, suffix)) return s;
  }
  return catch_all_.empty() ? nullptr : &catch_all_.front();
}

const TlsHost* RouteTable::find_tls(std::string_view host) const {
  std::array<char, kMaxHostLength> buf;
  const std::string_view h = normalize_host(host, buf);
  if (h.empty()) return nullptr;
  for (const TlsHost& t : tls_hosts_)
    if (t.host == h) return &t;
  const std::string_view suffix = wildcard_suffix(h);
  if (suffix.empty()) return nullptr;
  for (const TlsHost& t : tls_hosts_)
    if (t.host.size() == suffix.size() + 2 && t.host.starts_with("*.") && t.host.ends_with(suffix))
      return &t;
  return nullptr;
}

std::optional<RouteMatch> RouteTable::route(std::string_view host, std::string_view target) const {
  std::string scratch;
  const std::optional<RouteRef> r = route_ref(host, target, scratch);
  if (!r) return std::nullopt;
  RouteMatch m;
  m.ns = r->ns;
  m.service = r->service;
  m.port = r->port;
  m.rule = r->rule;
  m.target = r->target;
  m.options = r->options;
  m.host_has_tls = r->host_has_tls;
  return m;
}

std::optional<RouteRef> RouteTable::route_ref(std::string_view host, std::string_view target,
                                              std::string& scratch) const {
  std::array<char, kMaxHostLength> buf;
  const std::string_view lower_host = normalize_host(host, buf);
  const Server* server = find_server(lower_host);
  if (!server) return std::nullopt;

  const size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  if (path.size() > kMaxPathLength) return std::nullopt;
  const std::string_view query =
      question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);

  const Location* hit = nullptr;
  if (server->regex_mode) {
    for (const Location& l : server->locations) {
      if (starts_with_ignoring_case(path, l.regex_prefix) &&
          std::regex_search(path.begin(), path.end(), l.regex)) {
        hit = &l;
        break;
      }
    }
  } else {
    const auto& locs = server->locations;
    auto it = std::lower_bound(server->exact.begin(), server->exact.end(), path,
                               [&](uint32_t i, std::string_view p) { return locs[i].key < p; });
    if (it != server->exact.end() && locs[*it].key == path) hit = &locs[*it];
    for (size_t i = 0; !hit && i < server->prefixes.size(); ++i)
      if (locs[server->prefixes[i]].prefix_matches(path)) hit = &locs[server->prefixes[i]];
  }
  if (!hit && server->fallback) hit = &*server->fallback;
  if (!hit) return std::nullopt;

  RouteRef m;
  m.ns = hit->ns;
  m.service = hit->service;
  m.port = hit->port;
  m.rule = hit->rule;
  m.options = hit->options;
  m.host_has_tls = find_tls(lower_host) != nullptr;
  std::cmatch captures;
  if (hit->rewrite_regex &&
      std::regex_search(path.begin(), path.end(), captures, *hit->rewrite_regex)) {
    // nginx `rewrite ... break`: the whole URI becomes the replacement; the original arguments
    // follow unless the replacement brings its own (then after "&") or ends in "?".
    std::string_view replacement = hit->rewrite_target;
    const bool drop_args = replacement.ends_with('?');
    if (drop_args) replacement.remove_suffix(1);
    scratch.clear();
    scratch.reserve(replacement.size() + path.size() + query.size() + 1);
    expand_rewrite(replacement, captures, scratch);
    if (!drop_args && !query.empty()) {
      scratch += replacement.find('?') == std::string_view::npos ? '?' : '&';
      scratch += query;
    }
    m.target = scratch;
  } else {
    m.target = target;
  }
  return m;
}

size_t RouteTable::host_count() const {
  return servers_.size() + wildcard_servers_.size() + catch_all_.size();
}

}  // namespace ticketctl::ingress
