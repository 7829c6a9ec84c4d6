#pragma once
// Who is at an address, for the traffic tap: each pod's IP, its "ns/name" and the Deployment it
// belongs to (pod → ReplicaSet → Deployment by ownerReferences), so the ingress and the relay
// can say which pod sent or answered an exchange and a tap of a Deployment can follow them.
//
// Owns: an immutable snapshot, replaced whole by rebuild(). Threads: rebuild() under the store's
// lock (it reads the store); the lookups from any thread (the relay's loops, the ingress's I/O
// threads), concurrently with a rebuild.

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "runtime/store/store.h"
#include "runtime/tap/tap.h"

namespace ticketctl::daemon {

class TapPeers {
 public:
  void rebuild(const store::Store& store);

  // The pod at `ip` (pod and workload filled; service left to the caller), or only ip and port
  // when no pod has that IP.
  tap::Peer at(const std::string& ip, uint16_t port) const;
  // "ns/deploy" of a pod given as "ns/name", or "" when it has no Deployment.
  std::string workload_of(const std::string& pod) const;

 private:
  struct Entry {
    std::string pod;       // ns/name
    std::string workload;  // ns/deployment, or ""
  };
  struct Snapshot {
    std::unordered_map<std::string, Entry> by_ip;
    std::unordered_map<std::string, std::string> workload_by_pod;
  };
  std::shared_ptr<const Snapshot> snapshot() const;

  mutable std::mutex mu_;  // guards current_ (the pointer, not what it points to)
  std::shared_ptr<const Snapshot> current_ = std::make_shared<Snapshot>();
};

}  // namespace ticketctl::daemon
