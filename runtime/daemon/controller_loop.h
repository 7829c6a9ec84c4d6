#pragma once
// The controller loop: the deployment and endpoints controllers, the built-in cluster objects and
// the network (dataplane and ingress) brought in line with the store, on a thread of their own,
// after every API write and every few seconds as a level-based safety net.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "runtime/controllers/deployment.h"
#include "runtime/controllers/endpoints.h"
#include "runtime/core/oplog.h"
#include "runtime/daemon/cluster_objects.h"
#include "runtime/daemon/ingress.h"
#include "runtime/daemon/tap_peers.h"
#include "runtime/net/dataplane.h"
#include "runtime/net/node_ports.h"
#include "runtime/store/shared.h"
#include "runtime/tap/tap.h"

namespace ticketctl::daemon {

// Each round repeats until a pass writes nothing.
class ControllerLoop {
 public:
  ControllerLoop(store::Shared& store, net::Dataplane& dataplane, IngressService& ingress,
                 net::NodePortRegistry* node_ports, std::function<void()> after_write);
  ~ControllerLoop() { stop(); }
  ControllerLoop(const ControllerLoop&) = delete;
  ControllerLoop& operator=(const ControllerLoop&) = delete;

  // Converges once on the calling thread, then keeps converging in the background.
  void start();
  void wake();
  // Re-plans only the network (no controller passes), at once rather than after the 100 ms
  // between rounds: a tap that starts or ends must reach new connects within 100 ms. Cheap
  // enough for the tap hub's on_targets_changed, which runs on the subscriber's thread.
  void wake_network();
  // Before start(): while `hub` has subscriptions, plan_network routes their targets through
  // the observing relay, and keeps `peers` current (rebuilt each time, under the lock).
  void follow_taps(tap::Hub* hub, TapPeers* peers) {
    tap_hub_ = hub;
    tap_peers_ = peers;
  }
  // Before start(): each round puts back the cluster's built-in objects when deleted.
  void keep(ClusterObjects* objects) { cluster_objects_ = objects; }
  void stop();

  // With the store's lock held (`store` is the holder's): the network as the store describes
  // it. The nodePort registry follows the stored Services first, so ports of deleted Services
  // are free for other projects and ports other projects hold are left out of the plan.
  net::DataplanePlan plan_network(store::Store& store);

 private:
  void converge();
  void apply_network();
  void report_port_problems(const std::vector<net::PortProblem>& problems);
  void run();

  IngressService& ingress_;
  ClusterObjects* cluster_objects_ = nullptr;
  store::Shared& store_;
  // Both keep the store they were made with and are called only in converge()'s holding of the
  // lock.
  controllers::DeploymentController deployments_;
  controllers::EndpointsController endpoints_;
  net::Dataplane& dataplane_;
  net::NodePortRegistry* node_ports_;
  std::map<int, std::string> synced_ports_, foreign_ports_;
  std::function<void()> after_write_;
  // The dataplane's warnings recur every round while their cause lasts: said at once, then at
  // most once a minute with how many were held back.
  oplog::RateLimited repeated_;
  std::set<net::PortProblem> port_problems_;  // controller thread only
  tap::Hub* tap_hub_ = nullptr;
  TapPeers* tap_peers_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  bool dirty_ = false, network_dirty_ = false, stopping_ = false;
  std::thread thread_;
};

}  // namespace ticketctl::daemon
