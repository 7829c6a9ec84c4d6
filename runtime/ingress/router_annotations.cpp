// An Ingress's annotations and backends as ingress-nginx reads them (router_internal.h): the
// value syntaxes (Go booleans, nginx sizes and times) and the warnings for what is not served.

#include <charconv>
#include <chrono>
#include <cstdint>
#include <limits>

#include "runtime/ingress/router_internal.h"

namespace ticketctl::ingress::router_detail {

namespace {

constexpr std::string_view kAnnotationPrefix = "nginx.ingress.kubernetes.io/";

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

}  // namespace

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

}  // namespace ticketctl::ingress::router_detail
