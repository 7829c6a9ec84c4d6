#include "runtime/daemon/cluster_objects.h"

#include <fmt/format.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "runtime/api/defaults.h"
#include "runtime/core/rfc3339.h"

namespace ticketctl::daemon {
namespace {

constexpr const char* kKubernetesVersion = "v1.32.0";

std::string first_line(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// /etc/os-release's PRETTY_NAME, unquoted ("Debian GNU/Linux 12 (bookworm)").
std::string os_image() {
  std::ifstream in("/etc/os-release");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("PRETTY_NAME=", 0) != 0) continue;
    std::string v = line.substr(12);
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
      v = v.substr(1, v.size() - 2);
    return v;
  }
  return "Linux";
}

// uname's machine as Go names it, which is what kubernetes.io/arch holds.
std::string go_arch(const std::string& machine) {
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64") return "arm64";
  if (machine == "i686" || machine == "i386") return "386";
  if (machine.rfind("armv", 0) == 0) return "arm";
  return machine;
}

}  // namespace

MachineInfo read_machine_info() {
  MachineInfo m;
  m.cpus = std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);) {
    if (line.rfind("MemTotal:", 0) != 0) continue;
    std::istringstream(line.substr(9)) >> m.memory_kib;
    break;
  }
  struct utsname u {};
  if (::uname(&u) == 0) {
    m.kernel = u.release;
    m.architecture = go_arch(u.machine);
  }
  m.os_image = os_image();
  m.machine_id = first_line("/etc/machine-id");
  m.boot_id = first_line("/proc/sys/kernel/random/boot_id");
  return m;
}

Json node_object(const MachineInfo& m) {
  const std::string now = rfc3339::now_seconds();
  auto condition = [&](const char* type, const char* status, const char* reason,
                       const char* message) {
    return Json{{"type", type},
                {"status", status},
                {"lastHeartbeatTime", now},
                {"lastTransitionTime", now},
                {"reason", reason},
                {"message", message}};
  };
  const Json resources = {{"cpu", std::to_string(m.cpus)},
                          {"memory", fmt::format("{}Ki", m.memory_kib)},
                          {"pods", "110"}};
  const std::string name(api::kNodeName);
  return {
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata",
       {{"name", name},
        {"labels",
         {{"beta.kubernetes.io/arch", m.architecture},
          {"beta.kubernetes.io/os", "linux"},
          {"kubernetes.io/arch", m.architecture},
          {"kubernetes.io/hostname", name},
          {"kubernetes.io/os", "linux"},
          {"node-role.kubernetes.io/control-plane", ""}}}}},
      {"spec", Json::object()},
      {"status",
       {{"capacity", resources},
        {"allocatable", resources},
        {"conditions",
         {condition("MemoryPressure", "False", "KubeletHasSufficientMemory",
                    "kubelet has sufficient memory available"),
          condition("DiskPressure", "False", "KubeletHasNoDiskPressure",
                    "kubelet has no disk pressure"),
          condition("PIDPressure", "False", "KubeletHasSufficientPID",
                    "kubelet has sufficient PID available"),
          condition("Ready", "True", "KubeletReady", "ticketctl runs pods as local processes")}},
        {"addresses",
         {{{"type", "InternalIP"}, {"address", "127.0.0.1"}},
          {{"type", "Hostname"}, {"address", name}}}},
        {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", 0}}}}},
        {"nodeInfo",
         {{"machineID", m.machine_id},
          {"systemUUID", m.machine_id},
          {"bootID", m.boot_id},
          {"kernelVersion", m.kernel},
          {"osImage", m.os_image},
          {"containerRuntimeVersion", fmt::format("ticketctl://{}", TICKETCTL_VERSION)},
          {"kubeletVersion", kKubernetesVersion},
          {"kubeProxyVersion", kKubernetesVersion},
          {"operatingSystem", "linux"},
          {"architecture", m.architecture}}}}}};
}

Result<bool> ClusterObjects::write(store::Store& store) {
  Json node = node_object(info_);
  const std::string name(api::kNodeName);
  if (store.find({"nodes", "", name})) {
    // A restarted control plane: the machine may have changed, and the heartbeat is now.
    if (Result<Json> r = store.update_status({"nodes", "", name}, node["status"]); !r.ok())
      return r.error();
  } else if (Result<Json> r = store.create("nodes", std::move(node)); !r.ok()) {
    return r.error();
  }
  // The node's heartbeat, as the kubelet renews it (kube-node-lease/localhost).
  Json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", name}, {"namespace", "kube-node-lease"}}},
                {"spec",
                 {{"holderIdentity", name},
                  {"leaseDurationSeconds", 40},
                  // A MicroTime (clients read exactly six fractional digits) of whole
                  // seconds, as the heartbeat has always been written.
                  {"renewTime", rfc3339::format_micro({rfc3339::now().seconds, 0})}}}};
  if (Result<std::vector<store::Applied>> r =
          store.apply({{"leases.coordination.k8s.io", std::move(lease)}});
      !r.ok())
    return r.error();
  return write_service(store);
}

Result<bool> ClusterObjects::write_service(store::Store& store) {
  // The target port is the Endpoints' port by name: the API's port changes with each start,
  // the Service stays the same object.
  const Json labels = {{"component", "apiserver"}, {"provider", "kubernetes"}};
  Json service = {
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata", {{"name", "kubernetes"}, {"namespace", "default"}, {"labels", labels}}},
      {"spec",
       {{"type", "ClusterIP"},
        {"ports",
         {{{"name", "https"}, {"port", 443}, {"protocol", "TCP"}, {"targetPort", "https"}}}}}}};
  Json endpoints = {
      {"apiVersion", "v1"},
      {"kind", "Endpoints"},
      {"metadata", {{"name", "kubernetes"}, {"namespace", "default"}, {"labels", labels}}},
      {"subsets",
       {{{"addresses", {{{"ip", "127.0.0.1"}}}},
         {"ports", {{{"name", "https"}, {"port", api_port_}, {"protocol", "TCP"}}}}}}}};
  Result<std::vector<store::Applied>> r =
      store.apply({{"services", std::move(service)}, {"endpoints", std::move(endpoints)}});
  if (!r.ok()) return r.error();
  return true;
}

int ClusterObjects::restore(store::Store& store) {
  int writes = 0;
  if (!store.find({"nodes", "", std::string(api::kNodeName)}) &&
      store.create("nodes", node_object(info_)).ok())
    ++writes;
  // Only while `default` exists: objects cannot be written into a deleted namespace.
  if (store.find({"namespaces", "", "default"}) &&
      (!store.find({"services", "default", "kubernetes"}) ||
       !store.find({"endpoints", "default", "kubernetes"}))) {
    if (write_service(store).ok()) ++writes;
  }
  return writes;
}

}  // namespace ticketctl::daemon
