#include "runtime/net/dataplane.h"

#include <fmt/format.h>

#include <set>

#include "runtime/core/files.h"

namespace ticketctl::net {
namespace {
}  // namespace

std::string backends_key(std::string_view ns, std::string_view service, std::string_view port) {
  return fmt::format("{}/{}/{}", ns, service, port);
}

DataplanePlan Dataplane::plan(const store::Store& store,
                              const std::map<int, std::string>& foreign_node_ports,
                              const TapSelection& taps) {
  static const Json kNone;
  DataplanePlan plan;
  if (!taps.empty()) {
    for (const store::ObjectRef& pod : store.items("pods", "")) {
      const Json& meta = json_at(*pod, "metadata");
      const std::string ip = str(json_at(json_at(*pod, "status"), "podIP"));
      if (ip.empty()) continue;
      if (taps.all ||
          taps.pods.count(str(json_at(meta, "namespace")) + "/" + str(json_at(meta, "name"))))
        plan.tapped.push_back(ip);
    }
  }
  // A tapped pod may connect to any Service: every listener observes while one is tapped.
  const bool observe_all = taps.all || !plan.tapped.empty();
  for (const store::ObjectRef& ref : store.items("services", "")) {
    const Json& svc = *ref;
    const std::string ns = str(svc["metadata"]["namespace"]), name = str(svc["metadata"]["name"]);
    const Json& spec = json_at(svc, "spec");
    const std::string ip = str(json_at(spec, "clusterIP"));
    const Json* found = store.find({"endpoints", ns, name});
    const Json& ep = found ? *found : kNone;
    const Affinity affinity =
        str(json_at(spec, "sessionAffinity")) == "ClientIP" ? Affinity::ClientIP : Affinity::None;
    ServiceEntry entry{name, ns, {}};
    if (ip == "None") {
      std::set<std::string> ready;
      for (const Json& subset : json_at(ep, "subsets"))
        for (const Json& a : json_at(subset, "addresses")) ready.insert(str(a["ip"]));
      entry.ips.assign(ready.begin(), ready.end());
      plan.names.push_back(std::move(entry));
      continue;
    }
    if (ip.empty()) continue;
    entry.ips.push_back(ip);
    plan.names.push_back(std::move(entry));
    const std::string service = ns + "/" + name;
    bool tapped = taps.all || taps.services.count(service) > 0;
    // A Service is tapped when it serves a tapped pod: what reaches the pod is what the tap of
    // its Deployment (or the pod) follows.
    for (const Json& subset : json_at(ep, "subsets")) {
      for (const Json& a : json_at(subset, "addresses")) {
        if (tapped || taps.pods.empty()) break;
        const Json& ref = json_at(a, "targetRef");
        if (!ref.is_null() && taps.pods.count(ns + "/" + str(json_at(ref, "name")))) tapped = true;
      }
    }
    const Json& ports = json_at(spec, "ports");
    for (const Json& sp : ports) {
      const int port = json_at(sp, "port").is_number_integer() ? sp["port"].get<int>() : 0;
      if (port <= 0) continue;
      if (sp.value("protocol", "TCP") != "TCP") {
        plan.warnings.push_back(fmt::format("{}/{}: {} port {} is not served (TCP only)", ns, name,
                                            sp.value("protocol", ""), port));
        continue;
      }
      const std::string port_name = str(json_at(sp, "name"));
      Backends backends;
      for (const Json& subset : json_at(ep, "subsets")) {
        int target = 0;
        const Json& eports = json_at(subset, "ports");
        for (const Json& p : eports)
          if (str(json_at(p, "name")) == port_name || (eports.size() == 1 && ports.size() == 1))
            target = json_at(p, "port").get<int>();
        if (target <= 0) continue;
        for (const Json& a : json_at(subset, "addresses")) {
          const Json& ref = json_at(a, "targetRef");
          backends.push_back({str(a["ip"]), static_cast<uint16_t>(target),
                              ref.is_null() ? std::string() : ns + "/" + str(ref["name"])});
        }
      }
      plan.backends[backends_key(ns, name, std::to_string(port))] = backends;
      if (!port_name.empty()) plan.backends[backends_key(ns, name, port_name)] = backends;
      // Left out while tapped, so pods' connects reach the relay (the ClusterIP, or the
      // `redirect` of a privileged port).
      if (!tapped) {
        BalancedPort balanced{ip, static_cast<uint16_t>(port), affinity == Affinity::ClientIP,
                              {}};
        for (const Backend& b : backends) balanced.endpoints.push_back({b.ip, b.port});
        plan.balanced.push_back(std::move(balanced));
      }
      const bool observe = tapped || observe_all;
      plan.listeners.push_back({fmt::format("svc/{}/{}/{}", ns, name, port), service, ip,
                                static_cast<uint16_t>(port), port < 1024, backends, affinity,
                                observe});
      if (!json_at(sp, "nodePort").is_number_integer()) continue;
      const int node_port = sp["nodePort"].get<int>();
      if (auto other = foreign_node_ports.find(node_port); other != foreign_node_ports.end()) {
        plan.refused.push_back(
            {service, fmt::format("nodePort {} is not served: another ticketctl project holds "
                                  "it (state directory {}); delete the Service's nodePort or "
                                  "choose a free one",
                                  node_port, other->second)});
        continue;
      }
      plan.listeners.push_back({fmt::format("nodeport/{}", node_port), service, "127.0.0.1",
                                static_cast<uint16_t>(node_port), false, backends, affinity,
                                observe});
    }
  }
  return plan;
}

std::vector<PortProblem> Dataplane::apply(const DataplanePlan& plan) {
  std::vector<PortProblem> problems = plan.refused;
  std::vector<Redirect> redirects;
  std::set<std::string> keys;
  for (const DataplanePlan::Listener& l : plan.listeners) {
    keys.insert(l.key);
    Result<uint16_t> bound =
        proxy_.listen(l.key, {l.ip, l.privileged ? uint16_t{0} : l.port}, l.backends, l.affinity,
                      {l.observe, l.observe ? l.service : std::string()});
    if (!bound.ok()) {
      problems.push_back({l.service, fmt::format("cannot listen on {}:{}: {}", l.ip, l.port,
                                                 bound.error().message)});
      continue;
    }
    if (l.privileged) redirects.push_back({l.ip, l.port, l.ip, bound.value()});
  }
  for (const std::string& key : proxy_.keys())
    if (!keys.count(key)) proxy_.close(key);
  auto backends = std::make_shared<const ServiceBackends>(plan.backends);
  std::atomic_store(&backends_, backends);
  if (backends_observer_) backends_observer_(std::move(backends));
  const std::string table = format_net_table(plan.names, redirects, plan.balanced, plan.tapped);
  if (table != last_table_) {
    Result<bool> w = make_private_dirs(table_file_.parent_path());
    if (w.ok()) w = write_private_file(table_file_, table);
    if (!w.ok())
      problems.push_back({"", w.error().message});
    else
      last_table_ = table;
  }
  return problems;
}

}  // namespace ticketctl::net
