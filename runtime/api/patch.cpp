#include "runtime/api/patch.h"

#include <fmt/format.h>

#include <string>
#include <unordered_map>

#include "runtime/core/limits.h"
#include "runtime/manifest/json_input.h"

namespace ticketctl::api {
namespace {

bool is_directive(const std::string& key) {
  return key.starts_with("$");
}

Json merge_list(Json original, const Json& patch, std::string_view field) {
  const std::string_view key = merge_key(field);
  if (key.empty() || !original.is_array()) return patch;
  Json out = std::move(original);
  // Elements by their key's JSON text, so a long list patches in linear time; deleted ones are
  // left as discarded values and dropped at the end, so the indexes stay valid meanwhile.
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < out.size(); ++i)
    if (const Json* k = merge_key_of(out[i], key)) index.emplace(k->dump(), i);
  bool removed = false;
  for (const Json& element : patch) {
    const Json* k = merge_key_of(element, key);
    if (!k) {
      out.push_back(element);
      continue;
    }
    const std::string text = k->dump();
    auto same = index.find(text);
    const bool remove = element.is_object() && element.value("$patch", "") == "delete";
    if (same == index.end()) {
      if (remove) continue;
      out.push_back(strategic_merge(Json::object(), element));
      index.emplace(text, out.size() - 1);
    } else if (remove) {
      out[same->second] = Json(Json::value_t::discarded);
      index.erase(same);
      removed = true;
    } else {
      out[same->second] = strategic_merge(std::move(out[same->second]), element);
    }
  }
  if (removed) {
    Json kept = Json::array();
    for (Json& e : out)
      if (!e.is_discarded()) kept.push_back(std::move(e));
    out = std::move(kept);
  }
  return out;
}

// RFC 6902, one operation at a time, so that "copy" cannot double the object until memory runs
// out. A value takes at least two bytes when the object is stored (itself and a separator), so
// an object of more values than half the store's byte limit could never be stored anyway; the
// size is checked before each copy is made.
Result<Json> json_patch(const Json& original, const Json& operations) {
  if (operations.size() > limits::kMaxJsonPatchOperations)
    return Error{ErrorCode::Invalid,
                 fmt::format("the JSON patch has {} operations; at most {} are allowed",
                             operations.size(), limits::kMaxJsonPatchOperations)};
  Json out = original;
  constexpr size_t kMaxValues = limits::kMaxObjectBytes / 2;
  size_t values = json_size(out, kMaxValues);
  try {
    for (const Json& op : operations) {
      if (op.is_object() && op.value("op", "") == "copy" && json_at(op, "from").is_string()) {
        const Json::json_pointer from(op["from"].get<std::string>());
        if (out.contains(from)) values += json_size(out.at(from), kMaxValues);
        if (values > kMaxValues)
          return Error{ErrorCode::Invalid,
                       fmt::format("the JSON patch makes the object larger than {} bytes, the "
                                   "most an object can be",
                                   limits::kMaxObjectBytes)};
      }
      out.patch_inplace(Json::array({op}));
    }
  } catch (const nlohmann::json::exception& e) {
    return Error{ErrorCode::Invalid, fmt::format("the JSON patch cannot be applied: {}", e.what())};
  }
  return out;
}

}  // namespace

// Merge keys of the list fields users patch, by field name, as in Kubernetes' types
// (patchMergeKey). Lists not named here are replaced whole.
std::string_view merge_key(std::string_view field) {
  if (field == "containers" || field == "initContainers" || field == "env" || field == "volumes" ||
      field == "imagePullSecrets")
    return "name";
  if (field == "volumeMounts") return "mountPath";
  if (field == "ports") return "port";  // containerPort for containers: see merge_key_of
  return "";
}

// Container ports merge on containerPort, Service ports on port.
const Json* merge_key_of(const Json& element, std::string_view key) {
  if (!element.is_object()) return nullptr;
  if (key == "port" && element.contains("containerPort")) return &element["containerPort"];
  auto it = element.find(key);
  return it == element.end() ? nullptr : &*it;
}

Json strategic_merge(Json original, const Json& patch, std::string_view field) {
  if (patch.is_array()) return merge_list(std::move(original), patch, field);
  if (!patch.is_object()) return patch;
  if (patch.value("$patch", "") == "replace") {
    Json replaced = patch;
    replaced.erase("$patch");
    return replaced;
  }
  // Moved, not copied, down the tree: a deep patch must not hold a copy of the object per level.
  Json out = original.is_object() ? std::move(original) : Json::object();
  for (auto& [k, v] : patch.items()) {
    // $setElementOrder, $retainKeys and friends only order or prune what kubectl already sends.
    if (is_directive(k)) continue;
    if (v.is_null()) {
      out.erase(k);
      continue;
    }
    Json child = out.contains(k) ? std::move(out[k]) : Json();
    out[k] = strategic_merge(std::move(child), v, k);
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
  Result<Json> parsed = parse_json(body);
  if (!parsed.ok())
    return Error{ErrorCode::Invalid, fmt::format("the patch: {}", parsed.error().message)};
  const Json& patch = parsed.value();
  Result<Json> out = Error{ErrorCode::Invalid, ""};
  if (type == "application/merge-patch+json") {
    Json merged = original;
    merged.merge_patch(patch);
    out = std::move(merged);
  } else if (type == "application/strategic-merge-patch+json") {
    if (!patch.is_object())
      return Error{ErrorCode::Invalid, "a strategic merge patch must be a JSON object"};
    out = strategic_merge(original, patch);
  } else if (type == "application/json-patch+json") {
    if (!patch.is_array())
      return Error{ErrorCode::Invalid, "a JSON patch must be an array of operations"};
    out = json_patch(original, patch);
  } else {
    return Error{ErrorCode::Invalid,
                 fmt::format("unsupported patch type {}: use application/merge-patch+json, "
                             "application/json-patch+json or "
                             "application/strategic-merge-patch+json",
                             std::string(content_type))};
  }
  // A JSON patch can add a deep value at a deep path; what follows recurses over the result.
  if (out.ok() && json_depth(out.value()) > limits::kMaxNestingDepth)
    return Error{ErrorCode::Invalid,
                 fmt::format("the patched object nests deeper than {} levels (see "
                             "docs/limits.md)",
                             limits::kMaxNestingDepth)};
  return out;
}

}  // namespace ticketctl::api
