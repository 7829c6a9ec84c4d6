#pragma once
// The built-in ingress as the control plane runs it: the L7 proxy (runtime/ingress/proxy.h) fed
// with a routing table built from every stored Ingress and the Service endpoints of the
// dataplane, published to the proxy together as one immutable value whenever either changes
// (requests in flight finish on the one they started with), a certificate per Ingress host (a
// kubernetes.io/tls Secret named under `tls:`, else one issued by the state directory's CA), and an
// access log of one JSON line per request. It is also registered as the Service
// ingress-nginx-controller in namespace ingress-nginx, so pods reach it by the name the course's
// code uses. start/stop from the control plane's main thread; update() from the controller thread
// with the store's lock held.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "runtime/daemon/access_log.h"
#include "runtime/daemon/state_dir.h"
#include "runtime/daemon/tap_peers.h"
#include "runtime/ingress/proxy.h"
#include "runtime/ingress/router.h"
#include "runtime/net/dataplane.h"
#include "runtime/project/config.h"
#include "runtime/store/store.h"
#include "runtime/tap/tap.h"

namespace ticketctl::daemon {

struct IngressPorts {
  std::string address;
  int http = -1, https = -1;
};

class IngressService {
 public:
  // `tap` and `peers` (both or neither; they must outlive stop()): every request is also
  // published to the traffic tap while somebody taps, with its source and destination named.
  IngressService(const StateDir& dir, const project::Config& config, net::Dataplane& dataplane,
                 tap::Hub* tap = nullptr, const TapPeers* peers = nullptr);
  ~IngressService();
  // Binds the listeners (ticketctl.yaml `ingress:`, overridden by $TICKETCTL_INGRESS_HTTP and
  // $TICKETCTL_INGRESS_HTTPS) and writes <state>/ingress.json with the bound ports.
  Result<IngressPorts> start();
  // Registers the ingress-nginx-controller Service and its Endpoints; caller holds the lock.
  Result<bool> register_service(store::Store& store);
  // Rebuilds the routing table when Ingresses or TLS Secrets changed. Returns warnings for
  // Ingresses (ignored class, bad regex...), each "namespace/name: message".
  std::vector<std::string> update(const store::Store& store);
  void stop();
  const IngressPorts& ports() const { return ports_; }

 private:
  void publish_routing();  // the current table and endpoints to the proxy; routing_mu_ held
  std::optional<ingress::CertificatePem> certificate(std::string_view host);

  StateDir dir_;
  project::Config config_;
  net::Dataplane& dataplane_;
  std::unique_ptr<ingress::IngressProxy> proxy_;
  std::mutex routing_mu_;
  std::shared_ptr<const ingress::RouteTable> table_;
  std::shared_ptr<const net::ServiceBackends> backends_;
  std::string fingerprint_;
  IngressPorts ports_;
  std::mutex certs_mu_;
  std::map<std::string, ingress::CertificatePem, std::less<>> secret_certs_;  // host -> PEM
  std::map<std::string, ingress::CertificatePem, std::less<>> issued_;
  std::unique_ptr<AccessLog> access_log_;
  tap::Hub* tap_;
  const TapPeers* peers_;
};

// A request of the ingress as the tap shows it: from the client (a pod, when one called the
// ingress) to the pod that answered, through the route's Service. `peers` names the addresses;
// the proxy's own pod name stands in for one it does not know yet.
tap::Exchange tap_exchange(const ingress::AccessLogEntry& e, const TapPeers& peers);

// Reads <state>/ingress.json: where a running control plane's ingress listens.
Result<IngressPorts> read_ingress_ports(const StateDir& dir);

}  // namespace ticketctl::daemon
