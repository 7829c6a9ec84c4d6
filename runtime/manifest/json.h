#pragma once
// The object model on the wire and in the store is Kubernetes JSON. Keys keep the order the
// user wrote them in, so YAML -> JSON -> YAML reads like the original.

#include <nlohmann/json.hpp>

namespace ticketctl {
using Json = nlohmann::ordered_json;
}
