#include "runtime/daemon/controller_loop.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "runtime/daemon/tap_relay.h"
#include "runtime/events/events.h"

namespace ticketctl::daemon {
namespace {

// The nodePorts the stored Services use: port -> "ns/name".
std::map<int, std::string> stored_node_ports(const store::Store& store) {
  std::map<int, std::string> out;
  for (const store::ObjectRef& svc : store.items("services", "")) {
    const Json& meta = json_at(*svc, "metadata");
    for (const Json& p : json_at(json_at(*svc, "spec"), "ports"))
      if (json_at(p, "nodePort").is_number_integer())
        out[p["nodePort"].get<int>()] =
            fmt::format("{}/{}", meta.value("namespace", ""), meta.value("name", ""));
  }
  return out;
}

}  // namespace

ControllerLoop::ControllerLoop(store::Shared& store, net::Dataplane& dataplane,
                               IngressService& ingress, net::NodePortRegistry* node_ports,
                               std::function<void()> after_write)
    : ingress_(ingress),
      store_(store),
      deployments_(*store.lock()),
      endpoints_(*store.lock()),
      dataplane_(dataplane),
      node_ports_(node_ports),
      after_write_(std::move(after_write)) {}

void ControllerLoop::start() {
  converge();
  thread_ = std::thread([this] { run(); });
}

void ControllerLoop::wake() {
  {
    std::lock_guard<std::mutex> l(mu_);
    dirty_ = true;
  }
  cv_.notify_one();
}

void ControllerLoop::wake_network() {
  {
    std::lock_guard<std::mutex> l(mu_);
    network_dirty_ = true;
  }
  cv_.notify_one();
}

void ControllerLoop::stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

net::DataplanePlan ControllerLoop::plan_network(store::Store& store) {
  if (node_ports_) {
    std::map<int, std::string> ports = stored_node_ports(store);
    // Also while another project holds one of them: it may have let go since.
    if (ports != synced_ports_ || !foreign_ports_.empty()) {
      Result<std::map<int, std::string>> foreign = node_ports_->sync(ports);
      if (foreign.ok()) {
        synced_ports_ = std::move(ports);
        foreign_ports_ = std::move(foreign.value());
      } else {
        repeated_.write(oplog::Level::Error, "node-ports", foreign.error().message);
      }
    }
  }
  net::TapSelection taps;
  if (tap_hub_ && tap_peers_) {
    if (std::vector<tap::Target> targets = tap_hub_->targets(); !targets.empty()) {
      tap_peers_->rebuild(store);
      taps = tap_selection(targets, store, *tap_peers_);
    }
  }
  net::DataplanePlan plan = net::Dataplane::plan(store, foreign_ports_, taps);
  // Routing problems belong to their Ingress, as ingress-nginx reports them: Warning events.
  for (std::string& w : ingress_.update(store)) {
    const size_t slash = w.find('/'), colon = w.find(": ");
    const Json* ing = nullptr;
    if (slash != std::string::npos && colon != std::string::npos && slash < colon)
      ing = store.find({"ingresses.networking.k8s.io", w.substr(0, slash),
                        w.substr(slash + 1, colon - slash - 1)});
    if (ing)
      events::record_event(store, Json(*ing), "Warning", "Sync", w.substr(colon + 2),
                           "ingress-controller");
    plan.warnings.push_back(std::move(w));
  }
  return plan;
}

void ControllerLoop::converge() {
  int writes = 0;
  // Each pass holds the store's lock on its own, so API requests go between passes of a long
  // round (an apply of 1,000 objects waited on rounds of several passes), and is one
  // transaction: its writes are savepoints of one commit, not a commit each.
  for (int pass = 0; pass < 10; ++pass) {
    store::Shared::Locked s = store_.lock();
    store::Store::Transaction tx = s->transaction();
    int n = cluster_objects_ ? cluster_objects_->restore(*s) : 0;
    n += deployments_.reconcile() + endpoints_.reconcile();
    // (Without a transaction, each write was committed on its own.)
    if (Result<bool> c = tx.began() ? tx.commit() : Result<bool>(true); !c.ok()) {
      repeated_.write(oplog::Level::Error, "controllers", c.error().message);
      break;
    }
    writes += n;
    if (n == 0) break;
  }
  apply_network();
  if (writes > 0 && after_write_) after_write_();
}

void ControllerLoop::apply_network() {
  const net::DataplanePlan plan = plan_network(*store_.lock());
  // Listeners and the name table change outside the lock; problems become Warning events.
  const std::vector<net::PortProblem> problems = dataplane_.apply(plan);
  for (const std::string& w : plan.warnings) repeated_.write(oplog::Level::Warn, "dataplane", w);
  report_port_problems(problems);
}

// A Service port that is not served is said once, on stderr and as a Warning event on the
// Service, until it is served again (so a recurrence is said again).
void ControllerLoop::report_port_problems(const std::vector<net::PortProblem>& problems) {
  std::set<net::PortProblem> now(problems.begin(), problems.end());
  std::vector<net::PortProblem> fresh;
  for (const net::PortProblem& p : now)
    if (!port_problems_.count(p)) fresh.push_back(p);
  port_problems_ = std::move(now);
  if (fresh.empty()) return;
  store::Shared::Locked s = store_.lock();
  for (const net::PortProblem& p : fresh) {
    const std::string line =
        p.service.empty() ? p.message : "service " + p.service + ": " + p.message;
    oplog::warn("dataplane", "{}", line);
    const size_t slash = p.service.find('/');
    if (slash == std::string::npos) continue;
    if (const Json* svc =
            s->find({"services", p.service.substr(0, slash), p.service.substr(slash + 1)}))
      events::record_event(*s, Json(*svc), "Warning", "PortUnavailable", p.message,
                           "service-proxy");
  }
}

void ControllerLoop::run() {
  // Rounds are passes over every object: during a burst of writes (an apply of 1,000 objects,
  // the kubelet starting their pods) one round per write made the burst quadratic. A round
  // starts at most every kMinRound; the writes meanwhile are all seen by it.
  constexpr auto kMinRound = std::chrono::milliseconds(100);
  auto last_round = std::chrono::steady_clock::now();
  while (true) {
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait_for(l,
                   std::min<std::chrono::milliseconds>(std::chrono::seconds(5),
                                                       deployments_.requeue_after()),
                   [this] { return dirty_ || network_dirty_ || stopping_; });
      if (stopping_) return;
      if (network_dirty_ && !dirty_) {
        // A tap started or ended: only the network changes, and at once.
        network_dirty_ = false;
        l.unlock();
        apply_network();
        continue;
      }
      cv_.wait_until(l, last_round + kMinRound, [this] { return stopping_; });
      if (stopping_) return;
      dirty_ = false;
      network_dirty_ = false;
    }
    last_round = std::chrono::steady_clock::now();
    converge();
  }
}

}  // namespace ticketctl::daemon
