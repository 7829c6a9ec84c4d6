#include "runtime/api/admission.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

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

namespace {

// Go's %#v of a []string: []string{"a", "b"}, or []string(nil).
std::string go_strings(const Json& values) {
  if (!values.is_array() || values.empty()) return "[]string(nil)";
  std::string out = "[]string{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ", ";
    out +=
        quote(values[i].is_string() ? values[i].get_ref<const std::string&>() : values[i].dump());
  }
  return out + "}";
}

// Go's %#v of a metav1.LabelSelector, as the API server prints the value it refuses:
// map keys sorted, nil for an empty map or list.
std::string go_label_selector(const Json& selector) {
  const Json& labels = json_at(selector, "matchLabels");
  const Json& expressions = json_at(selector, "matchExpressions");
  std::string out = "v1.LabelSelector{MatchLabels:";
  if (!labels.is_object() || labels.empty()) {
    out += "map[string]string(nil)";
  } else {
    std::vector<std::pair<std::string, std::string>> sorted;
    for (auto& [key, value] : labels.items())
      sorted.emplace_back(key, value.is_string() ? value.get<std::string>() : value.dump());
    std::sort(sorted.begin(), sorted.end());
    out += "map[string]string{";
    for (size_t i = 0; i < sorted.size(); ++i)
      out += fmt::format("{}{}:{}", i ? ", " : "", quote(sorted[i].first), quote(sorted[i].second));
    out += "}";
  }
  out += ", MatchExpressions:";
  if (!expressions.is_array() || expressions.empty()) {
    out += "[]v1.LabelSelectorRequirement(nil)";
  } else {
    out += "[]v1.LabelSelectorRequirement{";
    for (size_t i = 0; i < expressions.size(); ++i) {
      const Json& e = expressions[i];
      const auto text = [&](const char* key) {
        const Json& v = json_at(e, key);
        return quote(v.is_string() ? v.get_ref<const std::string&>() : std::string());
      };
      out += fmt::format("{}v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                         i ? ", " : "", text("key"), text("operator"),
                         go_strings(json_at(e, "values")));
    }
    out += "}";
  }
  return out + "}";
}

// matchLabels and matchExpressions, with an absent one and an empty one alike.
Json normal_selector(const Json& selector) {
  Json out = Json::object();
  for (const char* key : {"matchLabels", "matchExpressions"}) {
    const Json& v = json_at(selector, key);
    if (!v.is_null() && !v.empty()) out[key] = v;
  }
  return out;
}

}  // namespace

std::optional<std::string> selector_change(const Json& stored, const Json& updated) {
  if (!stored.is_object() || !updated.is_object()) return std::nullopt;
  const Json& before = json_at(json_at(stored, "spec"), "selector");
  const Json& after = json_at(json_at(updated, "spec"), "selector");
  if (before.is_null() || normal_selector(before) == normal_selector(after)) return std::nullopt;
  return fmt::format("Invalid value: {}: field is immutable", go_label_selector(after));
}

bool has_immutable_selector(std::string_view store_key) {
  return store_key == "deployments.apps" || store_key == "replicasets.apps";
}

const char* replacement_reason(std::string_view store_key, const Json& stored,
                               const Json& updated) {
  if (has_immutable_selector(store_key) && selector_change(stored, updated))
    return kReplacedForSelector;
  if (store_key == "configmaps" && !immutable_changes(stored, updated).empty())
    return kReplacedForImmutableData;
  if (store_key == "secrets") {
    Json merged = updated;
    merge_string_data(merged);
    if (!immutable_changes(stored, merged).empty()) return kReplacedForImmutableData;
  }
  return nullptr;
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
