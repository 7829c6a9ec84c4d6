#include "runtime/controllers/endpoints.h"

#include <algorithm>
#include <map>
#include <set>

#include "runtime/controllers/endpoint_slices.h"
#include "runtime/manifest/label_selector.h"
#include "runtime/manifest/reasons.h"

namespace ticketctl::controllers {
namespace {

// A Service port's targetPort in one pod: a number as given, a name looked up in the pod's
// containers; 0 when the pod has no port of that name.
int target_port(const Json& service_port, const Json& pod) {
  const Json& target = json_at(service_port, "targetPort");
  if (target.is_null()) return json_at(service_port, "port").get<int>();
  if (target.is_number_integer()) return target.get<int>();
  const std::string name = str(target);
  for (const Json& c : json_at(json_at(pod, "spec"), "containers"))
    for (const Json& p : json_at(c, "ports"))
      if (str(json_at(p, "name")) == name) return json_at(p, "containerPort").get<int>();
  return 0;
}

}  // namespace

bool pod_ready(const Json& pod) {
  for (const Json& c : json_at(json_at(pod, "status"), "conditions"))
    if (str(json_at(c, "type")) == reasons::kReady) return str(json_at(c, "status")) == "True";
  return false;
}

int EndpointsController::reconcile() {
  int writes = 0;
  std::set<std::pair<std::string, std::string>> selected;  // services that own their Endpoints
  std::map<std::string, std::vector<store::ObjectRef>> pods_by_ns;
  for (store::ObjectRef& p : store_.items("pods", "")) {
    const Json& meta = json_at(*p, "metadata");
    if (!json_at(meta, "deletionTimestamp").is_null()) continue;
    pods_by_ns[str(json_at(meta, "namespace"))].push_back(std::move(p));
  }
  const std::vector<store::ObjectRef> services = store_.items("services", "");
  for (const store::ObjectRef& svc_ref : services) {
    const Json& svc = *svc_ref;
    const Json& meta = svc["metadata"];
    const std::string ns = str(meta["namespace"]), name = str(meta["name"]);
    const Json& spec = json_at(svc, "spec");
    const Json& selector = json_at(spec, "selector");
    if (!selector.is_object() || selector.empty()) continue;
    selected.insert({ns, name});
    // Pods with the same resolved ports share a subset, as the real controller groups them.
    std::map<std::string, Json> subsets;
    for (const store::ObjectRef& pod_ref : pods_by_ns[ns]) {
      const Json& pod = *pod_ref;
      if (!manifest::labels_match(selector, json_at(pod["metadata"], "labels"))) continue;
      const std::string ip = str(json_at(json_at(pod, "status"), "podIP"));
      if (ip.empty()) continue;
      Json ports = Json::array();
      std::string key;
      bool resolved = true;
      for (const Json& sp : json_at(spec, "ports")) {
        const int port = target_port(sp, pod);
        if (port == 0) resolved = false;
        Json p = {{"port", port}, {"protocol", sp.value("protocol", "TCP")}};
        if (sp.contains("name"))
          p = {{"name", sp["name"]}, {"port", port}, {"protocol", p["protocol"]}};
        key += std::to_string(port) + ",";
        ports.push_back(std::move(p));
      }
      if (!resolved) continue;
      Json address = {{"ip", ip},
                      {"nodeName", "localhost"},
                      {"targetRef",
                       {{"kind", "Pod"},
                        {"namespace", ns},
                        {"name", pod["metadata"]["name"]},
                        {"uid", pod["metadata"]["uid"]}}}};
      Json& subset = subsets[key];
      if (subset.is_null()) subset = {{"ports", ports}};
      subset[pod_ready(pod) ? "addresses" : "notReadyAddresses"].push_back(std::move(address));
    }
    Json list = Json::array();
    for (auto& [key, subset] : subsets) {
      // A stable order keeps an unchanged set from being rewritten.
      for (const char* field : {"addresses", "notReadyAddresses"})
        if (subset.contains(field))
          std::sort(subset[field].begin(), subset[field].end(),
                    [](const Json& a, const Json& b) { return str(a["ip"]) < str(b["ip"]); });
      Json ordered = Json::object();
      for (const char* field : {"addresses", "notReadyAddresses", "ports"})
        if (subset.contains(field)) ordered[field] = subset[field];
      list.push_back(std::move(ordered));
    }
    Json endpoints = {{"apiVersion", "v1"},
                      {"kind", "Endpoints"},
                      {"metadata", {{"name", name}, {"namespace", ns}}}};
    if (meta.contains("labels")) endpoints["metadata"]["labels"] = meta["labels"];
    if (!list.empty()) endpoints["subsets"] = list;
    if (const Json* current = store_.find({"endpoints", ns, name})) {
      if (json_at(*current, "subsets") == json_at(endpoints, "subsets") &&
          json_at(json_at(*current, "metadata"), "labels") ==
              json_at(endpoints["metadata"], "labels"))
        continue;
      if (store_.update("endpoints", std::move(endpoints)).ok()) ++writes;
    } else if (store_.create("endpoints", std::move(endpoints)).ok()) {
      ++writes;
    }
  }
  // Endpoints whose Service (with a selector) is gone.
  std::set<std::pair<std::string, std::string>> names;
  for (const store::ObjectRef& svc : services)
    names.insert({str((*svc)["metadata"]["namespace"]), str((*svc)["metadata"]["name"])});
  for (const store::ObjectRef& ep : store_.items("endpoints", "")) {
    const std::pair key{str((*ep)["metadata"]["namespace"]), str((*ep)["metadata"]["name"])};
    if (names.count(key)) continue;
    if (store_.remove({"endpoints", key.first, key.second}).ok()) ++writes;
  }
  return writes + reconcile_endpoint_slices(store_);
}

}  // namespace ticketctl::controllers
