#include "runtime/api/defaults.h"

namespace ticketctl::api {
namespace {

// Sets `key` when it is absent (or null, which a merge patch leaves when it deletes a field).
void set_default(Json& object, const char* key, Json value) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) object[key] = std::move(value);
}

// The object at `key`, made an object when absent; nullptr when a value of another type is there
// (validation already reported it, defaulting does not overwrite it).
Json* object_at(Json& parent, const char* key) {
  Json& v = parent[key];
  if (v.is_null()) v = Json::object();
  return v.is_object() ? &v : nullptr;
}

void default_container(Json& c) {
  if (!c.is_object()) return;
  set_default(c, "terminationMessagePath", "/dev/termination-log");
  set_default(c, "terminationMessagePolicy", "File");
  if (const Json& image = json_at(c, "image"); image.is_string())
    set_default(c, "imagePullPolicy", std::string(default_pull_policy(image.get<std::string>())));
  if (auto ports = c.find("ports"); ports != c.end() && ports->is_array())
    for (Json& p : *ports)
      if (p.is_object()) set_default(p, "protocol", "TCP");
}

void default_pod_spec(Json& spec) {
  if (!spec.is_object()) return;
  for (const char* list : {"initContainers", "containers"})
    if (auto it = spec.find(list); it != spec.end() && it->is_array())
      for (Json& c : *it) default_container(c);
  set_default(spec, "restartPolicy", "Always");
  set_default(spec, "terminationGracePeriodSeconds", 30);
  set_default(spec, "dnsPolicy", "ClusterFirst");
  set_default(spec, "securityContext", Json::object());
  set_default(spec, "schedulerName", "default-scheduler");
}

void default_deployment(Json& d) {
  Json* spec = object_at(d, "spec");
  if (!spec) return;
  set_default(*spec, "replicas", 1);
  if (Json* strategy = object_at(*spec, "strategy")) {
    set_default(*strategy, "type", "RollingUpdate");
    if (json_at(*strategy, "type") == "RollingUpdate") {
      if (Json* ru = object_at(*strategy, "rollingUpdate")) {
        set_default(*ru, "maxUnavailable", "25%");
        set_default(*ru, "maxSurge", "25%");
      }
    }
  }
  set_default(*spec, "revisionHistoryLimit", 10);
  set_default(*spec, "progressDeadlineSeconds", 600);
  if (auto it = spec->find("template"); it != spec->end()) default_pod_template(*it);
}

void default_replicaset(Json& rs) {
  Json* spec = object_at(rs, "spec");
  if (!spec) return;
  set_default(*spec, "replicas", 1);
  if (auto it = spec->find("template"); it != spec->end()) default_pod_template(*it);
}

void default_service(Json& svc) {
  Json* spec = object_at(svc, "spec");
  if (!spec) return;
  set_default(*spec, "type", "ClusterIP");
  // A copy: adding keys below moves the spec's members.
  const Json type = json_at(*spec, "type");
  if (type != "ExternalName") {
    set_default(*spec, "sessionAffinity", "None");
    set_default(*spec, "ipFamilies", Json::array({"IPv4"}));
    set_default(*spec, "ipFamilyPolicy", "SingleStack");
    set_default(*spec, "internalTrafficPolicy", "Cluster");
  }
  if (type == "NodePort" || type == "LoadBalancer")
    set_default(*spec, "externalTrafficPolicy", "Cluster");
  if (auto it = spec->find("ports"); it != spec->end() && it->is_array()) {
    for (Json& p : *it) {
      if (!p.is_object()) continue;
      set_default(p, "protocol", "TCP");
      if (const Json& port = json_at(p, "port"); port.is_number_integer())
        set_default(p, "targetPort", port);
    }
  }
}

}  // namespace

std::string_view default_pull_policy(std::string_view image) {
  if (image.find('@') != std::string_view::npos) return "IfNotPresent";  // pinned by digest
  // A tag follows the last ':' after the last '/' (a registry's ":5000" comes before it).
  const size_t slash = image.rfind('/');
  const std::string_view last = slash == std::string_view::npos ? image : image.substr(slash + 1);
  const size_t colon = last.rfind(':');
  if (colon == std::string_view::npos || last.substr(colon + 1) == "latest") return "Always";
  return "IfNotPresent";
}

void default_pod_template(Json& pod_template) {
  if (!pod_template.is_object()) return;
  if (auto it = pod_template.find("spec"); it != pod_template.end()) default_pod_spec(*it);
}

void bind_to_node(Json& pod) {
  if (!pod.is_object()) return;
  if (Json& spec = pod["spec"]; spec.is_object()) set_default(spec, "nodeName", kNodeName);
}

void apply_defaults(std::string_view resource, Json& object) {
  if (!object.is_object()) return;
  if (resource == "deployments.apps") {
    default_deployment(object);
  } else if (resource == "replicasets.apps") {
    default_replicaset(object);
  } else if (resource == "pods") {
    if (auto it = object.find("spec"); it != object.end()) default_pod_spec(*it);
  } else if (resource == "services") {
    default_service(object);
  } else if (resource == "secrets") {
    set_default(object, "type", "Opaque");
  }
}

}  // namespace ticketctl::api
