#include "runtime/ingress/router.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <limits>
#include <regex>
#include <utility>

// Behaviour follows ingress-nginx's controller: Ingresses are merged into one nginx "server" per
// host, each path becomes a `location`, and nginx picks the location. The comments name the
// ingress-nginx rule each step reproduces, because users debug their manifests against it.

namespace ticketctl::ingress {

namespace {

constexpr std::string_view kAnnotationPrefix = "nginx.ingress.kubernetes.io/";
constexpr size_t kMaxHostLength = 255;  // DNS limit; longer Host headers match no host rule

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

enum class PathType { kExact, kPrefix, kImplementationSpecific };

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

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Annotation values are strings in Kubernetes; tolerate scalars a YAML author left unquoted.
std::optional<std::string> scalar_text(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number()) return v.dump();
  return std::nullopt;
}

// Go's strconv.ParseBool, which ingress-nginx uses for boolean annotations.
std::optional<bool> parse_go_bool(std::string_view s) {
  for (std::string_view t : {"1", "t", "T", "TRUE", "true", "True"})
    if (s == t) return true;
  for (std::string_view f : {"0", "f", "F", "FALSE", "false", "False"})
    if (s == f) return false;
  return std::nullopt;
}

std::optional<int64_t> parse_digits(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size() || n < 0) return std::nullopt;
  return n;
}

// nginx size syntax (client_max_body_size): bytes, or a number with k/K, m/M, g/G.
std::optional<int64_t> parse_nginx_size(std::string_view s) {
  int64_t scale = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 'k':
      case 'K':
        scale = int64_t{1} << 10;
        break;
      case 'm':
      case 'M':
        scale = int64_t{1} << 20;
        break;
      case 'g':
      case 'G':
        scale = int64_t{1} << 30;
        break;
      default:
        break;
    }
    if (scale != 1) s.remove_suffix(1);
  }
  auto n = parse_digits(s);
  if (!n || *n > std::numeric_limits<int64_t>::max() / scale) return std::nullopt;
  return *n * scale;
}

// Proxy timeouts: whole seconds as ingress-nginx documents them ("30"), or with an nginx time
// unit ("30s", "500ms", "2m", "1h"). Zero is rejected: it would fail every request.
std::optional<std::chrono::milliseconds> parse_timeout(std::string_view s) {
  int64_t scale = 1000;
  if (s.ends_with("ms")) {
    scale = 1;
    s.remove_suffix(2);
  } else if (s.ends_with('s')) {
    s.remove_suffix(1);
  } else if (s.ends_with('m')) {
    scale = 60 * 1000;
    s.remove_suffix(1);
  } else if (s.ends_with('h')) {
    scale = 3600 * 1000;
    s.remove_suffix(1);
  }
  auto n = parse_digits(s);
  if (!n || *n == 0 || *n > std::numeric_limits<int64_t>::max() / scale) return std::nullopt;
  return std::chrono::milliseconds(*n * scale);
}

std::string format_size(int64_t bytes) {
  if (bytes == 0) return "0 (unlimited)";
  if (bytes % (int64_t{1} << 30) == 0) return fmt::format("{}g", bytes >> 30);
  if (bytes % (int64_t{1} << 20) == 0) return fmt::format("{}m", bytes >> 20);
  if (bytes % (int64_t{1} << 10) == 0) return fmt::format("{}k", bytes >> 10);
  return fmt::format("{}", bytes);
}

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

std::optional<Backend> parse_backend(const Json& backend, std::string_view where,
                                     const ParsedIngress& ing, WarningSink& warn) {
  if (json_at(backend, "resource").is_object()) {
    warn.add(ing, "{}: resource backends are not supported; skipped", where);
    return std::nullopt;
  }
  const Json& service = json_at(backend, "service");
  const Json& name = json_at(service, "name");
  if (!name.is_string() || name.get<std::string>().empty()) {
    warn.add(ing, "{}: backend has no service name; skipped", where);
    return std::nullopt;
  }
  const Json& port = json_at(service, "port");
  const Json& number = json_at(port, "number");
  const Json& port_name = json_at(port, "name");
  Backend out{name.get<std::string>(), ""};
  if (number.is_number_integer()) {
    out.port = std::to_string(number.get<int64_t>());
  } else if (port_name.is_string() && !port_name.get<std::string>().empty()) {
    out.port = port_name.get<std::string>();
  } else {
    warn.add(ing, "{}: backend service {} has no port number or name; skipped", where, out.service);
    return std::nullopt;
  }
  return out;
}

// ingress-nginx serves Ingresses of class "nginx" and, by default, those without any class.
// The legacy annotation wins over spec.ingressClassName, as in ingress-nginx.
std::optional<std::string> foreign_class(const Json& ingress) {
  const Json& legacy =
      json_at(json_at(json_at(ingress, "metadata"), "annotations"), "kubernetes.io/ingress.class");
  std::string cls;
  if (legacy.is_string()) {
    cls = legacy.get<std::string>();
  } else if (const Json& spec_cls = json_at(json_at(ingress, "spec"), "ingressClassName");
             spec_cls.is_string()) {
    cls = spec_cls.get<std::string>();
  }
  if (cls.empty() || cls == "nginx") return std::nullopt;
  return cls;
}

void parse_annotations(ParsedIngress& ing, WarningSink& warn) {
  const Json& annotations = json_at(json_at(*ing.body, "metadata"), "annotations");
  if (!annotations.is_object()) return;
  for (const auto& [key, raw] : annotations.items()) {
    if (!std::string_view(key).starts_with(kAnnotationPrefix)) continue;
    const std::string_view name = std::string_view(key).substr(kAnnotationPrefix.size());
    const std::optional<std::string> value = scalar_text(raw);
    if (!value) {
      warn.add(ing, "annotation {} must be a string; ignored", key);
      continue;
    }
    auto set_bool = [&](bool* field) {
      if (auto b = parse_go_bool(*value)) {
        *field = *b;
      } else {
        warn.add(ing, "annotation {}: invalid value \"{}\" (want \"true\" or \"false\"); using {}",
                 key, *value, *field);
      }
    };
    auto set_timeout = [&](std::chrono::milliseconds* field) {
      if (auto t = parse_timeout(*value)) {
        *field = *t;
      } else {
        warn.add(ing,
                 "annotation {}: invalid value \"{}\" (want seconds such as \"30\" or \"30s\"); "
                 "using {}s",
                 key, *value, field->count() / 1000);
      }
    };
    if (name == "use-regex") {
      set_bool(&ing.use_regex);
    } else if (name == "rewrite-target") {
      ing.rewrite_target = *value;
    } else if (name == "ssl-redirect") {
      set_bool(&ing.options.ssl_redirect);
    } else if (name == "force-ssl-redirect") {
      set_bool(&ing.options.force_ssl_redirect);
    } else if (name == "enable-cors") {
      set_bool(&ing.options.enable_cors);
    } else if (name == "proxy-body-size") {
      if (auto size = parse_nginx_size(*value)) {
        ing.options.max_body_bytes = *size;
      } else {
        warn.add(ing,
                 "annotation {}: invalid value \"{}\" (want a size such as 8m, 512k, 1g, or 0 for "
                 "unlimited); using {}",
                 key, *value, format_size(ing.options.max_body_bytes));
      }
    } else if (name == "proxy-connect-timeout") {
      set_timeout(&ing.options.connect_timeout);
    } else if (name == "proxy-read-timeout") {
      set_timeout(&ing.options.read_timeout);
    } else if (name == "proxy-send-timeout") {
      set_timeout(&ing.options.send_timeout);
    } else {
      warn.add(ing, "annotation {} is not supported by ticketctl; ignored", key);
    }
  }
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

bool starts_with_ignoring_case(std::string_view s, std::string_view lower_prefix) {
  if (s.size() < lower_prefix.size()) return false;
  for (size_t i = 0; i < lower_prefix.size(); ++i)
    if (lower(s[i]) != lower_prefix[i]) return false;
  return true;
}

}  // namespace

struct RouteTable::Location {
  enum class Match {
    kExact,   // nginx `location = /p`
    kPrefix,  // Kubernetes Prefix: `location /p/` plus `location = /p` (key is /p)
    kString,  // ImplementationSpecific: nginx `location /p`, a plain string prefix
    kRegex,   // `location ~* "^p"`
  };
  Match match = Match::kString;
  PathType type = PathType::kImplementationSpecific;
  std::string path;          // as written ("/" when the Ingress left it empty)
  std::string key;           // non-regex: the string compared with the request path
  std::regex regex;          // kRegex: "^" + path, case-insensitive
  std::string regex_prefix;  // kRegex: literal_prefix(path), checked before the regex
  std::optional<std::regex> rewrite_regex;  // path unanchored, as ingress-nginx's `rewrite`
  std::string rewrite_target;
  size_t seq = 0;                          // definition order across all Ingresses
  const ParsedIngress* ingress = nullptr;  // only during build()
  bool regex_requested = false;            // use-regex or rewrite-target on its Ingress

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

RouteTable::RouteTable() = default;
RouteTable::~RouteTable() = default;
RouteTable::RouteTable(RouteTable&&) noexcept = default;
RouteTable& RouteTable::operator=(RouteTable&&) noexcept = default;

namespace {

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
