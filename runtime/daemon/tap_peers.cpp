#include "runtime/daemon/tap_peers.h"

#include "runtime/manifest/json.h"

namespace ticketctl::daemon {

namespace {

// The name of the owner of `kind` in `object`'s ownerReferences, or "".
std::string owner_named(const Json& object, std::string_view kind) {
  const Json& refs = json_at(json_at(object, "metadata"), "ownerReferences");
  if (!refs.is_array()) return "";
  for (const Json& ref : refs) {
    if (str(json_at(ref, "kind")) == kind) return str(json_at(ref, "name"));
  }
  return "";
}

}  // namespace

void TapPeers::rebuild(const store::Store& store) {
  auto next = std::make_shared<Snapshot>();
  // ReplicaSet "ns/name" → its Deployment's name.
  std::unordered_map<std::string, std::string> deployment_of_rs;
  for (const store::ObjectRef& rs : store.items("replicasets.apps", "")) {
    const Json& meta = json_at(*rs, "metadata");
    const std::string deploy = owner_named(*rs, "Deployment");
    if (!deploy.empty()) {
      deployment_of_rs[str(json_at(meta, "namespace")) + "/" + str(json_at(meta, "name"))] = deploy;
    }
  }
  for (const store::ObjectRef& pod : store.items("pods", "")) {
    const Json& meta = json_at(*pod, "metadata");
    const std::string ns = str(json_at(meta, "namespace"));
    const std::string name = ns + "/" + str(json_at(meta, "name"));
    std::string workload;
    const std::string rs = owner_named(*pod, "ReplicaSet");
    if (!rs.empty()) {
      const auto it = deployment_of_rs.find(ns + "/" + rs);
      if (it != deployment_of_rs.end()) workload = ns + "/" + it->second;
    }
    next->workload_by_pod[name] = workload;
    const std::string ip = str(json_at(json_at(*pod, "status"), "podIP"));
    if (!ip.empty()) next->by_ip[ip] = Entry{name, workload};
  }
  std::lock_guard lock(mu_);
  current_ = std::move(next);
}

std::shared_ptr<const TapPeers::Snapshot> TapPeers::snapshot() const {
  std::lock_guard lock(mu_);
  return current_;
}

tap::Peer TapPeers::at(const std::string& ip, uint16_t port) const {
  tap::Peer peer;
  peer.ip = ip;
  peer.port = port;
  const auto snap = snapshot();
  const auto it = snap->by_ip.find(ip);
  if (it != snap->by_ip.end()) {
    peer.pod = it->second.pod;
    peer.workload = it->second.workload;
  }
  return peer;
}

std::string TapPeers::workload_of(const std::string& pod) const {
  const auto snap = snapshot();
  const auto it = snap->workload_by_pod.find(pod);
  return it == snap->workload_by_pod.end() ? std::string() : it->second;
}

}  // namespace ticketctl::daemon
