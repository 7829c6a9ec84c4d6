#pragma once
// Turns stored Services and Endpoints into the running network: a TCP relay per Service port on
// its ClusterIP (ports below 1024 relay from an unprivileged port, with a `redirect` line so the
// preload library sends connects there), a listener on 127.0.0.1:<nodePort> for NodePort
// Services, the name table pods resolve Service names from and balance ClusterIP connects with
// (each TCP Service port with its ready endpoints), and the Service -> ready endpoints map the
// ingress reads. While a traffic tap is active, tapped Services and pods go through the relay in
// its observing mode instead (TapSelection). plan() reads the store (the caller holds its lock); apply() acts
// without it. apply() and backends() may be called from any thread; apply() calls are
// serialised by the caller (the controller loop).

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/net/backend.h"
#include "runtime/net/net_table.h"
#include "runtime/net/service_proxy.h"
#include "runtime/store/store.h"

namespace ticketctl::net {

// "ns/service/port" -> ready endpoints; the port both as number and as name.
using ServiceBackends = std::map<std::string, Backends, std::less<>>;

// A Service port that is not served: the Service ("ns/name", empty for the name table) and why.
struct PortProblem {
  std::string service;
  std::string message;
  bool operator<(const PortProblem& o) const {
    return std::tie(service, message) < std::tie(o.service, o.message);
  }
};

// What the traffic tap follows, as the data plane needs it (the daemon resolves tap targets):
// Services "ns/name" whose traffic goes through the observing relay, and pods "ns/name" whose
// own connects do (and whose Services, when they serve one, are tapped too). `all`: every
// Service and every pod.
struct TapSelection {
  bool all = false;
  std::set<std::string> services;
  std::set<std::string> pods;
  bool empty() const { return !all && services.empty() && pods.empty(); }
};

struct DataplanePlan {
  struct Listener {
    std::string key;
    std::string service;  // "ns/name", whose port this is
    std::string ip;
    uint16_t port = 0;        // the Service's port (or nodePort)
    bool privileged = false;  // below 1024: bind an ephemeral port and redirect
    Backends backends;
    Affinity affinity = Affinity::None;
    bool observe = false;  // the tap: parse and report what it relays
  };
  std::vector<Listener> listeners;
  std::vector<ServiceEntry> names;
  std::vector<BalancedPort> balanced;  // ClusterIP ports the preload library balances itself
  std::vector<std::string> tapped;     // pod IPs whose connects all go through the relay
  ServiceBackends backends;
  std::vector<std::string> warnings;  // "default/x: UDP port 53 is not served"
  std::vector<PortProblem> refused;   // ports the plan itself does not serve
};

class Dataplane {
 public:
  Dataplane(ServiceProxy& proxy, std::filesystem::path table_file)
      : proxy_(proxy), table_file_(std::move(table_file)) {}
  // `foreign_node_ports`: nodePorts other control planes hold (port -> their state directory);
  // a Service's claim on one of those gets no listener, so it can never reach the other app.
  // `taps`: a tapped Service's ClusterIP ports are left out of the preload's balancing (its
  // clients' connects reach the relay) and its listeners observe; a tapped pod's IP gets a
  // `tapped` line, and while there is one every Service listener observes (the pod's connects
  // reach any Service's relay). With no tap the plan is exactly the untapped one.
  static DataplanePlan plan(const store::Store& store,
                            const std::map<int, std::string>& foreign_node_ports = {},
                            const TapSelection& taps = {});
  // Returns problems to report: Service ports that are not served (held elsewhere, or the
  // listener could not bind: the port is some other program's), the table not writable.
  std::vector<PortProblem> apply(const DataplanePlan& plan);
  std::shared_ptr<const ServiceBackends> backends() const { return std::atomic_load(&backends_); }
  // Called by apply() with each new endpoint map, on apply()'s thread (the ingress republishes
  // its routing from it, so its I/O threads never read backends() per request). Set before
  // the first apply().
  void on_backends(std::function<void(std::shared_ptr<const ServiceBackends>)> observer) {
    backends_observer_ = std::move(observer);
  }

 private:
  ServiceProxy& proxy_;
  std::filesystem::path table_file_;
  std::string last_table_;
  std::shared_ptr<const ServiceBackends> backends_ = std::make_shared<ServiceBackends>();
  std::function<void(std::shared_ptr<const ServiceBackends>)> backends_observer_;
};

std::string backends_key(std::string_view ns, std::string_view service, std::string_view port);

}  // namespace ticketctl::net
