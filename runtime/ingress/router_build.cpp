// RouteTable::build and describe (router.h): Ingresses merged into per-host location tables as
// ingress-nginx's controller merges them into nginx "servers"; the path rules (regex flags,
// literal prefixes, rewrite captures) compiled once here. Matching is router.cpp.
//
// Behaviour follows ingress-nginx's controller: Ingresses are merged into one nginx "server" per
// host, each path becomes a `location`, and nginx picks the location. The comments name the
// ingress-nginx rule each step reproduces, because users debug their manifests against it.

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <regex>
#include <utility>

#include "runtime/ingress/router_internal.h"

namespace ticketctl::ingress {

using namespace router_detail;

namespace {

// Location regexes only answer "does it match": libstdc++'s breadth-first executor does that
// in polynomial time and without recursing once per input character, which its default
// backtracking executor does (a long enough path would overflow the stack). Captures for
// rewrite-target need backtracking's leftmost-first groups, on paths of bounded length.
constexpr std::regex::flag_type kLocationRegexFlags = std::regex::ECMAScript | std::regex::icase |
                                                      std::regex::optimize
#ifdef __GLIBCXX__
                                                      | std::regex_constants::__polynomial
#endif
    ;

std::string_view path_type_name(PathType t) {
  switch (t) {
    case PathType::kExact:
      return "Exact";
    case PathType::kPrefix:
      return "Prefix";
    case PathType::kImplementationSpecific:
      return "ImplementationSpecific";
  }
  return "";
}

// Highest $N referenced by a rewrite target; -1 when none.
int highest_capture(std::string_view replacement) {
  int highest = -1;
  for (size_t i = 0; i + 1 < replacement.size(); ++i)
    if (replacement[i] == '$' && is_digit(replacement[i + 1]))
      highest = std::max(highest, replacement[i + 1] - '0');
  return highest;
}

// The literal text every match of `^pattern` must start with (lowercase), so route() can skip
// most regexes with a string compare: "/posts/?(.*)/comments" -> "/posts". Empty when the
// pattern has an alternation (its top level would not be anchored) or starts with syntax.
std::string literal_prefix(std::string_view pattern) {
  if (pattern.find('|') != std::string_view::npos) return {};
  std::string out;
  for (const char c : pattern) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos ||
        static_cast<unsigned char>(c) >= 0x80)
      break;
    out.push_back(lower(c));
  }
  // A quantifier after the run makes its last character optional.
  const size_t next = out.size();
  if (next < pattern.size() &&
      std::string_view("?*{").find(pattern[next]) != std::string_view::npos && !out.empty())
    out.pop_back();
  return out;
}

// An exact candidate's rank: a user's Exact path beats the exact location ingress-nginx adds
// for a Prefix path.
int exact_rank(const RouteTable::Location& l) {
  return l.match == RouteTable::Location::Match::kExact ? 0 : 1;
}

std::string rule_text(const ParsedIngress& ing, std::string_view host, std::string_view path) {
  return fmt::format("{} {} {}", ing.key(), host.empty() ? "*" : host, path);
}

}  // namespace

RouteTable RouteTable::build(const std::vector<Json>& ingresses,
                             std::vector<std::string>* warnings) {
  WarningSink warn(warnings);
  RouteTable table;

  // 1. Read every served Ingress.
  std::vector<ParsedIngress> parsed;
  parsed.reserve(ingresses.size());
  for (const Json& body : ingresses) {
    const Json& meta = json_at(body, "metadata");
    ParsedIngress ing;
    ing.body = &body;
    ing.name = json_at(meta, "name").is_string() ? json_at(meta, "name").get<std::string>() : "";
    ing.ns =
        json_at(meta, "namespace").is_string() ? json_at(meta, "namespace").get<std::string>() : "";
    if (ing.ns.empty()) ing.ns = "default";
    if (const Json& ts = json_at(meta, "creationTimestamp"); ts.is_string())
      ing.created = ts.get<std::string>();
    if (auto cls = foreign_class(body)) {
      warn.add(ing, "ingress class {} is not served; ignored", *cls);
      continue;
    }
    parse_annotations(ing, warn);
    if (const Json& def = json_at(json_at(body, "spec"), "defaultBackend"); def.is_object())
      ing.default_backend = parse_backend(def, "spec.defaultBackend", ing, warn);
    parsed.push_back(std::move(ing));
  }

  // 2. ingress-nginx's order: oldest first; equal timestamps by namespace/name, descending.
  std::stable_sort(parsed.begin(), parsed.end(),
                   [](const ParsedIngress& a, const ParsedIngress& b) {
                     if (a.created != b.created) return a.created < b.created;
                     return a.key() > b.key();
                   });

  // 3. TLS hosts.
  for (const ParsedIngress& ing : parsed) {
    for (const Json& tls : json_at(json_at(*ing.body, "spec"), "tls")) {
      const Json& secret = json_at(tls, "secretName");
      for (const Json& host : json_at(tls, "hosts")) {
        if (!host.is_string() || host.get<std::string>().empty()) continue;
        table.tls_hosts_.push_back({to_lower(host.get<std::string>()), ing.ns,
                                    secret.is_string() ? secret.get<std::string>() : ""});
      }
    }
  }

  // 4. Servers. The catch-all exists from the start (ingress-nginx's "_" server); a host's
  // server is created by the first Ingress naming it, and that Ingress's spec.defaultBackend
  // answers the host's unmatched paths. Only an Ingress without rules can supply the catch-all's
  // default backend, and only the first such Ingress does.
  std::vector<Server> servers(1);  // [0] is the catch-all
  auto find = [&](std::string_view host) -> Server* {
    for (Server& s : servers)
      if (s.name == host) return &s;
    return nullptr;
  };
  auto make_fallback = [](const ParsedIngress& ing, std::string_view host) {
    Location l;
    l.ns = ing.ns;
    l.service = ing.default_backend->service;
    l.port = ing.default_backend->port;
    l.rule = fmt::format("{} {} (default backend)", ing.key(), host.empty() ? "*" : host);
    l.options = ing.options;
    return l;
  };
  const ParsedIngress* catch_all_owner = nullptr;
  for (ParsedIngress& ing : parsed) {
    const Json& rules = json_at(json_at(*ing.body, "spec"), "rules");
    if (ing.default_backend && (!rules.is_array() || rules.empty())) {
      if (catch_all_owner) {
        warn.add(ing, "spec.defaultBackend ignored: {} already provides the default backend",
                 catch_all_owner->key());
      } else {
        catch_all_owner = &ing;
        ing.default_backend_used = true;
        servers[0].fallback = make_fallback(ing, "");
      }
      continue;
    }
    if (!rules.is_array()) continue;
    for (const Json& rule : rules) {
      const std::string host = json_at(rule, "host").is_string()
                                   ? to_lower(json_at(rule, "host").get<std::string>())
                                   : "";
      if (host.empty() || find(host)) continue;
      Server& s = servers.emplace_back();
      s.name = host;
      if (ing.default_backend) {
        s.fallback = make_fallback(ing, host);
        ing.default_backend_used = true;
      }
    }
  }
  for (const ParsedIngress& ing : parsed) {
    if (ing.default_backend && !ing.default_backend_used && &ing != catch_all_owner &&
        json_at(json_at(*ing.body, "spec"), "rules").is_array() &&
        !json_at(json_at(*ing.body, "spec"), "rules").empty()) {
      warn.add(ing,
               "spec.defaultBackend is not used: like ingress-nginx, it serves only hosts that "
               "this Ingress defines first, and never requests without a matching host");
    }
  }

  // 5. Locations, in Ingress order; a path already defined for the host with the same pathType
  // keeps its first definition.
  size_t seq = 0;
  for (const ParsedIngress& ing : parsed) {
    const Json& rules = json_at(json_at(*ing.body, "spec"), "rules");
    if (!rules.is_array()) continue;
    for (const Json& rule : rules) {
      const std::string host = json_at(rule, "host").is_string()
                                   ? to_lower(json_at(rule, "host").get<std::string>())
                                   : "";
      if (host.find('*') != std::string::npos &&
          (!host.starts_with("*.") || host.find('*', 1) != std::string::npos)) {
        warn.add(
            ing,
            "host {}: a wildcard must be the whole first label (\"*.example.com\"); rule skipped",
            host);
        continue;
      }
      Server& server = *find(host);
      for (const Json& p : json_at(json_at(rule, "http"), "paths")) {
        std::string path =
            json_at(p, "path").is_string() ? json_at(p, "path").get<std::string>() : "";
        if (path.empty()) path = "/";
        const std::string type_name =
            json_at(p, "pathType").is_string() ? json_at(p, "pathType").get<std::string>() : "";
        PathType type = PathType::kImplementationSpecific;
        if (type_name == "Exact") {
          type = PathType::kExact;
        } else if (type_name == "Prefix") {
          type = PathType::kPrefix;
        } else if (!type_name.empty() && type_name != "ImplementationSpecific") {
          warn.add(ing, "path {}: unknown pathType {}; skipped", path, type_name);
          continue;
        }
        if (path.front() != '/') {
          warn.add(ing, "path {}: must begin with '/'; skipped", path);
          continue;
        }
        auto backend =
            parse_backend(json_at(p, "backend"), fmt::format("path {}", path), ing, warn);
        if (!backend) continue;
        const auto dup =
            std::find_if(server.locations.begin(), server.locations.end(),
                         [&](const Location& l) { return l.path == path && l.type == type; });
        if (dup != server.locations.end()) {
          warn.add(ing, "path {} ({}) of host {} is already defined by {}; ignored", path,
                   path_type_name(type), host.empty() ? "*" : host, dup->ingress->key());
          continue;
        }
        Location& l = server.locations.emplace_back();
        l.type = type;
        l.path = path;
        l.seq = seq++;
        l.ingress = &ing;
        // ingress-nginx: a rewrite-target equal to the path is no rewrite at all.
        if (ing.rewrite_target && *ing.rewrite_target != path)
          l.rewrite_target = *ing.rewrite_target;
        l.regex_requested = ing.use_regex || !l.rewrite_target.empty();
        l.ns = ing.ns;
        l.service = backend->service;
        l.port = backend->port;
        l.rule = rule_text(ing, host, path);
        l.options = ing.options;
      }
    }
  }

  // 6. Per host: one regex path turns every path of the host into a regex (ingress-nginx's
  // enforceRegexModifier); otherwise Exact / Prefix / string-prefix tables.
  for (Server& server : servers) {
    server.key = server.name.starts_with("*.") ? server.name.substr(2) : server.name;
    server.regex_mode = std::any_of(server.locations.begin(), server.locations.end(),
                                    [](const Location& l) { return l.regex_requested; });
    if (server.regex_mode) {
      const std::string cause =
          std::find_if(server.locations.begin(), server.locations.end(), [](const Location& l) {
            return l.regex_requested;
          })->ingress->key();
      std::vector<Location> compiled;
      for (Location& l : server.locations) {
        l.match = Location::Match::kRegex;
        try {
          l.regex_prefix = literal_prefix(l.path);
          l.regex = std::regex("^" + l.path, kLocationRegexFlags);
          if (!l.rewrite_target.empty()) {
            l.rewrite_regex.emplace(l.path, std::regex::ECMAScript | std::regex::icase);
            const int highest = highest_capture(l.rewrite_target);
            if (highest > static_cast<int>(l.rewrite_regex->mark_count()))
              warn.add(*l.ingress,
                       "rewrite-target {} uses ${} but path {} has only {} capture group(s); it "
                       "expands to nothing",
                       l.rewrite_target, highest, l.path, l.rewrite_regex->mark_count());
          }
        } catch (const std::regex_error& e) {
          if (l.regex_requested) {
            warn.add(*l.ingress, "path {}: invalid regular expression ({}); skipped", l.path,
                     e.what());
          } else {
            warn.add(
                *l.ingress,
                "path {}: invalid regular expression ({}); host {} treats all paths as regular "
                "expressions because {} uses use-regex or rewrite-target; skipped",
                l.path, e.what(), server.name.empty() ? "*" : server.name, cause);
          }
          continue;
        }
        compiled.push_back(std::move(l));
      }
      server.locations = std::move(compiled);
      // nginx tries regex locations in file order; ingress-nginx writes them longest path first,
      // equal lengths in descending string order.
      std::stable_sort(server.locations.begin(), server.locations.end(),
                       [](const Location& a, const Location& b) { return a.path > b.path; });
      std::stable_sort(
          server.locations.begin(), server.locations.end(),
          [](const Location& a, const Location& b) { return a.path.size() > b.path.size(); });
      continue;
    }
    for (uint32_t i = 0; i < server.locations.size(); ++i) {
      Location& l = server.locations[i];
      switch (l.type) {
        case PathType::kExact:
          l.match = Location::Match::kExact;
          l.key = l.path;
          server.exact.push_back(i);
          break;
        case PathType::kPrefix: {
          // Element-wise: "/foo" and "/foo/" both match "/foo", "/foo/" and "/foo/bar".
          l.match = Location::Match::kPrefix;
          l.key = l.path;
          while (!l.key.empty() && l.key.back() == '/') l.key.pop_back();
          if (!l.key.empty()) server.exact.push_back(i);
          server.prefixes.push_back(i);
          break;
        }
        case PathType::kImplementationSpecific:
          l.match = Location::Match::kString;
          l.key = l.path;
          server.prefixes.push_back(i);
          break;
      }
    }
    const auto& locs = server.locations;
    std::sort(server.exact.begin(), server.exact.end(), [&](uint32_t a, uint32_t b) {
      return std::tuple(std::string_view(locs[a].key), exact_rank(locs[a]), locs[a].seq) <
             std::tuple(std::string_view(locs[b].key), exact_rank(locs[b]), locs[b].seq);
    });
    std::sort(server.prefixes.begin(), server.prefixes.end(), [&](uint32_t a, uint32_t b) {
      return std::pair(locs[a].prefix_length(), locs[b].seq) >
             std::pair(locs[b].prefix_length(), locs[a].seq);
    });
  }
  for (Server& server : servers)
    for (Location& l : server.locations) l.ingress = nullptr;  // `parsed` dies with build()

  // 7. Lookup structures.
  Server catch_all = std::move(servers[0]);
  if (!catch_all.locations.empty() || catch_all.fallback)
    table.catch_all_.push_back(std::move(catch_all));
  for (size_t i = 1; i < servers.size(); ++i) {
    auto& dest = servers[i].name.starts_with("*.") ? table.wildcard_servers_ : table.servers_;
    dest.push_back(std::move(servers[i]));
  }
  for (auto* v : {&table.servers_, &table.wildcard_servers_})
    std::sort(v->begin(), v->end(), [](const Server& a, const Server& b) { return a.key < b.key; });
  return table;
}

std::string RouteTable::describe() const {
  std::string out;
  auto describe_location = [&](const Location& l, std::string_view how) {
    out += fmt::format("  {:<32} -> {}/{}:{}", how, l.ns, l.service, l.port);
    if (!l.rewrite_target.empty()) out += fmt::format("  rewrite {}", l.rewrite_target);
    out += fmt::format("  [{}]\n", l.rule.substr(0, l.rule.find(' ')));
  };
  auto describe_server = [&](const Server& s) {
    out += fmt::format("{}{}\n", s.name.empty() ? "* (requests matching no host)" : s.name,
                       s.regex_mode ? " (regex)" : "");
    if (s.regex_mode) {
      for (const Location& l : s.locations) describe_location(l, fmt::format("~* ^{}", l.path));
    } else {
      for (uint32_t i : s.exact) {
        const Location& l = s.locations[i];
        describe_location(l, fmt::format("= {}", l.key));
      }
      for (uint32_t i : s.prefixes) {
        const Location& l = s.locations[i];
        describe_location(l,
                          l.match == Location::Match::kPrefix ? fmt::format("{}/", l.key) : l.key);
      }
    }
    if (s.fallback) describe_location(*s.fallback, "(default backend)");
  };
  for (const Server& s : servers_) describe_server(s);
  for (const Server& s : wildcard_servers_) describe_server(s);
  for (const Server& s : catch_all_) describe_server(s);
  for (const TlsHost& t : tls_hosts_)
    out += fmt::format("tls {} secret {}/{}\n", t.host, t.ns,
                       t.secret.empty() ? "(default)" : t.secret);
  return out;
}

}  // namespace ticketctl::ingress
