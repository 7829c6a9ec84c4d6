#include "cli/describe.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <ctime>

#include "runtime/core/rfc3339.h"
#include "runtime/core/strings.h"
#include "runtime/manifest/label_selector.h"
#include "runtime/manifest/yaml_writer.h"

namespace ticketctl::cli {
namespace {

constexpr auto at = &json_at;

std::string str(const Json& v, std::string_view fallback = "") {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number() || v.is_boolean()) return v.dump();
  return std::string(fallback);
}

// Lines of "Key:<tab>value" at an indent; each run of lines at one indent aligns its values, as
// kubectl's tabwriter does.
class Writer {
 public:
  void line(int indent, std::string key, std::string value = {}) {
    lines_.push_back({indent, std::move(key), std::move(value), true});
  }
  void text(int indent, std::string raw) { lines_.push_back({indent, std::move(raw), {}, false}); }
  void map(int indent, const std::string& key, const Json& m) {
    if (!m.is_object() || m.empty()) {
      line(indent, key, "<none>");
      return;
    }
    bool first = true;
    for (auto& [k, v] : m.items()) {
      line(indent, first ? key : "", fmt::format("{}={}", k, cli::str(v)));
      first = false;
    }
  }
  std::string render() const {
    std::string out;
    for (size_t i = 0; i < lines_.size();) {
      size_t j = i;
      size_t width = 0;
      while (j < lines_.size() && lines_[j].keyed && lines_[j].indent == lines_[i].indent) {
        width = std::max(width, lines_[j].key.size() + 1);
        ++j;
      }
      if (j == i) {  // a raw line
        out += std::string(lines_[i].indent, ' ') + lines_[i].key + "\n";
        ++i;
        continue;
      }
      for (; i < j; ++i) {
        const Line& l = lines_[i];
        std::string s = std::string(l.indent, ' ') + (l.key.empty() ? "" : l.key + ":");
        if (!l.value.empty())
          s += std::string(width + 2 - (l.key.empty() ? 0 : l.key.size() + 1), ' ') + l.value;
        out += s + "\n";
      }
    }
    return out;
  }

 private:
  struct Line {
    int indent;
    std::string key, value;
    bool keyed;
  };
  std::vector<Line> lines_;
};

std::string timestamp(const Json& object) {
  const std::string t = str(at(at(object, "metadata"), "creationTimestamp"));
  if (t.empty()) return "<unknown>";
  const std::optional<rfc3339::Time> parsed = rfc3339::parse(t);
  if (!parsed) return t;
  const std::time_t seconds = parsed->seconds;
  std::tm tm{};
  if (!gmtime_r(&seconds, &tm)) return t;
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

void header(Writer& w, const Json& o, bool namespaced) {
  const Json& meta = at(o, "metadata");
  w.line(0, "Name", str(at(meta, "name")));
  if (namespaced) w.line(0, "Namespace", str(at(meta, "namespace")));
  w.line(0, "CreationTimestamp", timestamp(o));
  w.map(0, "Labels", at(meta, "labels"));
  w.map(0, "Annotations", at(meta, "annotations"));
}

// metav1.FormatLabelSelector, as kubectl describe prints a selector.
std::string selector_text(const Json& selector) {
  const std::optional<std::string> text = manifest::label_selector_string(selector);
  if (!text) return "<error>";
  return text->empty() ? "<none>" : *text;
}

// An env var as kubectl shows it: the value, or where it comes from, never a secret's value.
std::string env_value(const Json& e) {
  if (at(e, "value").is_string()) return str(at(e, "value"));
  const Json& from = at(e, "valueFrom");
  const auto optional = [](const Json& ref) {
    return at(ref, "optional") == true ? "true" : "false";
  };
  if (const Json& s = at(from, "secretKeyRef"); s.is_object())
    return fmt::format("<set to the key '{}' in secret '{}'>  Optional: {}", str(at(s, "key")),
                       str(at(s, "name")), optional(s));
  if (const Json& c = at(from, "configMapKeyRef"); c.is_object())
    return fmt::format("<set to the key '{}' of config map '{}'>  Optional: {}", str(at(c, "key")),
                       str(at(c, "name")), optional(c));
  if (const Json& f = at(from, "fieldRef"); f.is_object())
    return fmt::format("({}:{})", str(at(f, "apiVersion"), "v1"), str(at(f, "fieldPath")));
  if (const Json& r = at(from, "resourceFieldRef"); r.is_object())
    return fmt::format("{} ({})", str(at(r, "resource")),
                       str(at(r, "containerName"), "the container"));
  return "";
}

void containers(Writer& w, int indent, const Json& pod_spec, const Json& statuses) {
  w.text(indent, "Containers:");
  for (const Json& c : at(pod_spec, "containers")) {
    w.text(indent + 1, str(at(c, "name")) + ":");
    w.line(indent + 2, "Image", str(at(c, "image")));
    std::vector<std::string> ports;
    for (const Json& p : at(c, "ports"))
      ports.push_back(
          fmt::format("{}/{}", str(at(p, "containerPort")), str(at(p, "protocol"), "TCP")));
    w.line(indent + 2, "Port",
           ports.empty() ? "<none>" : fmt::format("{}", fmt::join(ports, ", ")));
    if (at(c, "command").is_array())
      w.line(indent + 2, "Command",
             fmt::format("{}", fmt::join(at(c, "command").get<std::vector<std::string>>(), " ")));
    if (at(c, "args").is_array())
      w.line(indent + 2, "Args",
             fmt::format("{}", fmt::join(at(c, "args").get<std::vector<std::string>>(), " ")));
    for (const Json& s : statuses) {
      if (str(at(s, "name")) != str(at(c, "name"))) continue;
      const Json& state = at(s, "state");
      if (!state.empty() && state.is_object()) {
        std::string st = state.begin().key();
        st[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(st[0])));
        w.line(indent + 2, "State", st);
        if (const Json& reason = at(state.begin().value(), "reason"); reason.is_string())
          w.line(indent + 3, "Reason", str(reason));
      }
      w.line(indent + 2, "Ready", at(s, "ready") == true ? "True" : "False");
      w.line(indent + 2, "Restart Count", str(at(s, "restartCount"), "0"));
    }
    const Json& env = at(c, "env");
    if (!env.is_array() || env.empty()) {
      w.line(indent + 2, "Environment", "<none>");
    } else {
      w.text(indent + 2, "Environment:");
      for (const Json& e : env) w.line(indent + 3, str(at(e, "name")), env_value(e));
    }
    for (const Json& f : at(c, "envFrom")) {
      const bool secret = at(f, "secretRef").is_object();
      const Json& ref = secret ? at(f, "secretRef") : at(f, "configMapRef");
      w.line(
          indent + 2, "Environment Variables from",
          fmt::format("{}  {}  Optional: {}", str(at(ref, "name")), secret ? "Secret" : "ConfigMap",
                      at(ref, "optional") == true ? "true" : "false"));
    }
    std::vector<std::string> mounts;
    for (const Json& m : at(c, "volumeMounts"))
      mounts.push_back(fmt::format("{} from {} ({})", str(at(m, "mountPath")), str(at(m, "name")),
                                   at(m, "readOnly") == true ? "ro" : "rw"));
    w.line(indent + 2, "Mounts",
           mounts.empty() ? "<none>" : fmt::format("{}", fmt::join(mounts, ", ")));
  }
}

// A small fixed table under a heading, columns padded to their widest cell.
void table(Writer& w, int indent, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) {
      if (widths.size() <= i) widths.push_back(0);
      widths[i] = std::max(widths[i], row[i].size());
    }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i)
      line +=
          i + 1 < row.size() ? row[i] + std::string(widths[i] - row[i].size() + 2, ' ') : row[i];
    w.text(indent, line.substr(0, line.find_last_not_of(' ') + 1));
  }
}

void events(Writer& w, const std::vector<Json>& list) {
  if (list.empty()) {
    w.line(0, "Events", "<none>");
    return;
  }
  w.text(0, "Events:");
  std::vector<std::vector<std::string>> rows = {{"Type", "Reason", "From", "Message"},
                                                {"----", "------", "----", "-------"}};
  for (const Json& e : list)
    rows.push_back({str(at(e, "type"), "Normal"), str(at(e, "reason")),
                    str(at(at(e, "source"), "component")), str(at(e, "message"))});
  table(w, 2, rows);
}

void deployment(Writer& w, const Json& d, const Related& r) {
  const Json& spec = at(d, "spec");
  const Json& status = at(d, "status");
  w.line(0, "Selector", selector_text(at(spec, "selector")));
  const auto n = [&](const char* k) { return str(at(status, k), "0"); };
  w.line(0, "Replicas",
         fmt::format("{} desired | {} updated | {} total | {} available | {} unavailable",
                     str(at(spec, "replicas"), "1"), n("updatedReplicas"), n("replicas"),
                     n("availableReplicas"), n("unavailableReplicas")));
  const Json& strategy = at(spec, "strategy");
  const std::string type = str(at(strategy, "type"), "RollingUpdate");
  w.line(0, "StrategyType", type);
  w.line(0, "MinReadySeconds", str(at(spec, "minReadySeconds"), "0"));
  if (type == "RollingUpdate") {
    const Json& ru = at(strategy, "rollingUpdate");
    w.line(0, "RollingUpdateStrategy",
           fmt::format("{} max unavailable, {} max surge", str(at(ru, "maxUnavailable"), "25%"),
                       str(at(ru, "maxSurge"), "25%")));
  }
  w.text(0, "Pod Template:");
  w.map(2, "Labels", at(at(at(spec, "template"), "metadata"), "labels"));
  containers(w, 2, at(at(spec, "template"), "spec"), Json());
  std::string current, old;
  for (const Json& rs : r.replicasets) {
    const std::string line = fmt::format(
        "{} ({}/{} replicas created)", str(at(at(rs, "metadata"), "name")),
        str(at(at(rs, "status"), "replicas"), "0"), str(at(at(rs, "spec"), "replicas"), "1"));
    if (at(at(rs, "spec"), "replicas") == 0)
      old += (old.empty() ? "" : ", ") + line;
    else
      current += (current.empty() ? "" : ", ") + line;
  }
  w.line(0, "OldReplicaSets", old.empty() ? "<none>" : old);
  w.line(0, "NewReplicaSet", current.empty() ? "<none>" : current);
}

void pod(Writer& w, const Json& p) {
  const Json& status = at(p, "status");
  w.line(0, "Status",
         at(at(p, "metadata"), "deletionTimestamp").is_string()
             ? "Terminating"
             : str(at(status, "phase"), "Pending"));
  w.line(0, "IP", str(at(status, "podIP"), "<none>"));
  for (const Json& ref : at(at(p, "metadata"), "ownerReferences"))
    if (at(ref, "controller") == true)
      w.line(0, "Controlled By", fmt::format("{}/{}", str(at(ref, "kind")), str(at(ref, "name"))));
  containers(w, 0, at(p, "spec"), at(status, "containerStatuses"));
}

void service(Writer& w, const Json& s) {
  const Json& spec = at(s, "spec");
  w.map(0, "Selector", at(spec, "selector"));
  w.line(0, "Type", str(at(spec, "type"), "ClusterIP"));
  w.line(0, "IP", str(at(spec, "clusterIP"), "<none>"));
  for (const Json& p : at(spec, "ports")) {
    const std::string name = str(at(p, "name"), "<unset>");
    const std::string proto = str(at(p, "protocol"), "TCP");
    w.line(0, "Port", fmt::format("{}  {}/{}", name, str(at(p, "port")), proto));
    w.line(0, "TargetPort",
           fmt::format("{}/{}", str(at(p, "targetPort"), str(at(p, "port"))), proto));
    if (str(at(spec, "type")) == "NodePort" || str(at(spec, "type")) == "LoadBalancer")
      w.line(0, "NodePort",
             fmt::format("{}  {}/{}", name, str(at(p, "nodePort"), "<unset>"), proto));
  }
  w.line(0, "Session Affinity", str(at(spec, "sessionAffinity"), "None"));
}

// The parts of kubectl's node layout a user compares: conditions, addresses, capacity, system info.
void node(Writer& w, const Json& n) {
  const Json& status = at(n, "status");
  std::vector<std::vector<std::string>> conditions = {{"Type", "Status", "Reason", "Message"},
                                                      {"----", "------", "------", "-------"}};
  for (const Json& c : at(status, "conditions"))
    conditions.push_back(
        {str(at(c, "type")), str(at(c, "status")), str(at(c, "reason")), str(at(c, "message"))});
  w.text(0, "Conditions:");
  table(w, 2, conditions);
  w.text(0, "Addresses:");
  for (const Json& a : at(status, "addresses"))
    w.line(2, str(at(a, "type")), str(at(a, "address")));
  for (const char* section : {"capacity", "allocatable"}) {
    std::string title = section;
    title[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(title[0])));
    w.text(0, title + ":");
    for (auto& [k, v] : at(status, section).items()) w.line(2, k, str(v));
  }
  const Json& info = at(status, "nodeInfo");
  w.text(0, "System Info:");
  for (auto [key, label] :
       {std::pair{"kernelVersion", "Kernel Version"}, std::pair{"osImage", "OS Image"},
        std::pair{"operatingSystem", "Operating System"}, std::pair{"architecture", "Architecture"},
        std::pair{"containerRuntimeVersion", "Container Runtime Version"},
        std::pair{"kubeletVersion", "Kubelet Version"}})
    w.line(2, label, str(at(info, key)));
}

void secret(Writer& w, const Json& s) {
  w.line(0, "Type", str(at(s, "type"), "Opaque"));
  w.text(0, "");
  w.text(0, "Data");
  w.text(0, "====");
  for (auto& [k, v] : at(s, "data").items())
    w.line(0, k, fmt::format("{} bytes", base64_decode(str(v)).value_or("").size()));
  for (auto& [k, v] : at(s, "stringData").items())
    if (!at(s, "data").contains(k)) w.line(0, k, fmt::format("{} bytes", str(v).size()));
}

void config_map(Writer& w, const Json& c) {
  w.text(0, "");
  w.text(0, "Data");
  w.text(0, "====");
  for (auto& [k, v] : at(c, "data").items()) {
    w.text(0, k + ":");
    w.text(0, "----");
    w.text(0, str(v));
    w.text(0, "");
  }
  w.text(0, "");
  w.text(0, "BinaryData");
  w.text(0, "====");
  for (auto& [k, v] : at(c, "binaryData").items())
    w.line(0, k, fmt::format("{} bytes", base64_decode(str(v)).value_or("").size()));
  w.text(0, "");
}

void ingress(Writer& w, const Json& i) {
  const Json& spec = at(i, "spec");
  w.line(0, "Ingress Class", str(at(spec, "ingressClassName"), "<none>"));
  const auto backend = [](const Json& b) {
    const Json& svc = at(b, "service");
    const Json& port = at(svc, "port");
    return fmt::format("{}:{}", str(at(svc, "name")),
                       str(at(port, "number"), str(at(port, "name"))));
  };
  w.line(
      0, "Default backend",
      at(spec, "defaultBackend").is_object() ? backend(at(spec, "defaultBackend")) : "<default>");
  w.text(0, "Rules:");
  std::vector<std::vector<std::string>> rows = {{"Host", "Path", "Backends"},
                                                {"----", "----", "--------"}};
  for (const Json& rule : at(spec, "rules")) {
    rows.push_back({str(at(rule, "host"), "*"), "", ""});
    for (const Json& p : at(at(rule, "http"), "paths"))
      rows.push_back({"", str(at(p, "path"), "/"), backend(at(p, "backend"))});
  }
  table(w, 2, rows);
}

}  // namespace

std::string describe(std::string_view kind, const Json& object, const Related& related) {
  Writer w;
  header(w, object, kind != "Namespace" && kind != "Node");
  if (kind == "Deployment")
    deployment(w, object, related);
  else if (kind == "Pod")
    pod(w, object);
  else if (kind == "Service")
    service(w, object);
  else if (kind == "Secret")
    secret(w, object);
  else if (kind == "ConfigMap")
    config_map(w, object);
  else if (kind == "Ingress")
    ingress(w, object);
  else if (kind == "Node")
    node(w, object);
  else if (at(object, "spec").is_object()) {
    w.text(0, "Spec:");
    std::string yaml = manifest::to_yaml(at(object, "spec"));
    for (size_t start = 0, eol; (eol = yaml.find('\n', start)) != std::string::npos;
         start = eol + 1)
      w.text(2, yaml.substr(start, eol - start));
  }
  events(w, related.events);
  return w.render();
}

}  // namespace ticketctl::cli
