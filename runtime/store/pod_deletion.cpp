#include "runtime/store/pod_deletion.h"

#include <chrono>

#include "runtime/core/rfc3339.h"

namespace ticketctl::store {

Result<Json> delete_pod(Store& store, const Key& key, std::optional<int64_t> grace_seconds) {
  Result<Json> current = store.get(key);
  if (!current.ok()) return current.error();
  Json pod = std::move(current.value());
  const Json& spec_grace = json_at(pod["spec"], "terminationGracePeriodSeconds");
  const int64_t grace = grace_seconds                    ? *grace_seconds
                        : spec_grace.is_number_integer() ? spec_grace.get<int64_t>()
                                                         : 30;
  bool running = false;
  for (const Json& c : json_at(json_at(pod, "status"), "containerStatuses"))
    running = running || !json_at(json_at(c, "state"), "running").is_null();
  if (!running || grace <= 0) return store.remove(key);
  if (!json_at(pod["metadata"], "deletionTimestamp").is_null()) return pod;
  pod["metadata"]["deletionTimestamp"] = rfc3339::seconds_after(std::chrono::seconds(grace));
  pod["metadata"]["deletionGracePeriodSeconds"] = grace;
  return store.update(key.resource, std::move(pod));
}

}  // namespace ticketctl::store
