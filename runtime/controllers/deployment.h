#pragma once
// The deployment controller, level-based like controller-runtime: it compares what is stored
// (Deployments) with what exists (ReplicaSets, Pods) and writes the difference, never relying
// on having seen every change. Deployment -> ReplicaSet "<deploy>-<pod-template-hash>" -> Pods
// "<replicaset>-<5 chars>", owned through ownerReferences; objects whose owner is gone are
// collected; its actions are recorded as Events (expired after an hour, as the API server's TTL
// does). Pods stay Pending until the supervisor runs them.
// Not thread-safe: the caller holds the store's lock for a whole reconcile.

#include <cstdint>
#include <random>
#include <string>

#include "runtime/manifest/json.h"
#include "runtime/store/store.h"

namespace ticketctl::controllers {

// Kubernetes' pod-template-hash: FNV-32a of the template, its decimal digits spelled in the
// alphabet that avoids vowels and look-alikes ("bcdfghjklmnpqrstvwxz2456789").
std::string pod_template_hash(const Json& pod_template);

class DeploymentController {
 public:
  explicit DeploymentController(store::Store& store, uint64_t seed = std::random_device{}());
  // One pass over everything; returns how many objects it wrote or deleted.
  int reconcile();

 private:
  int reconcile_deployment(const Json& deployment);
  int reconcile_replicaset(const Json& rs);
  int collect_orphans(const std::string& resource);
  // Records a Normal event on `object`, as kubelet and controllers do ("ScalingReplicaSet").
  void record(const Json& object, std::string_view reason, std::string message);
  int expire_events();
  std::string random_suffix();

  store::Store& store_;
  std::mt19937_64 rng_;
};

}  // namespace ticketctl::controllers
