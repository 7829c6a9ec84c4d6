#include "runtime/daemon/tap_relay.h"

#include "runtime/manifest/json.h"

namespace ticketctl::daemon {

net::TapSelection tap_selection(const std::vector<tap::Target>& targets,
                                const store::Store& store, const TapPeers& peers) {
  net::TapSelection sel;
  std::vector<std::string> deployments;
  for (const tap::Target& t : targets) {
    switch (t.kind) {
      case tap::Target::Kind::All: sel.all = true; break;
      case tap::Target::Kind::Ingress: break;  // the ingress publishes its own requests
      case tap::Target::Kind::Service: sel.services.insert(t.ns + "/" + t.name); break;
      case tap::Target::Kind::Pod: sel.pods.insert(t.ns + "/" + t.name); break;
      case tap::Target::Kind::Deployment: deployments.push_back(t.ns + "/" + t.name); break;
    }
  }
  if (deployments.empty() || sel.all) return sel;
  for (const store::ObjectRef& pod : store.items("pods", "")) {
    const Json& meta = json_at(*pod, "metadata");
    const std::string name = str(json_at(meta, "namespace")) + "/" + str(json_at(meta, "name"));
    const std::string workload = peers.workload_of(name);
    if (workload.empty()) continue;
    for (const std::string& d : deployments)
      if (d == workload) sel.pods.insert(name);
  }
  return sel;
}

tap::Exchange relay_exchange(net::ObservedExchange&& seen, const TapPeers& peers) {
  tap::Exchange e;
  e.time = seen.time;
  e.via = tap::Exchange::Via::Relay;
  e.http = seen.http;
  e.source = peers.at(seen.client_ip, seen.client_port);
  e.destination = peers.at(seen.backend_ip, seen.backend_port);
  e.destination.service = std::move(seen.tag);
  e.method = std::move(seen.method);
  e.host = std::move(seen.host);
  e.path = std::move(seen.path);
  e.status = seen.status;
  e.latency_ms = seen.latency_ms;
  e.request_bytes = seen.request_bytes;
  e.response_bytes = seen.response_bytes;
  e.request_headers = std::move(seen.request_headers);
  e.response_headers = std::move(seen.response_headers);
  e.request_body = std::move(seen.request_body);
  e.response_body = std::move(seen.response_body);
  return e;
}

net::ExchangeObserver relay_publisher(tap::Hub& hub, const TapPeers& peers) {
  net::ExchangeObserver o;
  o.report = [&hub, &peers](net::ObservedExchange&& seen) {
    // The last tap may have ended while this connection was still observed.
    if (!hub.active()) return;
    hub.publish(relay_exchange(std::move(seen), peers));
  };
  o.want_bodies = [&hub] { return hub.wants_bodies(); };
  o.body_limit = tap::kBodyLimit;
  return o;
}

}  // namespace ticketctl::daemon
