#include "runtime/api/admission.h"

#include <fmt/format.h>

#include "runtime/core/limits.h"
#include "runtime/core/strings.h"

namespace ticketctl::api {

void merge_string_data(Json& secret) {
  if (!secret.is_object() || !secret.contains("stringData")) return;
  Json string_data = std::move(secret["stringData"]);
  secret.erase("stringData");
  if (!string_data.is_object() || string_data.empty()) return;
  Json& data = secret["data"];
  if (!data.is_object()) data = Json::object();
  for (auto& [key, value] : string_data.items())
    if (value.is_string()) data[key] = base64_encode(value.get_ref<const std::string&>());
}

std::vector<ForbiddenChange> immutable_changes(const Json& stored, const Json& updated) {
  std::vector<ForbiddenChange> forbidden;
  if (!stored.is_object() || !updated.is_object() || json_at(stored, "immutable") != true)
    return forbidden;
  constexpr const char* kWhy = "field is immutable when `immutable` is set";
  if (json_at(updated, "immutable") != true) forbidden.push_back({"immutable", kWhy});
  const auto map_at = [](const Json& o, const char* key) {
    const Json& m = json_at(o, key);
    return m.is_null() ? Json::object() : m;
  };
  for (const char* key : {"data", "binaryData"})
    if (map_at(stored, key) != map_at(updated, key)) forbidden.push_back({key, kWhy});
  return forbidden;
}

std::optional<std::string> too_large_to_store(const Json& object) {
  const size_t bytes = object.dump().size();
  if (bytes <= limits::kMaxObjectBytes) return std::nullopt;
  return fmt::format(
      "Request entity too large: the object is {} bytes; the store takes objects "
      "up to {} bytes (etcd's request limit)",
      bytes, limits::kMaxObjectBytes);
}

}  // namespace ticketctl::api
