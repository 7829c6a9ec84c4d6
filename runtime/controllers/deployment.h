#pragma once
// The deployment and replica set controllers, level-based like controller-runtime: they compare
// what is stored (Deployments) with what exists (ReplicaSets, Pods) and write the difference,
// never relying on having seen every change. Deployment -> ReplicaSet "<deploy>-<pod-template-
// hash>" -> Pods "<replicaset>-<5 chars>", owned through ownerReferences; objects whose owner is
// gone are collected; actions are recorded as Events (expired after an hour, as the API
// server's TTL does).
//
// Rollouts follow Kubernetes' deployment controller: RollingUpdate keeps at most
// replicas + maxSurge pods and at least replicas - maxUnavailable available ones; Recreate
// scales the old ReplicaSets to zero and waits for their pods to be gone before the new one
// grows. A pod is available once its Ready condition (written by the kubelet) has been True for
// minReadySeconds. Revisions live in the deployment.kubernetes.io/revision annotation of each
// ReplicaSet and of the Deployment.
//
// ticketctl's extension: a template that reads ConfigMaps or Secrets (env valueFrom, envFrom,
// volumes) gets the hash of their content as the pod template annotation
// ticketctl.dev/config-hash on its ReplicaSet, so changing their content rolls the pods.
//
// Not thread-safe: the caller holds the store's lock for a whole reconcile.

#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/manifest/json.h"
#include "runtime/store/store.h"

namespace ticketctl::controllers {

inline constexpr const char* kRevisionAnnotation = "deployment.kubernetes.io/revision";
inline constexpr const char* kConfigHashAnnotation = "ticketctl.dev/config-hash";

// The ReplicaSet of a Deployment's template: "<deployment>-<hash>", the Deployment's name cut so
// the whole fits the 253 characters of an object name (Kubernetes' generateReplicaSetName).
std::string replicaset_name(std::string_view deployment, std::string_view hash);
// A ReplicaSet's pod: the API server's generateName for "<replicaset>-", which keeps at most 58
// characters of it, then the 5 random ones, so the name stays within 63.
std::string generated_pod_name(std::string_view replicaset, std::string_view suffix);

// Kubernetes' pod-template-hash: FNV-32a of the template, its decimal digits spelled in the
// alphabet that avoids vowels and look-alikes ("bcdfghjklmnpqrstvwxz2456789").
std::string pod_template_hash(const Json& pod_template);
// Whether a ReplicaSet's stored template is `pod_template` once both have the API's defaults,
// ignoring the hash label, key order and absent vs empty values, as Kubernetes'
// FindNewReplicaSet compares templates.
// A ReplicaSet made before defaulting existed stays current, so upgrading rolls nothing.
bool same_template_but_defaults(const Json& stored, const Json& pod_template);

// An int-or-percent field ("25%", 2) of `total`; percentages round up or down as asked.
int64_t scaled_value(const Json& int_or_percent, int64_t total, bool round_up);

// maxSurge (rounded up) and maxUnavailable (rounded down) of a RollingUpdate Deployment for its
// spec.replicas, defaults 25%/25%; both zero makes maxUnavailable 1, as Kubernetes resolves it.
// A Recreate Deployment has neither.
struct Fenceposts {
  int64_t max_surge = 0;
  int64_t max_unavailable = 0;
};
Fenceposts resolve_fenceposts(const Json& deployment);

// The Deployment's template as its ReplicaSet carries it: with the config-hash annotation when
// it reads ConfigMaps or Secrets (their content from `store`), without the pod-template-hash.
Json effective_template(const store::Store& store, const Json& deployment);

class DeploymentController {
 public:
  explicit DeploymentController(store::Store& store, uint64_t seed = std::random_device{}());
  // One pass over everything; returns how many objects it wrote or deleted.
  int reconcile();
  // How soon the last pass needs another one although nothing is written meanwhile: a pod
  // becoming available after minReadySeconds, a progress deadline running out. max() if never.
  std::chrono::milliseconds requeue_after() const { return requeue_after_; }

 private:
  struct Counts;  // a ReplicaSet's pods: active, ready, available, fully labeled
  // Objects by the uid of their controller, read once per pass: looking them up per owner made
  // every pass quadratic.
  using ByOwner = std::map<std::string, std::vector<store::ObjectRef>, std::less<>>;
  int reconcile_deployment(const Json& deployment, const ByOwner& pods_by_owner,
                           const ByOwner& replicasets_by_owner);
  int reconcile_replicaset(const Json& rs, const ByOwner& pods_by_owner);
  Counts count_pods(const std::vector<store::ObjectRef>& pods, int64_t min_ready_seconds,
                    const Json& labels);
  // Sets spec.replicas (and the desired/max replicas annotations) of a ReplicaSet, with an event
  // on the Deployment; returns whether it wrote.
  bool scale_replicaset(const Json& deployment, Json& rs, int64_t replicas, int64_t max_surge);
  int collect_orphans(const std::string& resource);
  // Records a Normal event on `object`, as kubelet and controllers do ("ScalingReplicaSet").
  void record(const Json& object, std::string_view reason, std::string message);
  int expire_events();
  std::string random_suffix();
  void requeue_in(std::chrono::milliseconds delay);

  // What an object's inputs were when its last pass wrote nothing; it is passed again when they
  // change, when that pass asked for a requeue (time matters: minReadySeconds, a progress
  // deadline) or kRecheck after it in any round, whichever comes first. By uid.
  static constexpr std::chrono::system_clock::time_point kNever =
      std::chrono::system_clock::time_point::max();
  struct Settled {
    uint64_t fingerprint = 0;
    std::chrono::system_clock::time_point recheck_at, requeue_at;
  };
  static constexpr std::chrono::milliseconds kRecheck{1000};

  store::Store& store_;
  std::map<std::string, Settled> settled_deployments_, settled_replicasets_;
  std::chrono::system_clock::time_point next_expiry_{};
  std::mt19937_64 rng_;
  std::chrono::system_clock::time_point now_;
  std::chrono::milliseconds requeue_after_ = std::chrono::milliseconds::max();
};

}  // namespace ticketctl::controllers
