#pragma once
// The objects every cluster has and kubectl users look for: the `localhost` Node (this machine:
// its CPUs, memory, kernel and OS; pods are bound to it at admission, runtime/api/defaults.h) and
// the `kubernetes` Service in `default`, port 443 → the API's own address, with its Endpoints
// (mirrored into an EndpointSlice by the endpoints controller). Written in the start transaction
// and put back by every controller round when deleted, as a cluster's API server does.
// The caller holds the store's lock.

#include <string>

#include "runtime/core/result.h"
#include "runtime/manifest/json.h"
#include "runtime/store/store.h"

namespace ticketctl::daemon {

// What the Node reports about the machine, read from /proc, uname and /etc/os-release.
struct MachineInfo {
  long cpus = 1;
  long long memory_kib = 0;
  std::string kernel, os_image, architecture, machine_id, boot_id;
};
MachineInfo read_machine_info();

// The Node object (status included) for `info`; pure.
Json node_object(const MachineInfo& info);

class ClusterObjects {
 public:
  // Before write(): the port the API listens on.
  void set_api_port(int port) { api_port_ = port; }
  // At start: the Node with a fresh status and the kubernetes Service pointing at this API.
  Result<bool> write(store::Store& store);
  // Each controller round: whatever of them was deleted is written again. Returns the writes.
  int restore(store::Store& store);

 private:
  Result<bool> write_service(store::Store& store);
  int api_port_ = 0;
  MachineInfo info_ = read_machine_info();
};

}  // namespace ticketctl::daemon
