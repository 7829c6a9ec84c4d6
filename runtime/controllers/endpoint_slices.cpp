#include "runtime/controllers/endpoint_slices.h"

#include <set>
#include <string>

#include "runtime/controllers/deployment.h"

namespace ticketctl::controllers {
namespace {

constexpr const char* kServiceName = "kubernetes.io/service-name";
constexpr const char* kManagedBy = "endpointslice.kubernetes.io/managed-by";

bool ours(const Json& slice) {
  const std::string by = str(json_at(json_at(json_at(slice, "metadata"), "labels"), kManagedBy));
  return by == "endpointslice-controller.k8s.io" ||
         by == "endpointslicemirroring-controller.k8s.io";
}

Json slice_endpoint(const Json& address, bool ready) {
  Json e = {{"addresses", Json::array({json_at(address, "ip")})},
            {"conditions", {{"ready", ready}, {"serving", ready}, {"terminating", false}}}};
  if (json_at(address, "nodeName").is_string()) e["nodeName"] = address["nodeName"];
  if (json_at(address, "targetRef").is_object()) e["targetRef"] = address["targetRef"];
  return e;
}

}  // namespace

std::vector<Json> endpoint_slices_for(const Json& endpoints, const Json* service) {
  const Json& meta = json_at(endpoints, "metadata");
  const std::string ns = str(json_at(meta, "namespace")), name = str(json_at(meta, "name"));
  const bool selected = service && json_at(json_at(*service, "spec"), "selector").is_object() &&
                        !json_at(json_at(*service, "spec"), "selector").empty();
  Json labels = service && json_at(json_at(*service, "metadata"), "labels").is_object()
                    ? (*service)["metadata"]["labels"]
                    : Json::object();
  labels[kServiceName] = name;
  labels[kManagedBy] =
      selected ? "endpointslice-controller.k8s.io" : "endpointslicemirroring-controller.k8s.io";
  Json subsets = json_at(endpoints, "subsets");
  // A Service without endpoints still has its (empty) slice, as the controller leaves one.
  if (!subsets.is_array() || subsets.empty()) subsets = Json::array({Json::object()});
  std::vector<Json> out;
  for (size_t i = 0; i < subsets.size(); ++i) {
    const Json& subset = subsets[i];
    Json list = Json::array();
    for (const Json& a : json_at(subset, "addresses")) list.push_back(slice_endpoint(a, true));
    for (const Json& a : json_at(subset, "notReadyAddresses"))
      list.push_back(slice_endpoint(a, false));
    Json ports = Json::array();
    for (const Json& p : json_at(subset, "ports"))
      ports.push_back({{"name", str(json_at(p, "name"))},
                       {"port", json_at(p, "port")},
                       {"protocol", json_at(p, "protocol").is_string() ? p["protocol"] : "TCP"}});
    // A stable name per Service and subset: the same slice is updated, never replaced.
    const std::string suffix =
        pod_template_hash(Json(ns + "/" + name + "/" + std::to_string(i))).substr(0, 5);
    Json slice = {
        {"apiVersion", "discovery.k8s.io/v1"},
        {"kind", "EndpointSlice"},
        {"metadata", {{"name", name + "-" + suffix}, {"namespace", ns}, {"labels", labels}}},
        {"addressType", "IPv4"},
        {"endpoints", std::move(list)},
        {"ports", std::move(ports)}};
    if (service && json_at(json_at(*service, "metadata"), "uid").is_string())
      slice["metadata"]["ownerReferences"] = {{{"apiVersion", "v1"},
                                               {"kind", "Service"},
                                               {"name", name},
                                               {"uid", (*service)["metadata"]["uid"]},
                                               {"controller", true},
                                               {"blockOwnerDeletion", true}}};
    out.push_back(std::move(slice));
  }
  return out;
}

int reconcile_endpoint_slices(store::Store& store) {
  int writes = 0;
  std::set<std::pair<std::string, std::string>> wanted;
  for (const store::ObjectRef& ep : store.items("endpoints", "")) {
    const Json& meta = json_at(*ep, "metadata");
    const std::string ns = str(json_at(meta, "namespace")), name = str(json_at(meta, "name"));
    const Json* service = store.find({"services", ns, name});
    for (Json& slice : endpoint_slices_for(*ep, service)) {
      const std::string slice_name = str(slice["metadata"]["name"]);
      wanted.insert({ns, slice_name});
      const Json* current = store.find({"endpointslices.discovery.k8s.io", ns, slice_name});
      if (current) {
        const Json& cm = json_at(*current, "metadata");
        if (json_at(*current, "endpoints") == slice["endpoints"] &&
            json_at(*current, "ports") == slice["ports"] &&
            json_at(cm, "labels") == slice["metadata"]["labels"] &&
            json_at(cm, "ownerReferences") == json_at(slice["metadata"], "ownerReferences"))
          continue;
        if (store.update("endpointslices.discovery.k8s.io", std::move(slice)).ok()) ++writes;
      } else if (store.create("endpointslices.discovery.k8s.io", std::move(slice)).ok()) {
        ++writes;
      }
    }
  }
  for (const store::ObjectRef& slice : store.items("endpointslices.discovery.k8s.io", "")) {
    const Json& meta = json_at(*slice, "metadata");
    const std::pair key{str(json_at(meta, "namespace")), str(json_at(meta, "name"))};
    if (wanted.count(key) || !ours(*slice)) continue;
    if (store.remove({"endpointslices.discovery.k8s.io", key.first, key.second}).ok()) ++writes;
  }
  return writes;
}

}  // namespace ticketctl::controllers
