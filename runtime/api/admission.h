#pragma once
// What the API server does to a valid object on its way into the store, beyond validation:
// a Secret's write-only stringData is merged into data, and an object larger than the store
// takes (etcd's request limit) is refused. Pure; any thread.

#include <optional>
#include <string>

#include "runtime/manifest/json.h"

namespace ticketctl::api {

// Moves each stringData value into data, base64-encoded, replacing a data key of the same name,
// and drops stringData, as the API server does before storing a Secret.
void merge_string_data(Json& secret);

// Why `object` cannot be stored (the reply is 413), or nullopt when it fits.
std::optional<std::string> too_large_to_store(const Json& object);

}  // namespace ticketctl::api
