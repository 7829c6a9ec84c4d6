#pragma once
// A pod's deletion as the API server does it, for every deleter (the API, the ReplicaSet and
// garbage-collection controllers): a pod with a running container is not removed but marked
// Terminating (deletionTimestamp, deletionGracePeriodSeconds); the kubelet stops its processes
// within the grace period and removes it once they are gone. Until then it is still in the
// store, which is what keeps a Recreate rollout from starting new pods next to old ones.

#include <cstdint>
#include <optional>

#include "runtime/store/store.h"

namespace ticketctl::store {

// `grace_seconds`: the request's, else the pod's terminationGracePeriodSeconds (30 by default);
// 0 or a pod with nothing running removes it at once. Returns the pod as it is now (marked) or
// was (removed); NotFound when absent. Marking an already Terminating pod changes nothing.
Result<Json> delete_pod(Store& store, const Key& key, std::optional<int64_t> grace_seconds);

}  // namespace ticketctl::store
