#include "runtime/api/resources.h"

#include <fmt/format.h>

#include <cctype>

namespace ticketctl::api {
namespace {

const std::vector<Resource>& table() {
  static const std::vector<Resource> t = {
      {"Namespace", "namespaces", "namespace", "", "v1", false, {"ns"}, {}},
      {"Pod", "pods", "pod", "", "v1", true, {"po"}, {"all"}},
      {"Service", "services", "service", "", "v1", true, {"svc"}, {"all"}},
      {"Secret", "secrets", "secret", "", "v1", true, {}, {}},
      {"ConfigMap", "configmaps", "configmap", "", "v1", true, {"cm"}, {}},
      {"PersistentVolumeClaim",
       "persistentvolumeclaims",
       "persistentvolumeclaim",
       "",
       "v1",
       true,
       {"pvc"},
       {}},
      {"Endpoints", "endpoints", "endpoints", "", "v1", true, {"ep"}, {}},
      {"Event", "events", "event", "", "v1", true, {"ev"}, {}},
      {"Deployment", "deployments", "deployment", "apps", "v1", true, {"deploy"}, {"all"}},
      {"ReplicaSet", "replicasets", "replicaset", "apps", "v1", true, {"rs"}, {"all"}},
      {"Ingress", "ingresses", "ingress", "networking.k8s.io", "v1", true, {"ing"}, {}},
      {"Node", "nodes", "node", "", "v1", false, {"no"}, {}},
      {"EndpointSlice", "endpointslices", "endpointslice", "discovery.k8s.io", "v1", true, {}, {}},
      {"Lease", "leases", "lease", "coordination.k8s.io", "v1", true, {}, {}},
  };
  return t;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string Resource::api_version() const {
  return group.empty() ? std::string(version) : fmt::format("{}/{}", group, version);
}

std::string Resource::store_key() const {
  return group.empty() ? std::string(plural) : fmt::format("{}.{}", plural, group);
}

std::string Resource::kubectl_kind() const {
  return group.empty() ? std::string(singular) : fmt::format("{}.{}", singular, group);
}

std::string Resource::path(std::string_view ns, std::string_view name) const {
  std::string out = group.empty() ? "/api/v1" : fmt::format("/apis/{}/{}", group, version);
  if (namespaced && !ns.empty()) out += fmt::format("/namespaces/{}", ns);
  out += fmt::format("/{}", plural);
  if (!name.empty()) out += fmt::format("/{}", name);
  return out;
}

void bind_claim(Json& claim) {
  Json& spec = claim["spec"];
  if (!spec.is_object()) spec = Json::object();
  const Json& meta = json_at(claim, "metadata");
  if (!spec.contains("volumeName") || !spec["volumeName"].is_string())
    spec["volumeName"] = fmt::format(
        "pvc-{}-{}",
        json_at(meta, "namespace").is_string() ? json_at(meta, "namespace").get<std::string>()
                                               : "default",
        json_at(meta, "name").is_string() ? json_at(meta, "name").get<std::string>() : "");
  if (!spec.contains("volumeMode")) spec["volumeMode"] = "Filesystem";
  Json status = {{"phase", "Bound"}};
  const Json& modes = json_at(spec, "accessModes");
  status["accessModes"] = modes.is_array() ? modes : Json::array({"ReadWriteOnce"});
  const Json& storage = json_at(json_at(json_at(spec, "resources"), "requests"), "storage");
  if (storage.is_string()) status["capacity"] = {{"storage", storage}};
  claim["status"] = std::move(status);
}

bool read_only(const Resource& r) {
  return r.plural == "nodes" || r.plural == "endpointslices" || r.plural == "leases";
}

std::span<const Resource> all_resources() {
  return table();
}

const Resource* find_resource(std::string_view typed) {
  const std::string name = lower(typed);
  std::string_view base = name, group;
  if (const size_t dot = name.find('.'); dot != std::string::npos) {
    base = std::string_view(name).substr(0, dot);
    group = std::string_view(name).substr(dot + 1);
  }
  for (const Resource& r : table()) {
    if (!group.empty() && group != r.group) continue;
    if (base == r.plural || base == r.singular || base == lower(r.kind)) return &r;
    for (auto s : r.short_names)
      if (base == s) return &r;
  }
  return nullptr;
}

const Resource* resource_for(std::string_view group, std::string_view version,
                             std::string_view plural) {
  for (const Resource& r : table())
    if (r.group == group && r.version == version && r.plural == plural) return &r;
  return nullptr;
}

const Resource* resource_for_kind(std::string_view api_version, std::string_view kind) {
  for (const Resource& r : table())
    if (r.kind == kind && r.api_version() == api_version) return &r;
  return nullptr;
}

}  // namespace ticketctl::api
