#pragma once
// Kubernetes JSON -> YAML text in kubectl's layout (two-space indent, list items flush with
// their key). Strings that YAML would read as another type are quoted, so the output reads
// back as the same JSON. Pure; any thread.

#include <string>

#include "runtime/manifest/json.h"

namespace ticketctl::manifest {

std::string to_yaml(const Json& value);

}  // namespace ticketctl::manifest
