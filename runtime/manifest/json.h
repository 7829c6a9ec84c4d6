#pragma once
// The object model on the wire and in the store is Kubernetes JSON. Keys keep the order the
// user wrote them in, so YAML -> JSON -> YAML reads like the original.

#include <nlohmann/json.hpp>

#include <string>
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

// A string value, or "" for anything else (absent, null, a number): how controllers, printers
// and the CLI read optional string fields of validated objects.
inline std::string str(const Json& v) {
  return v.is_string() ? v.get<std::string>() : std::string();
}

// Equality with objects compared as maps, whatever order their keys were written in: kubectl
// sends keys sorted, manifests keep the author's order, and both spell the same object.
// Recursive: for values whose nesting is already bounded (validated or parsed with budgets).
inline bool same_json(const Json& a, const Json& b) {
  if (a.is_object() && b.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      auto other = b.find(it.key());
      if (other == b.end() || !same_json(*it, *other)) return false;
    }
    return true;
  }
  if (a.is_array() && b.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!same_json(a[i], b[i])) return false;
    return true;
  }
  return a == b;
}

}  // namespace ticketctl
