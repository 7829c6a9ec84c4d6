// The rows of kubectl's `get` tables, one function per kind, filled as the API server's
// printers (pkg/printers/internalversion) fill them; printers.cpp holds the columns and layout.
#include "runtime/api/printer_rows.h"

#include "runtime/api/printers.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "runtime/core/rfc3339.h"
#include "runtime/core/strings.h"
#include "runtime/manifest/label_selector.h"

namespace ticketctl::api {

namespace rows {

// ---- Reading objects. A missing or mistyped field reads as Go's zero value, which is what the
// API server's printers see after decoding.

constexpr auto at = &json_at;

const Json& dig(const Json& v, std::initializer_list<std::string_view> path) {
  const Json* cur = &v;
  for (std::string_view key : path) cur = &at(*cur, key);
  return *cur;
}

const Json& array(const Json& v) {
  static const Json kEmpty = Json::array();
  return v.is_array() ? v : kEmpty;
}

int64_t integer(const Json& v) {
  return v.is_number_integer() ? v.get<int64_t>() : 0;
}

bool flag(const Json& v) {
  return v.is_boolean() && v.get<bool>();
}

size_t key_count(const Json& v) {
  return v.is_object() ? v.size() : 0;
}

std::string name_of(const Json& object) {
  return str(dig(object, {"metadata", "name"}));
}

std::vector<std::string> strings(const Json& v) {
  std::vector<std::string> out;
  for (const Json& s : array(v)) out.push_back(str(s));
  return out;
}

// ---- Time, kept as Go's time.Time keeps it (rfc3339::Time): every year RFC 3339 can spell.

using Timestamp = rfc3339::Time;

std::optional<Timestamp> timestamp(const Json& v) {
  if (!v.is_string()) return std::nullopt;
  std::optional<Timestamp> t = rfc3339::parse(v.get_ref<const std::string&>());
  if (t && *t == rfc3339::kGoZeroTime) return std::nullopt;
  return t;
}

std::optional<Timestamp> created(const Json& object) {
  return timestamp(dig(object, {"metadata", "creationTimestamp"}));
}

// time.Since(t) in whole seconds as HumanDuration sees it: truncated toward zero, and saturated
// where Go's time.Duration (int64 nanoseconds, about 292 years) saturates.
std::chrono::seconds elapsed(const Timestamp& t, TimePoint now) {
  using std::chrono::duration_cast;
  const auto since_epoch = now.time_since_epoch();
  const auto whole = std::chrono::floor<std::chrono::seconds>(since_epoch);
  int64_t s = whole.count() - t.seconds;
  const int64_t ns = duration_cast<std::chrono::nanoseconds>(since_epoch - whole).count() - t.nanos;
  if (s > 0 && ns < 0) --s;
  if (s < 0 && ns > 0) ++s;
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max() / 1'000'000'000;
  return std::chrono::seconds{std::clamp(s, -kMax, kMax)};
}

// translateTimestampSince.
std::string since(const std::optional<Timestamp>& t, TimePoint now) {
  return t ? human_duration(elapsed(*t, now)) : "<unknown>";
}

// ---- Shared cell formats.

// labels.FormatLabels: "k=v" sorted by key, "<none>" when empty.
std::string format_labels(const Json& map) {
  std::map<std::string, std::string> sorted;
  if (map.is_object())
    for (const auto& [k, v] : map.items()) sorted[k] = str(v);
  std::vector<std::string> parts;
  for (const auto& [k, v] : sorted) parts.push_back(fmt::format("{}={}", k, v));
  return parts.empty() ? "<none>" : join(parts, ",");
}

// layoutContainerCells: container names and images of a pod spec, comma-joined.
std::pair<std::string, std::string> container_cells(const Json& pod_spec) {
  std::vector<std::string> names, images;
  for (const Json& c : array(at(pod_spec, "containers"))) {
    names.push_back(str(at(c, "name")));
    images.push_back(str(at(c, "image")));
  }
  return {join(names, ","), join(images, ",")};
}

// loadBalancerStatusStringer: each ingress point's IP, else its hostname, sorted and deduplicated.
// The server always prints wide, so kubectl never sees this clipped to 16 characters.
std::string load_balancer(const Json& object) {
  std::set<std::string> points;
  for (const Json& ingress : array(dig(object, {"status", "loadBalancer", "ingress"}))) {
    const std::string ip = str(at(ingress, "ip")), host = str(at(ingress, "hostname"));
    if (!ip.empty())
      points.insert(ip);
    else if (!host.empty())
      points.insert(host);
  }
  return join(std::vector<std::string>(points.begin(), points.end()), ",");
}

// net.JoinHostPort: IPv6 addresses in brackets.
std::string host_port(const std::string& host, int64_t port) {
  return host.find(':') == std::string::npos ? fmt::format("{}:{}", host, port)
                                             : fmt::format("[{}]:{}", host, port);
}

// ---- Pods: printPod.

struct PodState {
  std::string reason;
  int64_t ready = 0;
  int64_t restarts = 0;
  int64_t sidecar_restarts = 0;  // of init containers with restartPolicy Always
  std::optional<Timestamp> last_restart, sidecar_last_restart;
  bool initializing = false;
};

bool is_sidecar(const Json& pod_spec, const std::string& name) {
  for (const Json& c : array(at(pod_spec, "initContainers")))
    if (str(at(c, "name")) == name) return str(at(c, "restartPolicy")) == "Always";
  return false;
}

int64_t sidecar_count(const Json& pod_spec) {
  const Json& init = array(at(pod_spec, "initContainers"));
  return std::count_if(init.begin(), init.end(),
                       [](const Json& c) { return str(at(c, "restartPolicy")) == "Always"; });
}

// A condition's status, read the way kubectl's helpers read it: the first of that type counts.
bool condition_true(const Json& status, std::string_view type) {
  for (const Json& c : array(at(status, "conditions")))
    if (str(at(c, "type")) == type) return str(at(c, "status")) == "True";
  return false;
}

// lastRestartDate.Before(finishedAt): the latest finish of a previous run.
void note_restart(const Json& container_status, std::optional<Timestamp>* last) {
  const Json& terminated = dig(container_status, {"lastState", "terminated"});
  if (terminated.is_null()) return;
  const std::optional<Timestamp> finished = timestamp(at(terminated, "finishedAt"));
  if (finished && (!*last || *last < *finished)) *last = finished;
}

// A terminated container without a reason shows how it ended instead.
std::string terminated_reason(const Json& terminated) {
  std::string reason = str(at(terminated, "reason"));
  if (!reason.empty()) return reason;
  const int64_t signal = integer(at(terminated, "signal"));
  if (signal != 0) return fmt::format("Signal:{}", signal);
  return fmt::format("ExitCode:{}", integer(at(terminated, "exitCode")));
}

// Init containers run in order: the first one not done names the status (Init:...).
void init_container_pass(const Json& spec, const Json& status, PodState* st) {
  const Json& statuses = array(at(status, "initContainerStatuses"));
  const size_t declared = array(at(spec, "initContainers")).size();
  for (size_t i = 0; i < statuses.size(); ++i) {
    const Json& c = statuses[i];
    const bool sidecar = is_sidecar(spec, str(at(c, "name")));
    st->restarts += integer(at(c, "restartCount"));
    note_restart(c, &st->last_restart);
    if (sidecar) {
      st->sidecar_restarts += integer(at(c, "restartCount"));
      note_restart(c, &st->sidecar_last_restart);
    }
    const Json& terminated = dig(c, {"state", "terminated"});
    const std::string waiting = str(dig(c, {"state", "waiting", "reason"}));
    if (!terminated.is_null() && integer(at(terminated, "exitCode")) == 0) continue;
    if (sidecar && flag(at(c, "started"))) {
      if (flag(at(c, "ready"))) ++st->ready;
      continue;
    }
    if (!terminated.is_null())
      st->reason = fmt::format("Init:{}", terminated_reason(terminated));
    else if (!waiting.empty() && waiting != "PodInitializing")
      st->reason = fmt::format("Init:{}", waiting);
    else
      st->reason = fmt::format("Init:{}/{}", i, declared);
    st->initializing = true;
    break;
  }
}

// App containers, last to first so that the first container's state is the one shown.
void container_pass(const Json& status, PodState* st) {
  st->restarts = st->sidecar_restarts;
  st->last_restart = st->sidecar_last_restart;
  bool has_running = false;
  const Json& statuses = array(at(status, "containerStatuses"));
  for (size_t i = statuses.size(); i-- > 0;) {
    const Json& c = statuses[i];
    st->restarts += integer(at(c, "restartCount"));
    note_restart(c, &st->last_restart);
    const std::string waiting = str(dig(c, {"state", "waiting", "reason"}));
    const Json& terminated = dig(c, {"state", "terminated"});
    if (!waiting.empty()) {
      st->reason = waiting;
    } else if (!terminated.is_null()) {
      st->reason = terminated_reason(terminated);
    } else if (flag(at(c, "ready")) && !dig(c, {"state", "running"}).is_null()) {
      has_running = true;
      ++st->ready;
    }
  }
  // A finished sidecar-style container does not make a still-running pod "Completed".
  if (st->reason == "Completed" && has_running)
    st->reason = condition_true(status, "Ready") ? "Running" : "NotReady";
}

std::string pod_reason_before_containers(const Json& status, const std::string& phase) {
  std::string reason = str(at(status, "reason"));
  if (reason.empty()) reason = phase;
  for (const Json& c : array(at(status, "conditions")))
    if (str(at(c, "type")) == "PodScheduled" && str(at(c, "reason")) == "SchedulingGated")
      reason = "SchedulingGated";
  return reason;
}

std::string readiness_gates(const Json& spec, const Json& status) {
  const Json& gates = array(at(spec, "readinessGates"));
  if (gates.empty()) return "<none>";
  int64_t passing = 0;
  for (const Json& gate : gates) {
    for (const Json& c : array(at(status, "conditions"))) {
      if (str(at(c, "type")) != str(at(gate, "conditionType"))) continue;
      if (str(at(c, "status")) == "True") ++passing;
      break;
    }
  }
  return fmt::format("{}/{}", passing, gates.size());
}

std::string or_none(std::string s) {
  return s.empty() ? "<none>" : s;
}

// The API server stores status.podIP and mirrors it into podIPs; kubectl reads podIPs[0].
std::string pod_ip(const Json& status) {
  const Json& ips = array(at(status, "podIPs"));
  std::string ip = ips.empty() ? std::string() : str(at(ips[0], "ip"));
  return or_none(ip.empty() ? str(at(status, "podIP")) : ip);
}

Cells pod_row(const Json& pod, TimePoint now) {
  const Json& spec = at(pod, "spec");
  const Json& status = at(pod, "status");
  // The API server gives every pod phase Pending on create.
  std::string phase = str(at(status, "phase"));
  if (phase.empty()) phase = "Pending";
  PodState st;
  st.reason = pod_reason_before_containers(status, phase);
  init_container_pass(spec, status, &st);
  if (!st.initializing || condition_true(status, "Initialized")) container_pass(status, &st);
  if (!dig(pod, {"metadata", "deletionTimestamp"}).is_null()) {
    if (str(at(status, "reason")) == "NodeLost")
      st.reason = "Unknown";
    else if (phase != "Succeeded" && phase != "Failed")
      st.reason = "Terminating";
  }
  const int64_t total =
      static_cast<int64_t>(array(at(spec, "containers")).size()) + sidecar_count(spec);
  std::string restarts = std::to_string(st.restarts);
  if (st.restarts != 0 && st.last_restart)
    restarts = fmt::format("{} ({} ago)", st.restarts, since(st.last_restart, now));
  return {name_of(pod),
          fmt::format("{}/{}", st.ready, total),
          st.reason,
          restarts,
          since(created(pod), now),
          pod_ip(status),
          or_none(str(at(spec, "nodeName"))),
          or_none(str(at(status, "nominatedNodeName"))),
          readiness_gates(spec, status)};
}

// ---- Workloads.

// spec.replicas as the API server defaults it.
int64_t desired_replicas(const Json& spec) {
  const Json& replicas = at(spec, "replicas");
  return replicas.is_number_integer() ? replicas.get<int64_t>() : 1;
}

Cells deployment_row(const Json& d, TimePoint now) {
  const Json& spec = at(d, "spec");
  const Json& status = at(d, "status");
  auto [names, images] = container_cells(dig(spec, {"template", "spec"}));
  return {name_of(d),
          fmt::format("{}/{}", integer(at(status, "readyReplicas")), desired_replicas(spec)),
          std::to_string(integer(at(status, "updatedReplicas"))),
          std::to_string(integer(at(status, "availableReplicas"))),
          since(created(d), now),
          std::move(names),
          std::move(images),
          manifest::label_selector_string(at(spec, "selector")).value_or("<invalid>")};
}

// metav1.FormatLabelSelector, which replica sets use (deployments print the bare string).
std::string format_label_selector(const Json& selector) {
  std::optional<std::string> s = manifest::label_selector_string(selector);
  if (!s) return "<error>";
  return or_none(*s);
}

Cells replicaset_row(const Json& rs, TimePoint now) {
  const Json& spec = at(rs, "spec");
  const Json& status = at(rs, "status");
  auto [names, images] = container_cells(dig(spec, {"template", "spec"}));
  return {name_of(rs),
          std::to_string(desired_replicas(spec)),
          std::to_string(integer(at(status, "replicas"))),
          std::to_string(integer(at(status, "readyReplicas"))),
          since(created(rs), now),
          std::move(names),
          std::move(images),
          format_label_selector(at(spec, "selector"))};
}

// ---- Networking.

std::string service_type(const Json& spec) {
  std::string type = str(at(spec, "type"));
  return type.empty() ? "ClusterIP" : type;
}

// spec.clusterIPs[0]; the store may only have spec.clusterIP, which the API server mirrors.
std::string cluster_ip(const Json& spec) {
  const Json& ips = array(at(spec, "clusterIPs"));
  if (!ips.empty()) return str(ips[0]);
  return or_none(str(at(spec, "clusterIP")));
}

std::string external_ip(const Json& svc) {
  const Json& spec = at(svc, "spec");
  const std::string type = service_type(spec);
  const std::string external = join(strings(at(spec, "externalIPs")), ",");
  if (type == "ClusterIP" || type == "NodePort") return or_none(external);
  if (type == "ExternalName") return str(at(spec, "externalName"));
  if (type != "LoadBalancer") return "<unknown>";
  const std::string lb = load_balancer(svc);
  if (!external.empty()) return lb.empty() ? external : fmt::format("{},{}", lb, external);
  return lb.empty() ? "<pending>" : lb;
}

// makePortString: "port/proto", or "port:nodePort/proto" once a node port is allocated.
std::string service_ports(const Json& spec) {
  std::vector<std::string> parts;
  for (const Json& p : array(at(spec, "ports"))) {
    std::string protocol = str(at(p, "protocol"));
    if (protocol.empty()) protocol = "TCP";
    const int64_t port = integer(at(p, "port")), node_port = integer(at(p, "nodePort"));
    parts.push_back(node_port > 0 ? fmt::format("{}:{}/{}", port, node_port, protocol)
                                  : fmt::format("{}/{}", port, protocol));
  }
  return or_none(join(parts, ","));
}

Cells service_row(const Json& svc, TimePoint now) {
  const Json& spec = at(svc, "spec");
  return {name_of(svc),
          service_type(spec),
          cluster_ip(spec),
          external_ip(svc),
          service_ports(spec),
          since(created(svc), now),
          format_labels(at(spec, "selector"))};
}

// formatHosts: up to three hosts; rules without a host only count towards "+ N more...", and
// "*" is shown when no rule names a host.
std::string ingress_hosts(const Json& rules) {
  constexpr size_t kMax = 3;
  std::vector<std::string> hosts;
  bool more = false;
  for (const Json& rule : rules) {
    if (hosts.size() == kMax) more = true;
    const std::string host = str(at(rule, "host"));
    if (!more && !host.empty()) hosts.push_back(host);
  }
  if (hosts.empty()) return "*";
  if (more) return fmt::format("{} + {} more...", join(hosts, ","), rules.size() - kMax);
  return join(hosts, ",");
}

Cells ingress_row(const Json& ing, TimePoint now) {
  const Json& spec = at(ing, "spec");
  const Json& class_name = at(spec, "ingressClassName");
  return {name_of(ing),
          class_name.is_string() ? class_name.get<std::string>() : "<none>",
          ingress_hosts(array(at(spec, "rules"))),
          load_balancer(ing),
          array(at(spec, "tls")).empty() ? "80" : "80, 443",
          since(created(ing), now)};
}

// formatEndpoints: "ip:port" for every address and port, at most three then "+ N more...".
std::string endpoint_list(const Json& subsets) {
  if (subsets.empty()) return "<none>";
  constexpr size_t kMax = 3;
  std::vector<std::string> list;
  bool more = false;
  size_t count = 0;
  auto add = [&](std::string entry) {
    if (list.size() == kMax) {
      more = true;
      return false;
    }
    list.push_back(std::move(entry));
    return true;
  };
  for (const Json& subset : subsets) {
    const Json& addresses = array(at(subset, "addresses"));
    const Json& ports = array(at(subset, "ports"));
    if (ports.empty()) {  // headless services may have no ports
      count += addresses.size();
      for (const Json& a : addresses)
        if (!add(str(at(a, "ip")))) break;
      continue;
    }
    for (const Json& port : ports) {
      count += addresses.size();
      for (const Json& a : addresses)
        if (!add(host_port(str(at(a, "ip")), integer(at(port, "port"))))) break;
    }
  }
  if (more) return fmt::format("{} + {} more...", join(list, ","), count - kMax);
  return join(list, ",");
}

Cells endpoints_row(const Json& ep, TimePoint now) {
  return {name_of(ep), endpoint_list(array(at(ep, "subsets"))), since(created(ep), now)};
}

// ---- Configuration and cluster objects.

Cells secret_row(const Json& secret, TimePoint now) {
  // The API server folds stringData into data on write.
  std::set<std::string> keys;
  for (const char* field : {"data", "stringData"}) {
    const Json& map = at(secret, field);
    if (map.is_object())
      for (const auto& [k, v] : map.items()) keys.insert(k);
  }
  std::string type = str(at(secret, "type"));
  if (type.empty()) type = "Opaque";
  return {name_of(secret), type, std::to_string(keys.size()), since(created(secret), now)};
}

Cells pvc_row(const Json& pvc, TimePoint now) {
  const Json& spec = at(pvc, "spec");
  std::string modes;
  for (const Json& m : array(at(spec, "accessModes"))) {
    const std::string mode = str(m);
    const std::string abbrev = mode == "ReadWriteOnce"      ? "RWO"
                               : mode == "ReadOnlyMany"     ? "ROX"
                               : mode == "ReadWriteMany"    ? "RWX"
                               : mode == "ReadWriteOncePod" ? "RWOP"
                                                            : mode;
    modes += (modes.empty() ? "" : ",") + abbrev;
  }
  const std::string storage_class = str(at(spec, "storageClassName"));
  const std::string capacity = str(at(at(at(pvc, "status"), "capacity"), "storage"));
  std::string volume = str(at(spec, "volumeName"));
  return {name_of(pvc),
          str(at(at(pvc, "status"), "phase")),
          volume,
          capacity,
          modes,
          storage_class.empty() ? "<unset>" : storage_class,
          "<unset>",
          since(created(pvc), now),
          at(spec, "volumeMode").is_string() ? str(at(spec, "volumeMode")) : "Filesystem"};
}

Cells configmap_row(const Json& cm, TimePoint now) {
  return {name_of(cm), std::to_string(key_count(at(cm, "data")) + key_count(at(cm, "binaryData"))),
          since(created(cm), now)};
}

Cells namespace_row(const Json& ns, TimePoint now) {
  std::string phase = str(dig(ns, {"status", "phase"}));
  if (phase.empty()) phase = "Active";
  return {name_of(ns), phase, since(created(ns), now)};
}

std::string or_unknown(std::string s) {
  return s.empty() ? "<unknown>" : s;
}

// printNode: Ready or NotReady from the Ready condition; roles from node-role.kubernetes.io/
// labels.
Cells node_row(const Json& node, TimePoint now) {
  std::string status = "Unknown";
  for (const Json& c : array(dig(node, {"status", "conditions"})))
    if (str(at(c, "type")) == "Ready")
      status = str(at(c, "status")) == "True" ? "Ready" : "NotReady";
  if (dig(node, {"spec", "unschedulable"}) == true) status += ",SchedulingDisabled";
  std::vector<std::string> roles;
  constexpr std::string_view kRole = "node-role.kubernetes.io/";
  const Json& labels = dig(node, {"metadata", "labels"});
  if (labels.is_object())
    for (const auto& [k, v] : labels.items())
      if (k.starts_with(kRole) && k.size() > kRole.size()) roles.push_back(k.substr(kRole.size()));
  std::string internal_ip, external_ip;
  for (const Json& a : array(dig(node, {"status", "addresses"}))) {
    const std::string type = str(at(a, "type"));
    if (type == "InternalIP" && internal_ip.empty()) internal_ip = str(at(a, "address"));
    if (type == "ExternalIP" && external_ip.empty()) external_ip = str(at(a, "address"));
  }
  const Json& info = dig(node, {"status", "nodeInfo"});
  return {name_of(node),
          status,
          roles.empty() ? "<none>" : join(roles, ","),
          since(created(node), now),
          str(at(info, "kubeletVersion")),
          or_none(internal_ip),
          or_none(external_ip),
          or_unknown(str(at(info, "osImage"))),
          or_unknown(str(at(info, "kernelVersion"))),
          or_unknown(str(at(info, "containerRuntimeVersion")))};
}

// printEndpointSlice: port numbers, then up to three addresses and how many more.
Cells endpointslice_row(const Json& slice, TimePoint now) {
  std::vector<std::string> ports;
  for (const Json& p : array(at(slice, "ports")))
    if (at(p, "port").is_number_integer())
      ports.push_back(std::to_string(at(p, "port").get<int>()));
  std::vector<std::string> addresses;
  size_t total = 0;
  for (const Json& e : array(at(slice, "endpoints")))
    for (const Json& a : array(at(e, "addresses"))) {
      if (addresses.size() < 3) addresses.push_back(str(a));
      ++total;
    }
  std::string endpoints = addresses.empty() ? "<unset>" : join(addresses, ",");
  if (total > addresses.size()) endpoints += fmt::format(" + {} more...", total - addresses.size());
  return {name_of(slice), str(at(slice, "addressType")),
          ports.empty() ? "<unset>" : join(ports, ","), endpoints, since(created(slice), now)};
}

// formatEventSource: component (or reporting controller), then ", host" when there is one.
std::string event_source(const Json& e) {
  std::string component = str(dig(e, {"source", "component"}));
  if (component.empty()) component = str(at(e, "reportingComponent"));
  std::string host = str(dig(e, {"source", "host"}));
  if (host.empty()) host = str(at(e, "reportingInstance"));
  return host.empty() ? component : fmt::format("{}, {}", component, host);
}

std::string trim(const std::string& s) {
  constexpr std::string_view kSpace = " \t\n\v\f\r";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

Cells event_row(const Json& e, TimePoint now) {
  std::optional<Timestamp> first = timestamp(at(e, "firstTimestamp"));
  if (!first) first = timestamp(at(e, "eventTime"));
  // Past kubectl: an event ticketctl recorded with neither time still has its creation time.
  if (!first) first = created(e);
  std::optional<Timestamp> last = timestamp(at(e, "lastTimestamp"));
  if (!last) last = first;
  int64_t count = integer(at(e, "count"));
  const Json& series = at(e, "series");
  if (!series.is_null()) {
    last = timestamp(at(series, "lastObservedTime"));
    count = integer(at(series, "count"));
  } else if (count == 0) {
    count = 1;  // singleton events of the events.k8s.io API carry no count
  }
  const Json& involved = at(e, "involvedObject");
  std::string kind = str(at(involved, "kind"));
  std::transform(kind.begin(), kind.end(), kind.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::string target_name = str(at(involved, "name"));
  return {since(last, now),
          str(at(e, "type")),
          str(at(e, "reason")),
          target_name.empty() ? kind : fmt::format("{}/{}", kind, target_name),
          str(at(involved, "fieldPath")),
          event_source(e),
          trim(str(at(e, "message"))),
          since(first, now),
          std::to_string(count),
          name_of(e)};
}

Cells default_row(const Json& object, TimePoint now) {
  return {name_of(object), since(created(object), now)};
}

}  // namespace rows

std::string human_duration(std::chrono::seconds d) {
  const int64_t seconds = d.count();
  // Up to two seconds in the future is clock skew between machines: "now".
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return fmt::format("{}s", seconds);
  const int64_t minutes = seconds / 60;
  if (minutes < 10) {
    const int64_t s = seconds % 60;
    return s == 0 ? fmt::format("{}m", minutes) : fmt::format("{}m{}s", minutes, s);
  }
  if (minutes < 60 * 3) return fmt::format("{}m", minutes);
  const int64_t hours = seconds / 3600;
  if (hours < 8) {
    const int64_t m = minutes % 60;
    return m == 0 ? fmt::format("{}h", hours) : fmt::format("{}h{}m", hours, m);
  }
  if (hours < 48) return fmt::format("{}h", hours);
  if (hours < 24 * 8) {
    const int64_t h = hours % 24;
    return h == 0 ? fmt::format("{}d", hours / 24) : fmt::format("{}d{}h", hours / 24, h);
  }
  if (hours < 24 * 365 * 2) return fmt::format("{}d", hours / 24);
  if (hours < 24 * 365 * 8) {
    const int64_t days = (hours / 24) % 365;
    return days == 0 ? fmt::format("{}y", hours / 24 / 365)
                     : fmt::format("{}y{}d", hours / 24 / 365, days);
  }
  return fmt::format("{}y", hours / 24 / 365);
}

std::string age(const Json& object, std::chrono::system_clock::time_point now) {
  return rows::since(rows::created(object), now);
}

}  // namespace ticketctl::api
