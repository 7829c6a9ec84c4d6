#pragma once
// YAML scalar resolution as Kubernetes' YAML decoder (go-yaml v2, YAML 1.1) does it: a plain
// `yes`, `on` or `3000` is not a string, which is why `value: yes` in an env entry fails on a real
// cluster. Pure functions; any thread.

#include <string_view>

#include "runtime/manifest/json.h"

namespace ticketctl::manifest {

// `tag` is yaml-cpp's: "?" for a plain scalar, "!" for a quoted or block scalar, else explicit.
Json resolve_scalar(std::string_view text, std::string_view tag);

// How a resolved value is named in messages: "string", "integer", "boolean", "number", "null".
std::string_view json_type_name(const Json& v);

}  // namespace ticketctl::manifest
