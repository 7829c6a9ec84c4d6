#include "runtime/supervisor/env.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <map>

#include "runtime/core/strings.h"

namespace ticketctl::supervisor {
namespace {

// Insert-or-replace that keeps first-definition order, as the kubelet's env list does.
class EnvBuilder {
 public:
  void set(const std::string& name, std::string value) {
    auto [it, inserted] = index_.try_emplace(name, list_.size());
    if (inserted)
      list_.emplace_back(name, std::move(value));
    else
      list_[it->second].second = std::move(value);
  }
  const EnvList& list() const { return list_; }
  EnvList take() { return std::move(list_); }

 private:
  EnvList list_;
  std::map<std::string, size_t> index_;
};

bool valid_env_name(std::string_view s) {
  if (s.empty()) return false;
  if (std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
      return false;
  return true;
}

// "500m" -> 0.5, "1Gi" -> 1073741824, "2" -> 2. Returns NaN when unreadable.
double parse_quantity(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.' ||
                          s[i] == '+' || s[i] == '-'))
    ++i;
  double number = 0;
  try {
    number = std::stod(std::string(s.substr(0, i)));
  } catch (...) {
    return std::nan("");
  }
  static const std::map<std::string_view, double> suffixes = {
      {"", 1},         {"m", 1e-3},     {"k", 1e3},        {"M", 1e6},
      {"G", 1e9},      {"T", 1e12},     {"P", 1e15},       {"E", 1e18},
      {"Ki", 1024.0},  {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
      {"Pi", 1125899906842624.0}, {"Ei", 1152921504606846976.0}};
  const std::string_view suffix = s.substr(i);
  if (suffix.size() > 1 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    try {
      return number * std::pow(10.0, std::stod(std::string(suffix.substr(1))));
    } catch (...) {
      return std::nan("");
    }
  }
  auto it = suffixes.find(suffix);
  return it == suffixes.end() ? std::nan("") : number * it->second;
}

std::string text_of(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

// Secret values are stored base64-encoded under data (stringData folded in on write).
std::optional<std::string> object_value(const std::string& resource, const Json& object,
                                        const std::string& key) {
  if (resource == "secrets") {
    const Json& data = json_at(object, "data");
    if (data.contains(key)) return base64_decode(text_of(data[key])).value_or("");
    const Json& string_data = json_at(object, "stringData");
    if (string_data.contains(key)) return text_of(string_data[key]);
    return std::nullopt;
  }
  for (const char* field : {"data", "binaryData"}) {
    const Json& data = json_at(object, field);
    if (data.contains(key)) {
      const std::string raw = text_of(data[key]);
      return std::string_view(field) == "data" ? raw : base64_decode(raw).value_or("");
    }
  }
  return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> object_entries(const std::string& resource,
                                                                const Json& object) {
  std::vector<std::pair<std::string, std::string>> out;
  const char* fields[] = {"data", resource == "secrets" ? "stringData" : "binaryData"};
  for (const char* field : fields) {
    for (const auto& [k, v] : json_at(object, field).items()) {
      const bool encoded = (resource == "secrets" && std::string_view(field) == "data") ||
                           std::string_view(field) == "binaryData";
      out.emplace_back(k, encoded ? base64_decode(text_of(v)).value_or("") : text_of(v));
    }
  }
  return out;
}

const char* kind_word(const std::string& resource) {
  return resource == "secrets" ? "secret" : "configmap";
}
const char* kind_name(const std::string& resource) {
  return resource == "secrets" ? "Secret" : "ConfigMap";
}

Result<std::string> field_ref(const Json& pod, const std::string& path,
                              const std::string& node_name) {
  const Json& meta = json_at(pod, "metadata");
  const Json& status = json_at(pod, "status");
  if (path == "metadata.name") return text_of(json_at(meta, "name"));
  if (path == "metadata.namespace") return text_of(json_at(meta, "namespace"));
  if (path == "metadata.uid") return text_of(json_at(meta, "uid"));
  if (path == "spec.nodeName") return node_name;
  if (path == "spec.serviceAccountName") {
    const Json& sa = json_at(json_at(pod, "spec"), "serviceAccountName");
    return sa.is_string() ? sa.get<std::string>() : std::string("default");
  }
  if (path == "status.podIP" || path == "status.podIPs") return text_of(json_at(status, "podIP"));
  if (path == "status.hostIP" || path == "status.hostIPs") return std::string("127.0.0.1");
  for (const char* map : {"labels", "annotations"}) {
    const std::string prefix = fmt::format("metadata.{}['", map);
    if (path.rfind(prefix, 0) == 0 && path.size() > prefix.size() + 2 &&
        path.substr(path.size() - 2) == "']") {
      const std::string key = path.substr(prefix.size(), path.size() - prefix.size() - 2);
      return text_of(json_at(json_at(meta, map), key));
    }
  }
  return Error{ErrorCode::Invalid, fmt::format("unsupported fieldRef fieldPath {}", quote(path))};
}

Result<std::string> resource_field_ref(const EnvInputs& in, const Json& ref) {
  const std::string resource = ref.value("resource", "");
  const std::string container_name = ref.value("containerName", "");
  const Json* container = in.container;
  if (!container_name.empty()) {
    for (const Json& c : json_at(json_at(*in.pod, "spec"), "containers"))
      if (c.value("name", "") == container_name) container = &c;
  }
  const Json& resources = json_at(*container, "resources");
  const auto dot = resource.find('.');
  if (dot == std::string::npos)
    return Error{ErrorCode::Invalid, fmt::format("unsupported resource {}", quote(resource))};
  const std::string section = resource.substr(0, dot), what = resource.substr(dot + 1);
  if ((section != "limits" && section != "requests") ||
      (what != "cpu" && what != "memory" && what != "ephemeral-storage"))
    return Error{ErrorCode::Invalid, fmt::format("unsupported resource {}", quote(resource))};
  const Json* value = &json_at(json_at(resources, section), what);
  // A request without a value falls back to the limit, a limit to the node's capacity.
  if (value->is_null() && section == "requests") value = &json_at(json_at(resources, "limits"), what);
  double amount;
  if (!value->is_null()) {
    amount = parse_quantity(text_of(*value));
  } else if (what == "cpu") {
    amount = in.node_cpus;
  } else {
    amount = static_cast<double>(in.node_memory_bytes);
  }
  const Json& divisor_json = json_at(ref, "divisor");
  const double divisor = divisor_json.is_null() ? 1.0 : parse_quantity(text_of(divisor_json));
  if (std::isnan(amount) || std::isnan(divisor) || divisor <= 0)
    return Error{ErrorCode::Invalid, fmt::format("cannot read resource {}", quote(resource))};
  return fmt::format("{}", static_cast<int64_t>(std::ceil(amount / divisor - 1e-9)));
}

}  // namespace

std::string expand_vars(std::string_view text, const EnvList& env) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size()) {
      out += text[i];
      continue;
    }
    if (text[i + 1] == '$') {  // $$ escapes: $$(VAR) stays $(VAR)
      out += '$';
      ++i;
      continue;
    }
    if (text[i + 1] == '(') {
      const size_t close = text.find(')', i + 2);
      if (close != std::string_view::npos) {
        const std::string_view name = text.substr(i + 2, close - i - 2);
        const auto it = std::find_if(env.rbegin(), env.rend(),
                                     [&](const auto& kv) { return kv.first == name; });
        if (it != env.rend()) {
          out += it->second;
          i = close;
          continue;
        }
      }
    }
    out += text[i];
  }
  return out;
}

EnvList service_link_env(const Json& service) {
  EnvList out;
  const Json& spec = json_at(service, "spec");
  const std::string ip = spec.value("clusterIP", "");
  if (ip.empty() || ip == "None") return out;
  std::string prefix = json_at(json_at(service, "metadata"), "name").get<std::string>();
  for (char& c : prefix) c = c == '-' ? '_' : static_cast<char>(std::toupper(c));
  const Json& ports = json_at(spec, "ports");
  if (!ports.is_array() || ports.empty()) return out;
  out.emplace_back(prefix + "_SERVICE_HOST", ip);
  out.emplace_back(prefix + "_SERVICE_PORT", text_of(json_at(ports[0], "port")));
  for (const Json& p : ports) {
    std::string pname = p.value("name", "");
    for (char& c : pname) c = c == '-' ? '_' : static_cast<char>(std::toupper(c));
    if (!pname.empty()) out.emplace_back(fmt::format("{}_SERVICE_PORT_{}", prefix, pname),
                                         text_of(json_at(p, "port")));
  }
  const std::string first_proto = ports[0].value("protocol", "TCP");
  std::string lower = first_proto;
  for (char& c : lower) c = static_cast<char>(std::tolower(c));
  out.emplace_back(prefix + "_PORT", fmt::format("{}://{}:{}", lower, ip,
                                                 text_of(json_at(ports[0], "port"))));
  for (const Json& p : ports) {
    const std::string port = text_of(json_at(p, "port"));
    const std::string proto = p.value("protocol", "TCP");
    std::string lp = proto;
    for (char& c : lp) c = static_cast<char>(std::tolower(c));
    const std::string base = fmt::format("{}_PORT_{}_{}", prefix, port, proto);
    out.emplace_back(base, fmt::format("{}://{}:{}", lp, ip, port));
    out.emplace_back(base + "_PROTO", lp);
    out.emplace_back(base + "_PORT", port);
    out.emplace_back(base + "_ADDR", ip);
  }
  return out;
}

Result<EnvList> resolve_env(const EnvInputs& in) {
  EnvBuilder env;
  for (const auto& [k, v] : in.host_env) env.set(k, v);
  for (const auto& [k, v] : in.image_env) env.set(k, v);
  for (const auto& [k, v] : in.service_env) env.set(k, v);
  const std::string ns = json_at(json_at(*in.pod, "metadata"), "namespace").get<std::string>();
  const Json& c = *in.container;

  auto fetch = [&](const std::string& resource, const std::string& name,
                   bool optional) -> Result<std::optional<Json>> {
    std::optional<Json> object = in.lookup ? in.lookup(resource, ns, name) : std::nullopt;
    if (!object && !optional)
      return Error{ErrorCode::NotFound,
                   fmt::format("{} {} not found", kind_word(resource), quote(name))};
    return object;
  };

  for (const Json& from : json_at(c, "envFrom")) {
    const std::string prefix = from.value("prefix", "");
    for (const char* ref : {"configMapRef", "secretRef"}) {
      const Json& r = json_at(from, ref);
      if (r.is_null()) continue;
      const std::string resource = std::string_view(ref) == "secretRef" ? "secrets" : "configmaps";
      Result<std::optional<Json>> object =
          fetch(resource, r.value("name", ""), r.value("optional", false));
      if (!object.ok()) return object.error();
      if (!object.value()) continue;
      for (auto& [k, v] : object_entries(resource, *object.value()))
        if (valid_env_name(prefix + k)) env.set(prefix + k, std::move(v));
    }
  }

  for (const Json& e : json_at(c, "env")) {
    const std::string name = e.value("name", "");
    const Json& value_from = json_at(e, "valueFrom");
    if (value_from.is_null()) {
      env.set(name, expand_vars(text_of(json_at(e, "value")), env.list()));
      continue;
    }
    if (const Json& f = json_at(value_from, "fieldRef"); !f.is_null()) {
      Result<std::string> v = field_ref(*in.pod, f.value("fieldPath", ""), in.node_name);
      if (!v.ok()) return v.error();
      env.set(name, std::move(v.value()));
      continue;
    }
    if (const Json& f = json_at(value_from, "resourceFieldRef"); !f.is_null()) {
      Result<std::string> v = resource_field_ref(in, f);
      if (!v.ok()) return v.error();
      env.set(name, std::move(v.value()));
      continue;
    }
    for (const char* ref : {"secretKeyRef", "configMapKeyRef"}) {
      const Json& r = json_at(value_from, ref);
      if (r.is_null()) continue;
      const std::string resource =
          std::string_view(ref) == "secretKeyRef" ? "secrets" : "configmaps";
      const bool optional = r.value("optional", false);
      const std::string object_name = r.value("name", ""), key = r.value("key", "");
      Result<std::optional<Json>> object = fetch(resource, object_name, optional);
      if (!object.ok()) return object.error();
      if (!object.value()) continue;
      std::optional<std::string> v = object_value(resource, *object.value(), key);
      if (!v) {
        if (optional) continue;
        return Error{ErrorCode::NotFound, fmt::format("couldn't find key {} in {} {}/{}", key,
                                                      kind_name(resource), ns, object_name)};
      }
      env.set(name, std::move(*v));
    }
  }
  return env.take();
}

}  // namespace ticketctl::supervisor
