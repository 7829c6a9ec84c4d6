#pragma once
// The object model on the wire and in the store is Kubernetes JSON. Keys keep the order the
// user wrote them in, so YAML -> JSON -> YAML reads like the original.

#include <nlohmann/json.hpp>

#include <string_view>

namespace ticketctl {
using Json = nlohmann::ordered_json;

// v[key] for reading: a null when `v` is not an object or has no such key. Unlike operator[]
// on a const object, never undefined behaviour.
inline const Json& json_at(const Json& v, std::string_view key) {
  static const Json kNull;
  if (!v.is_object()) return kNull;
  auto it = v.find(key);
  return it == v.end() ? kNull : *it;
}

}  // namespace ticketctl
