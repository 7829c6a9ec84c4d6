#include "runtime/net/allocator.h"

#include <arpa/inet.h>

#include <fmt/format.h>

#include <map>
#include <optional>
#include <set>

namespace ticketctl::net {
namespace {

Error invalid(const std::string& name, const std::string& field, const std::string& message) {
  return Error{ErrorCode::Invalid,
               fmt::format("Service {:?} is invalid: {}: {}", name, field, message)};
}

bool wants_node_ports(const Json& spec) {
  const std::string type = spec.value("type", "ClusterIP");
  return type == "NodePort" || type == "LoadBalancer";
}

}  // namespace

std::string ipv4_string(uint32_t ip) {
  return fmt::format("{}.{}.{}.{}", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

uint32_t parse_ipv4(const std::string& text) {
  in_addr a{};
  if (::inet_pton(AF_INET, text.c_str(), &a) != 1) return 0;
  return ntohl(a.s_addr);
}

Result<bool> admit_service(store::Store& store, const ServiceRange& range, Json& service,
                           const Json* old) {
  Json& spec = service["spec"];
  if (!spec.is_object()) spec = Json::object();
  const std::string name = json_at(service["metadata"], "name").get<std::string>();
  const std::string ns = json_at(service["metadata"], "namespace").is_string()
                             ? service["metadata"]["namespace"].get<std::string>()
                             : std::string("default");
  if (spec.value("type", "ClusterIP") == "ExternalName") return true;
  const Json* old_spec = old ? &json_at(*old, "spec") : nullptr;

  std::set<uint32_t> used_ips;
  std::set<int> used_ports;
  for (const store::ObjectRef& ref : store.items("services", "")) {
    const Json& other = *ref;
    const Json& m = json_at(other, "metadata");
    if (m.value("name", "") == name && m.value("namespace", "") == ns) continue;
    const Json& s = json_at(other, "spec");
    if (const uint32_t ip = parse_ipv4(s.value("clusterIP", ""))) used_ips.insert(ip);
    for (const Json& p : json_at(s, "ports"))
      if (json_at(p, "nodePort").is_number_integer()) used_ports.insert(p["nodePort"].get<int>());
  }

  // ClusterIP: kept from the stored object, else the manifest's, else the lowest free address.
  std::string ip = spec.value("clusterIP", "");
  const std::string old_ip = old_spec ? old_spec->value("clusterIP", "") : "";
  if (ip.empty() && !old_ip.empty()) ip = old_ip;
  if (!old_ip.empty() && ip != old_ip)
    return invalid(name, "spec.clusterIP",
                   fmt::format("Invalid value: {:?}: field is immutable", ip));
  if (ip != "None") {
    const uint32_t size = 1u << (32 - range.prefix);
    if (ip.empty()) {
      if (range.taken_on_host) used_ips.merge(range.taken_on_host());
      for (uint32_t i = 0; i < size && ip.empty(); ++i) {
        const uint32_t offset = (range.first_offset + i) % size;
        if (offset == 0 || offset + 1 == size) continue;
        if (!used_ips.count(range.base + offset)) ip = ipv4_string(range.base + offset);
      }
      if (ip.empty())
        return Error{ErrorCode::Internal,
                     fmt::format("Service {:?}: no free ClusterIP left in {}/{}", name,
                                 ipv4_string(range.base), range.prefix)};
    } else {
      const uint32_t wanted = parse_ipv4(ip);
      if (wanted == 0 || (wanted & ~(size - 1)) != range.base)
        return invalid(
            name, "spec.clusterIPs",
            fmt::format("Invalid value: [\"{}\"]: failed to allocate IP {}: the provided "
                        "IP ({}) is not in the valid range. The range of valid IPs is "
                        "{}/{}",
                        ip, ip, ip, ipv4_string(range.base), range.prefix));
      if (used_ips.count(wanted) && ip != old_ip)
        return invalid(name, "spec.clusterIPs",
                       fmt::format("Invalid value: [\"{}\"]: failed to allocate IP {}: provided IP "
                                   "is already allocated",
                                   ip, ip));
    }
  }
  spec["clusterIP"] = ip;
  spec["clusterIPs"] = Json::array({ip});
  if (!spec.contains("type")) spec["type"] = "ClusterIP";

  // nodePorts, per port: the stored one for the same port, else the manifest's, else free.
  Json& ports = spec["ports"];
  if (!ports.is_array()) ports = Json::array();
  // Read once per admission, and only for Services that have nodePorts.
  std::optional<std::map<int, std::string>> held_elsewhere;
  std::optional<std::set<int>> listening;
  const std::string service_key = ns + "/" + name;
  for (size_t i = 0; i < ports.size(); ++i) {
    Json& p = ports[i];
    if (!wants_node_ports(spec)) {
      p.erase("nodePort");
      continue;
    }
    if (!held_elsewhere) {
      held_elsewhere.emplace();
      if (range.node_ports) {
        Result<std::map<int, std::string>> held = range.node_ports->held_by_others();
        if (!held.ok()) return held.error();
        *held_elsewhere = std::move(held.value());
      }
    }
    const int requested = json_at(p, "nodePort").is_number_integer() ? p["nodePort"].get<int>() : 0;
    int old_port = 0;
    if (old_spec)
      for (const Json& q : json_at(*old_spec, "ports"))
        if (json_at(q, "port") == json_at(p, "port") &&
            q.value("protocol", "TCP") == p.value("protocol", "TCP") &&
            json_at(q, "nodePort").is_number_integer())
          old_port = q["nodePort"].get<int>();
    int node_port = requested != 0 ? requested : old_port;
    const std::string field = fmt::format("spec.ports[{}].nodePort", i);
    if (node_port != 0) {
      if (node_port < kNodePortMin || node_port > kNodePortMax)
        return invalid(name, field,
                       fmt::format("Invalid value: {}: provided port is not in the valid range. "
                                   "The range of valid ports is {}-{}",
                                   node_port, kNodePortMin, kNodePortMax));
      if (used_ports.count(node_port) && node_port != old_port)
        return invalid(
            name, field,
            fmt::format("Invalid value: {}: provided port is already allocated", node_port));
      if (auto other = held_elsewhere->find(node_port); other != held_elsewhere->end()) {
        if (requested != 0)
          return invalid(name, field,
                         fmt::format("Invalid value: {}: provided port is already allocated by "
                                     "another ticketctl project (state directory {})",
                                     node_port, other->second));
        // Kept from before, and another project took it while this one was down.
        node_port = 0;
      }
    }
    if (node_port != 0 && range.node_ports) {
      if (Result<bool> c = range.node_ports->claim(node_port, service_key); !c.ok())
        return invalid(name, field,
                       fmt::format("Invalid value: {}: {}", node_port, c.error().message));
    }
    if (node_port == 0) {
      if (!listening) listening = range.ports_listening ? range.ports_listening() : std::set<int>();
      // Spread allocations like the API server does, deterministically from the name.
      const int span = kNodePortMax - kNodePortMin + 1;
      const int start = static_cast<int>(std::hash<std::string>{}(service_key) % span);
      for (int k = 0; k < span && node_port == 0; ++k) {
        const int candidate = kNodePortMin + (start + k) % span;
        if (used_ports.count(candidate) || held_elsewhere->count(candidate) ||
            listening->count(candidate))
          continue;
        // Another control plane may claim between reading the registry and now: next one.
        if (range.node_ports && !range.node_ports->claim(candidate, service_key).ok()) continue;
        node_port = candidate;
      }
      if (node_port == 0) return Error{ErrorCode::Internal, "no free nodePort left in 30000-32767"};
    }
    used_ports.insert(node_port);
    p["nodePort"] = node_port;
  }
  return true;
}

}  // namespace ticketctl::net
