#include "runtime/manifest/checks.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "runtime/core/limits.h"
#include "runtime/core/strings.h"
#include "runtime/manifest/label_selector.h"

namespace ticketctl::manifest::checks {
namespace {

constexpr auto get = &json_at;

bool present(const Json& v, std::string_view key) {
  return !get(v, key).is_null();
}

// Exactly one of `keys` must be set. The second one written (in file order) is the extra one.
void exactly_one(const YAML::Node& n, const Json& v, Walker& w,
                 std::initializer_list<std::string_view> keys, std::string_view what) {
  std::vector<YAML::Node> set;
  for (auto it = n.begin(); n.IsMap() && it != n.end(); ++it) {
    if (!it->first.IsScalar() || it->second.IsNull()) continue;
    const std::string& k = it->first.Scalar();
    if (std::find(keys.begin(), keys.end(), k) != keys.end() && present(v, k))
      set.push_back(it->first);
  }
  if (set.size() == 1) return;
  if (set.empty()) {
    std::vector<std::string> names;
    for (auto k : keys) names.push_back(fmt::format("`{}`", k));
    w.error(n, fmt::format("must specify a {}: one of {}", what, join(names, ", ")));
    return;
  }
  auto scope = w.field(set[1].Scalar(), set[1]);
  w.error(set[1], fmt::format("may not specify more than 1 {}; `{}` is already set", what,
                              set[0].Scalar()));
}

Invalid int_range(const Json& v, long long lo, long long hi) {
  if (!v.is_number_integer()) return std::nullopt;
  const long long n = v.get<long long>();
  if (n < lo || n > hi) return fmt::format("must be between {} and {}, inclusive", lo, hi);
  return std::nullopt;
}

}  // namespace

Invalid port_number(const Json& v) {
  return int_range(v, 1, 65535);
}
Invalid node_port(const Json& v) {
  if (v.is_number_integer() && v.get<long long>() == 0) return std::nullopt;
  return int_range(v, 30000, 32767);
}
Invalid target_port(const Json& v) {
  if (v.is_string()) return check_port_name(v.get_ref<const std::string&>());
  return int_range(v, 1, 65535);
}
Invalid non_negative(const Json& v) {
  if (v.is_number() && v.get<double>() < 0) return "must be greater than or equal to 0";
  return std::nullopt;
}
Invalid positive(const Json& v) {
  if (v.is_number() && v.get<double>() <= 0) return "must be greater than 0";
  return std::nullopt;
}

Invalid int_or_percent(const Json& v) {
  if (v.is_number_integer()) return non_negative(v);
  if (!v.is_string()) return std::nullopt;
  const std::string& s = v.get_ref<const std::string&>();
  const bool ok = s.size() >= 2 && s.back() == '%' &&
                  std::all_of(s.begin(), s.end() - 1, [](char c) { return c >= '0' && c <= '9'; });
  if (!ok)
    return "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%', "
           "or '93%')";
  return std::nullopt;
}

Invalid base64_value(const Json& v) {
  if (!v.is_string()) return std::nullopt;
  size_t at = 0;
  if (!base64_decode(v.get_ref<const std::string&>(), &at))
    return fmt::format("illegal base64 data at input byte {}", at);
  return std::nullopt;
}

Invalid field_path(const Json& v) {
  if (!v.is_string()) return std::nullopt;
  const std::string& s = v.get_ref<const std::string&>();
  static constexpr std::string_view kPlain[] = {"metadata.name",
                                                "metadata.namespace",
                                                "metadata.uid",
                                                "spec.nodeName",
                                                "spec.serviceAccountName",
                                                "status.hostIP",
                                                "status.hostIPs",
                                                "status.podIP",
                                                "status.podIPs"};
  for (auto p : kPlain)
    if (s == p) return std::nullopt;
  for (std::string_view prefix : {"metadata.labels['", "metadata.annotations['"}) {
    if (s.starts_with(prefix) && s.ends_with("']") && s.size() > prefix.size() + 2) {
      if (auto bad = check_label_key(
              std::string_view(s).substr(prefix.size(), s.size() - prefix.size() - 2)))
        return *bad;
      return std::nullopt;
    }
  }
  return "supported values: \"metadata.name\", \"metadata.namespace\", \"metadata.uid\", "
         "\"metadata.labels['<KEY>']\", \"metadata.annotations['<KEY>']\", \"spec.nodeName\", "
         "\"spec.serviceAccountName\", \"status.hostIP\", \"status.hostIPs\", \"status.podIP\", "
         "\"status.podIPs\"";
}

Invalid resource_name(const Json& v) {
  if (!v.is_string()) return std::nullopt;
  static constexpr std::string_view kNames[] = {
      "limits.cpu",   "limits.memory",   "limits.ephemeral-storage",
      "requests.cpu", "requests.memory", "requests.ephemeral-storage"};
  for (auto n : kNames)
    if (v.get_ref<const std::string&>() == n) return std::nullopt;
  return "supported values: \"limits.cpu\", \"limits.ephemeral-storage\", \"limits.memory\", "
         "\"requests.cpu\", \"requests.ephemeral-storage\", \"requests.memory\"";
}

Invalid absolute_path(const Json& v) {
  if (v.is_string() && !v.get_ref<const std::string&>().starts_with("/"))
    return "must be an absolute path";
  return std::nullopt;
}

Invalid cluster_ip(const Json& v) {
  if (!v.is_string()) return std::nullopt;
  const std::string& s = v.get_ref<const std::string&>();
  if (s.empty() || s == "None") return std::nullopt;
  return check_ip(s);
}

Invalid env_prefix(const Json& v) {
  if (!v.is_string() || v.get_ref<const std::string&>().empty()) return std::nullopt;
  return check_env_var_name(v.get_ref<const std::string&>());
}

std::string labels_string(const Json& labels) {
  std::vector<std::string> parts;
  if (labels.is_object())
    for (auto& [k, v] : labels.items()) parts.push_back(k + "=" + str(v));
  return parts.empty() ? "<none>" : join(parts, ",");
}

namespace {

// The selector as kubectl writes it, for a message; "<none>" when it selects everything.
std::string selector_text(const Json& selector) {
  const std::optional<std::string> text = label_selector_string(selector);
  if (!text) return "<invalid>";
  return text->empty() ? "<none>" : *text;
}

}  // namespace

void selector_requirement(const YAML::Node& n, const Json& v, Walker& w) {
  const std::string op = str(get(v, "operator"));
  const Json& values = get(v, "values");
  const bool has_values = values.is_array() && !values.empty();
  auto scope = w.field("values", child(n, "values"));
  if ((op == "In" || op == "NotIn") && !has_values)
    w.error(n, "must be specified when `operator` is 'In' or 'NotIn'");
  if ((op == "Exists" || op == "DoesNotExist") && has_values)
    w.error(child(n, "values"),
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
}

void pod_spec(const YAML::Node& n, const Json& v, Walker& w) {
  std::set<std::string> container_names, port_names, volume_names;
  std::set<std::pair<long long, std::string>> ports;
  const std::string volumes_path = w.path() + ".volumes";
  const Json& volumes = get(v, "volumes");
  if (volumes.is_array()) {
    for (size_t i = 0; i < volumes.size(); ++i) {
      const std::string name = str(get(volumes[i], "name"));
      if (name.empty()) continue;
      if (!volume_names.insert(name).second) {
        YAML::Node at = child(item(child(n, "volumes"), i), "name");
        auto s1 = w.field("volumes", child(n, "volumes"));
        auto s2 = w.index(i, item(child(n, "volumes"), i));
        auto s3 = w.field("name", at);
        w.error(at, fmt::format("duplicate value {}", quote(name)));
      }
    }
  }
  for (std::string_view list : {"initContainers", "containers"}) {
    const Json& cs = get(v, list);
    if (!cs.is_array()) continue;
    const YAML::Node cs_node = child(n, list);
    auto s1 = w.field(list, cs_node);
    for (size_t i = 0; i < cs.size(); ++i) {
      const Json& c = cs[i];
      const YAML::Node c_node = item(cs_node, i);
      auto s2 = w.index(i, c_node);
      const std::string name = str(get(c, "name"));
      if (!name.empty() && !container_names.insert(name).second) {
        auto s3 = w.field("name", child(c_node, "name"));
        w.error(child(c_node, "name"),
                fmt::format("duplicate value {}: container names must be unique within a pod",
                            quote(name)));
      }
      const Json& cports = get(c, "ports");
      const YAML::Node ports_node = child(c_node, "ports");
      for (size_t p = 0; cports.is_array() && p < cports.size(); ++p) {
        const Json& port = cports[p];
        const YAML::Node port_node = item(ports_node, p);
        auto s3 = w.field("ports", ports_node);
        auto s4 = w.index(p, port_node);
        const std::string pname = str(get(port, "name"));
        if (!pname.empty() && !port_names.insert(pname).second) {
          auto s5 = w.field("name", child(port_node, "name"));
          w.error(child(port_node, "name"),
                  fmt::format("duplicate value {}: port names must be unique within a pod",
                              quote(pname)));
        }
        const Json& number = get(port, "containerPort");
        if (number.is_number_integer()) {
          std::string proto = str(get(port, "protocol"));
          if (proto.empty()) proto = "TCP";
          // Containers of one pod share its IP: two can never listen on the same port.
          if (!ports.insert({number.get<long long>(), proto}).second) {
            auto s5 = w.field("containerPort", child(port_node, "containerPort"));
            w.error(child(port_node, "containerPort"),
                    fmt::format("duplicate value {}/{}: containers of one pod share its IP, so a "
                                "port may be declared only once",
                                number.get<long long>(), proto));
          }
        }
      }
      const Json& mounts = get(c, "volumeMounts");
      const YAML::Node mounts_node = child(c_node, "volumeMounts");
      for (size_t m = 0; mounts.is_array() && m < mounts.size(); ++m) {
        const std::string vname = str(get(mounts[m], "name"));
        if (vname.empty() || volume_names.count(vname)) continue;
        const YAML::Node at = child(item(mounts_node, m), "name");
        auto s3 = w.field("volumeMounts", mounts_node);
        auto s4 = w.index(m, item(mounts_node, m));
        auto s5 = w.field("name", at);
        w.error(at, fmt::format("not found: no volume named {} in {}", quote(vname), volumes_path));
      }
    }
  }
}

void env_var(const YAML::Node& n, const Json& v, Walker& w) {
  if (present(v, "valueFrom") && !str(get(v, "value")).empty()) {
    auto scope = w.field("valueFrom", key_of(n, "valueFrom"));
    w.error(key_of(n, "valueFrom"), "may not be specified when `value` is not empty");
  }
}

void env_var_source(const YAML::Node& n, const Json& v, Walker& w) {
  exactly_one(n, v, w, {"fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef"},
              "source");
}

void env_from(const YAML::Node& n, const Json& v, Walker& w) {
  exactly_one(n, v, w, {"configMapRef", "secretRef"}, "source");
}

void probe(const YAML::Node& n, const Json& v, Walker& w) {
  exactly_one(n, v, w, {"exec", "httpGet", "tcpSocket", "grpc"}, "handler type");
}

void lifecycle_handler(const YAML::Node& n, const Json& v, Walker& w) {
  exactly_one(n, v, w, {"exec", "httpGet", "tcpSocket", "sleep"}, "handler type");
}

void volume(const YAML::Node& n, const Json& v, Walker& w) {
  std::vector<std::string_view> sources;
  for (auto& [k, val] : v.items())
    if (k != "name" && !val.is_null()) sources.push_back(k);
  if (sources.empty())
    w.error(n,
            "must specify a volume type (emptyDir, secret, configMap, hostPath or "
            "persistentVolumeClaim)");
  if (sources.size() > 1) {
    auto scope = w.field(sources[1], child(n, sources[1]));
    w.error(
        child(n, sources[1]),
        fmt::format("may not specify more than 1 volume type; `{}` is already set", sources[0]));
  }
}

void deployment_spec(const YAML::Node& n, const Json& v, Walker& w) {
  const Json& selector = get(v, "selector");
  const YAML::Node sel_node = child(n, "selector");
  if (selector.is_object() && !present(selector, "matchLabels") &&
      !present(selector, "matchExpressions")) {
    auto scope = w.field("selector", sel_node);
    w.error(sel_node, "empty selector is invalid for deployment");
    return;
  }
  const Json& tmpl = get(v, "template");
  const YAML::Node tmpl_node = child(n, "template");
  if (selector.is_object() && tmpl.is_object()) {
    const Json& labels = get(get(tmpl, "metadata"), "labels");
    if (!label_selector_matches(selector, labels)) {
      const YAML::Node meta_node = child(tmpl_node, "metadata");
      const YAML::Node labels_node = child(meta_node, "labels");
      auto s1 = w.field("template", tmpl_node);
      auto s2 = w.field("metadata", meta_node);
      auto s3 = w.field("labels", labels_node);
      w.error(labels_node.IsDefined() && has_mark(labels_node) ? labels_node : tmpl_node,
              fmt::format("`selector` does not match template `labels` (selector: {}; labels: {})",
                          selector_text(selector), labels_string(labels)));
    }
    const std::string policy = str(get(get(tmpl, "spec"), "restartPolicy"));
    if (!policy.empty() && policy != "Always") {
      const YAML::Node spec_node = child(tmpl_node, "spec");
      auto s1 = w.field("template", tmpl_node);
      auto s2 = w.field("spec", spec_node);
      auto s3 = w.field("restartPolicy", child(spec_node, "restartPolicy"));
      w.error(child(spec_node, "restartPolicy"),
              fmt::format("unsupported value {}: supported values: \"Always\"", quote(policy)));
    }
  }
  const Json& strategy = get(v, "strategy");
  const YAML::Node strategy_node = child(n, "strategy");
  if (str(get(strategy, "type")) == "Recreate" && present(strategy, "rollingUpdate")) {
    auto s1 = w.field("strategy", strategy_node);
    auto s2 = w.field("rollingUpdate", key_of(strategy_node, "rollingUpdate"));
    w.error(key_of(strategy_node, "rollingUpdate"),
            "may not be specified when strategy `type` is 'Recreate'");
  }
  const Json& ru = get(strategy, "rollingUpdate");
  auto is_zero = [](const Json& x) {
    return (x.is_number_integer() && x.get<long long>() == 0) || (x.is_string() && x == "0%");
  };
  if (is_zero(get(ru, "maxSurge")) && is_zero(get(ru, "maxUnavailable"))) {
    const YAML::Node ru_node = child(strategy_node, "rollingUpdate");
    auto s1 = w.field("strategy", strategy_node);
    auto s2 = w.field("rollingUpdate", ru_node);
    auto s3 = w.field("maxUnavailable", child(ru_node, "maxUnavailable"));
    w.error(child(ru_node, "maxUnavailable"), "may not be 0 when `maxSurge` is 0");
  }
  const Json& deadline = get(v, "progressDeadlineSeconds");
  const Json& min_ready = get(v, "minReadySeconds");
  if (deadline.is_number_integer() && min_ready.is_number_integer() &&
      deadline.get<long long>() <= min_ready.get<long long>()) {
    auto scope = w.field("progressDeadlineSeconds", child(n, "progressDeadlineSeconds"));
    w.error(child(n, "progressDeadlineSeconds"), "must be greater than minReadySeconds");
  }
}

void service(const YAML::Node& n, const Json& v, Walker& w) {
  // Without a spec there are no ports, which only an ExternalName Service may lack.
  if (present(v, "spec")) return;
  auto s1 = w.field("spec", key_of(n, "spec"));
  auto s2 = w.field("ports");
  w.error(key_of(n, "spec").IsDefined() ? key_of(n, "spec") : n, "required value is missing");
}

void service_spec(const YAML::Node& n, const Json& v, Walker& w) {
  std::string type = str(get(v, "type"));
  if (type.empty()) type = "ClusterIP";
  const bool headless = str(get(v, "clusterIP")) == "None";
  const Json& ports = get(v, "ports");
  const YAML::Node ports_node = child(n, "ports");
  if (type == "ExternalName") {
    if (str(get(v, "externalName")).empty()) {
      auto scope = w.field("externalName", child(n, "externalName"));
      w.error(n, "required value is missing when `type` is 'ExternalName'");
    }
    return;
  }
  if ((!ports.is_array() || ports.empty()) && !headless) {
    auto scope = w.field("ports", ports_node);
    w.error(ports_node.IsDefined() && has_mark(ports_node) ? ports_node : n,
            "required value is missing");
    return;
  }
  if (headless && type != "ClusterIP") {
    auto scope = w.field("clusterIP", child(n, "clusterIP"));
    w.error(child(n, "clusterIP"), fmt::format("may not be 'None' when `type` is '{}'", type));
  }
  if (!ports.is_array()) return;
  std::set<std::string> names;
  std::set<std::pair<long long, std::string>> seen;
  auto s1 = w.field("ports", ports_node);
  for (size_t i = 0; i < ports.size(); ++i) {
    const Json& p = ports[i];
    const YAML::Node p_node = item(ports_node, i);
    auto s2 = w.index(i, p_node);
    const std::string name = str(get(p, "name"));
    if (ports.size() > 1 && name.empty()) {
      auto s3 = w.field("name", child(p_node, "name"));
      w.error(p_node,
              "required value is missing: a port name is required when a Service has more than one "
              "port");
    } else if (!name.empty() && !names.insert(name).second) {
      auto s3 = w.field("name", child(p_node, "name"));
      w.error(child(p_node, "name"), fmt::format("duplicate value {}", quote(name)));
    }
    const Json& port = get(p, "port");
    std::string proto = str(get(p, "protocol"));
    if (proto.empty()) proto = "TCP";
    if (port.is_number_integer() && !seen.insert({port.get<long long>(), proto}).second) {
      auto s3 = w.field("port", child(p_node, "port"));
      w.error(child(p_node, "port"),
              fmt::format("duplicate value {}/{}", port.get<long long>(), proto));
    }
    const Json& node_port = get(p, "nodePort");
    if (node_port.is_number_integer() && node_port.get<long long>() != 0 && type == "ClusterIP") {
      auto s3 = w.field("nodePort", child(p_node, "nodePort"));
      w.error(child(p_node, "nodePort"), "may not be used when `type` is 'ClusterIP'");
    }
  }
}

namespace {

// The API server's message for data over a size limit.
std::string too_long(size_t limit) {
  return fmt::format("Too long: must have at most {} bytes", limit);
}

// Bytes a base64 value decodes to (already checked to be base64).
size_t decoded_size(const std::string& b64) {
  size_t pad = 0;
  for (auto it = b64.rbegin(); it != b64.rend() && *it == '=' && pad < 2; ++it) ++pad;
  const size_t whole = b64.size() / 4 * 3;  // the value may be invalid: rules run regardless
  return pad > whole ? 0 : whole - pad;
}

}  // namespace

void secret(const YAML::Node& n, const Json& v, Walker& w) {
  // Sized as stored: stringData is merged into data, its keys replacing data's.
  const Json& data = get(v, "data");
  const Json& string_data = get(v, "stringData");
  size_t total = 0;
  if (data.is_object())
    for (auto& [k, val] : data.items())
      if (val.is_string() && !get(string_data, k).is_string())
        total += decoded_size(val.get_ref<const std::string&>());
  if (string_data.is_object())
    for (auto& [k, val] : string_data.items())
      if (val.is_string()) total += val.get_ref<const std::string&>().size();
  if (total > limits::kMaxConfigDataBytes) {
    const char* field = data.is_object() ? "data" : "stringData";
    auto scope = w.field("data", child(n, field));
    w.error(child(n, field), too_long(limits::kMaxConfigDataBytes));
  }
}

void config_map(const YAML::Node& n, const Json& v, Walker& w) {
  const Json& data = get(v, "data");
  const Json& binary = get(v, "binaryData");
  size_t total = 0;
  if (data.is_object())
    for (auto& [k, val] : data.items())
      if (val.is_string()) total += val.get_ref<const std::string&>().size();
  if (binary.is_object())
    for (auto& [k, val] : binary.items())
      if (val.is_string()) total += decoded_size(val.get_ref<const std::string&>());
  if (total > limits::kMaxConfigDataBytes) {
    const YAML::Node at = child(n, data.is_object() ? "data" : "binaryData");
    w.error(at.IsDefined() ? at : n, too_long(limits::kMaxConfigDataBytes));
  }
  if (!data.is_object() || !binary.is_object()) return;
  const YAML::Node bin_node = child(n, "binaryData");
  for (auto& [k, val] : binary.items()) {
    if (!data.contains(k)) continue;
    auto s1 = w.field("binaryData", bin_node);
    auto s2 = w.key(k, key_of(bin_node, k));
    w.error(key_of(bin_node, k), fmt::format("duplicate of key {} present in `data`", quote(k)));
  }
}

void annotations(const YAML::Node& n, const Json& v, Walker& w) {
  size_t total = 0;
  for (auto& [k, val] : v.items())
    total += k.size() + (val.is_string() ? val.get_ref<const std::string&>().size() : 0);
  if (total > limits::kMaxAnnotationBytes) w.error(n, too_long(limits::kMaxAnnotationBytes));
}

void ingress_spec(const YAML::Node& n, const Json& v, Walker& w) {
  const bool has_default = present(v, "defaultBackend") || present(v, "backend");
  const Json& rules = get(v, "rules");
  if (!has_default && (!rules.is_array() || rules.empty()))
    w.error(n, "either `defaultBackend` or `rules` must be specified");
}

void ingress_path(const YAML::Node& n, const Json& v, Walker& w) {
  const Json& path = get(v, "path");
  const std::string type = str(get(v, "pathType"));
  if (!path.is_string()) {
    if (type == "Exact" || type == "Prefix") {
      auto scope = w.field("path", child(n, "path"));
      w.error(n, fmt::format("required value is missing: must be specified when `pathType` is '{}'",
                             type));
    }
    return;
  }
  const std::string& p = path.get_ref<const std::string&>();
  auto scope = w.field("path", child(n, "path"));
  if (!p.starts_with("/")) {
    w.error(child(n, "path"), fmt::format("invalid value {}: must be an absolute path", quote(p)));
    return;
  }
  if (type == "Exact" || type == "Prefix") {
    for (std::string_view bad : {"//", "/./", "/../", "%2f", "%2F"}) {
      if (p.find(bad) != std::string::npos) {
        w.error(child(n, "path"),
                fmt::format("invalid value {}: must not contain '{}'", quote(p), bad));
        return;
      }
    }
    if (p.ends_with("/..") || p.ends_with("/.")) {
      w.error(child(n, "path"),
              fmt::format("invalid value {}: must not end with '/..' or '/.'", quote(p)));
    }
  }
}

void ingress_backend(const YAML::Node& n, const Json& v, Walker& w) {
  exactly_one(n, v, w, {"service", "resource"}, "backend");
}

void service_backend_port(const YAML::Node& n, const Json& v, Walker& w) {
  exactly_one(n, v, w, {"name", "number"}, "port");
}

void legacy_ingress_backend(const YAML::Node& n, const Json& v, Walker& w) {
  if (present(v, "resource")) {
    if (present(v, "serviceName")) {
      auto scope = w.field("serviceName", child(n, "serviceName"));
      w.error(child(n, "serviceName"), "may not be specified together with `resource`");
    }
    return;
  }
  for (std::string_view k : {"serviceName", "servicePort"}) {
    if (present(v, k)) continue;
    auto scope = w.field(k, child(n, k));
    w.error(n, "required value is missing");
  }
}

}  // namespace ticketctl::manifest::checks
