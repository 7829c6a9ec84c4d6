#pragma once
// What the API server does to a valid object on its way into the store, beyond validation:
// a Secret's write-only stringData is merged into data, fields that may not change are kept
// from changing, and an object larger than the store takes (etcd's request limit) is refused.
// Pure; any thread.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/manifest/json.h"

namespace ticketctl::api {

// Moves each stringData value into data, base64-encoded, replacing a data key of the same name,
// and drops stringData, as the API server does before storing a Secret.
void merge_string_data(Json& secret);

// A field an update may not change, as the API server's validation names it.
struct ForbiddenChange {
  std::string field;    // "data", "binaryData", "immutable"
  std::string message;  // "field is immutable when `immutable` is set"
};
// What an update of a stored ConfigMap or Secret changes that it may not: once `immutable` is
// true, data, binaryData and immutable itself stay as they are. Empty for other objects, and
// for a stored object that is not immutable. A missing map and an empty one are the same.
std::vector<ForbiddenChange> immutable_changes(const Json& stored, const Json& updated);

// A Deployment's or ReplicaSet's spec.selector changed by an update: the API server refuses it
// ("field is immutable"), since the workload would lose the pods it made. Returns the detail
// as the API server words it for field spec.selector, "Invalid value: v1.LabelSelector{...}:
// field is immutable" (the updated selector, printed as Go prints it), or nullopt when the
// selector is the same. Absent and empty matchLabels/matchExpressions are the same.
std::optional<std::string> selector_change(const Json& stored, const Json& updated);
// Whether objects of this store key ("deployments.apps") keep their selector: the kinds
// selector_change is for. A Service's selector may change.
bool has_immutable_selector(std::string_view store_key);
// How `up`, `dev` and `apply --force` report an object they deleted and created again because
// the API server would refuse the update: "deployment.apps/NAME " + one of these.
inline constexpr char kReplacedForSelector[] =
    "replaced (spec.selector changed, and it cannot be updated: deleted and created again)";
inline constexpr char kReplacedForImmutableData[] =
    "replaced (it is immutable and its data changed, so it cannot be updated: deleted and "
    "created again)";
// Whether updating `stored` (of this store key) to `updated` is what the API server refuses
// because a field cannot change: a Deployment's or ReplicaSet's new selector, an immutable
// ConfigMap's or Secret's new data (a Secret's stringData counted as the server merges it).
// Returns the kReplacedFor... line for it, or nullptr when the update can be made in place.
const char* replacement_reason(std::string_view store_key, const Json& stored, const Json& updated);

// Why `object` cannot be stored (the reply is 413), or nullopt when it fits.
std::optional<std::string> too_large_to_store(const Json& object);

}  // namespace ticketctl::api
