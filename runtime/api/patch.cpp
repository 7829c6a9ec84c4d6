#include "runtime/api/patch.h"

#include <fmt/format.h>

namespace ticketctl::api {
namespace {

// Merge keys of the list fields users patch, by field name, as in Kubernetes' types
// (patchMergeKey). Lists not named here are replaced whole.
std::string_view merge_key(std::string_view field) {
  if (field == "containers" || field == "initContainers" || field == "env" || field == "volumes" ||
      field == "imagePullSecrets")
    return "name";
  if (field == "volumeMounts") return "mountPath";
  if (field == "ports") return "port";  // containerPort for containers: see key_of
  return "";
}

// Container ports merge on containerPort, Service ports on port.
const Json* key_of(const Json& element, std::string_view key) {
  if (!element.is_object()) return nullptr;
  if (key == "port" && element.contains("containerPort")) return &element["containerPort"];
  auto it = element.find(key);
  return it == element.end() ? nullptr : &*it;
}

bool is_directive(const std::string& key) {
  return key.starts_with("$");
}

Json merge_list(const Json& original, const Json& patch, std::string_view field) {
  const std::string_view key = merge_key(field);
  if (key.empty() || !original.is_array()) return patch;
  Json out = original;
  for (const Json& element : patch) {
    const Json* k = key_of(element, key);
    if (!k) {
      out.push_back(element);
      continue;
    }
    auto same = std::find_if(out.begin(), out.end(), [&](const Json& o) {
      const Json* ok = key_of(o, key);
      return ok && *ok == *k;
    });
    const bool remove = element.is_object() && element.value("$patch", "") == "delete";
    if (same == out.end()) {
      if (!remove) out.push_back(strategic_merge(Json::object(), element));
    } else if (remove) {
      out.erase(same);
    } else {
      *same = strategic_merge(*same, element);
    }
  }
  return out;
}

}  // namespace

Json strategic_merge(const Json& original, const Json& patch, std::string_view field) {
  if (patch.is_array()) return merge_list(original, patch, field);
  if (!patch.is_object()) return patch;
  if (patch.value("$patch", "") == "replace") {
    Json replaced = patch;
    replaced.erase("$patch");
    return replaced;
  }
  Json out = original.is_object() ? original : Json::object();
  for (auto& [k, v] : patch.items()) {
    // $setElementOrder, $retainKeys and friends only order or prune what kubectl already sends.
    if (is_directive(k)) continue;
    if (v.is_null()) {
      out.erase(k);
      continue;
    }
    out[k] = strategic_merge(out.contains(k) ? out[k] : Json(), v, k);
  }
  return out;
}

bool is_patch_type(std::string_view content_type) {
  const std::string_view type = content_type.substr(0, content_type.find(';'));
  return type == "application/merge-patch+json" || type == "application/json-patch+json" ||
         type == "application/strategic-merge-patch+json";
}

Result<Json> apply_patch(const Json& original, std::string_view content_type,
                         const std::string& body) {
  const std::string_view type = content_type.substr(0, content_type.find(';'));
  const Json patch = Json::parse(body, nullptr, false);
  if (patch.is_discarded()) return Error{ErrorCode::Invalid, "the patch is not valid JSON"};
  if (type == "application/merge-patch+json") {
    Json out = original;
    out.merge_patch(patch);
    return out;
  }
  if (type == "application/strategic-merge-patch+json") {
    if (!patch.is_object())
      return Error{ErrorCode::Invalid, "a strategic merge patch must be a JSON object"};
    return strategic_merge(original, patch);
  }
  if (type == "application/json-patch+json") {
    if (!patch.is_array())
      return Error{ErrorCode::Invalid, "a JSON patch must be an array of operations"};
    try {
      return original.patch(patch);
    } catch (const nlohmann::json::exception& e) {
      return Error{ErrorCode::Invalid,
                   fmt::format("the JSON patch cannot be applied: {}", e.what())};
    }
  }
  return Error{ErrorCode::Invalid,
               fmt::format("unsupported patch type {}: use application/merge-patch+json, "
                           "application/json-patch+json or application/strategic-merge-patch+json",
                           std::string(content_type))};
}

}  // namespace ticketctl::api
