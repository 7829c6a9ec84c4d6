#include "runtime/api/apply.h"

#include <fmt/format.h>

#include "runtime/api/patch.h"
#include "runtime/manifest/json_input.h"
#include "runtime/manifest/legacy.h"

namespace ticketctl::api {
namespace {

// Go's encoding/json escapes these inside strings (its HTML-safe default); they occur nowhere
// else in JSON text, so replacing them in nlohmann's output is exact.
std::string go_escapes(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '<')
      out += "\\u003c";
    else if (c == '>')
      out += "\\u003e";
    else if (c == '&')
      out += "\\u0026";
    else if (c == '\xE2' && i + 2 < text.size() && text[i + 1] == '\x80' &&
             (text[i + 2] == '\xA8' || text[i + 2] == '\xA9')) {
      out += text[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

bool is_legacy_ingress(const Json& o) {
  const Json& v = json_at(o, "apiVersion");
  return json_at(o, "kind") == "Ingress" &&
         (v == "networking.k8s.io/v1beta1" || v == "extensions/v1beta1");
}

// The strategic merge patch kubectl computes from the previous apply (`original`) to this one
// (`modified`), as far as it changes the result: `modified` itself, plus a null for each field
// `original` had and `modified` dropped, and a `$patch: delete` for each keyed list element.
Json three_way_patch(const Json& original, const Json& modified, std::string_view field) {
  if (original.is_object() && modified.is_object()) {
    Json patch = Json::object();
    for (auto it = modified.begin(); it != modified.end(); ++it) {
      auto before = original.find(it.key());
      patch[it.key()] = before == original.end() ? *it : three_way_patch(*before, *it, it.key());
    }
    for (auto it = original.begin(); it != original.end(); ++it)
      if (!modified.contains(it.key())) patch[it.key()] = nullptr;
    return patch;
  }
  const std::string_view key = merge_key(field);
  if (key.empty() || !original.is_array() || !modified.is_array()) return modified;
  Json patch = Json::array();
  for (const Json& element : modified) {
    const Json* k = merge_key_of(element, key);
    const Json* before = nullptr;
    for (const Json& o : original)
      if (const Json* ok = merge_key_of(o, key); k && ok && *ok == *k) before = &o;
    patch.push_back(before ? three_way_patch(*before, element, {}) : element);
  }
  for (const Json& o : original) {
    const Json* ok = merge_key_of(o, key);
    if (!ok) continue;
    bool kept = false;
    for (const Json& element : modified)
      if (const Json* k = merge_key_of(element, key); k && *k == *ok) kept = true;
    if (kept) continue;
    // The element's own key field, so merge_key_of finds it (containerPort, not port).
    const std::string name(key == "port" && o.contains("containerPort") ? "containerPort" : key);
    Json removal = {{name, *ok}, {"$patch", "delete"}};
    patch.push_back(std::move(removal));
  }
  return patch;
}

}  // namespace

std::string last_applied_configuration(const Json& manifest) {
  // nlohmann::json (not ordered_json) sorts keys bytewise, as Go sorts a map's keys.
  nlohmann::json sorted = nlohmann::json::parse(
      manifest.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  if (!sorted.is_object()) return "null\n";
  nlohmann::json& meta = sorted["metadata"];
  if (!meta.is_object()) meta = nlohmann::json::object();
  nlohmann::json& annotations = meta["annotations"];
  if (!annotations.is_object()) annotations = nlohmann::json::object();
  annotations.erase(std::string(kLastAppliedAnnotation));
  return go_escapes(sorted.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) + "\n";
}

Json annotated_for_apply(const manifest::Object& o, bool namespaced) {
  Json body = o.body;
  Json written = o.written.is_null() ? o.body : o.written;
  if (namespaced) {
    body["metadata"]["namespace"] = o.ns;
    written["metadata"]["namespace"] = o.ns;
  }
  Json& annotations = body["metadata"]["annotations"];
  if (!annotations.is_object()) annotations = Json::object();
  annotations[std::string(kLastAppliedAnnotation)] = last_applied_configuration(written);
  return body;
}

Merged merge_applied(const Json& current, const Json& modified) {
  const Json& annotation =
      json_at(json_at(json_at(current, "metadata"), "annotations"), kLastAppliedAnnotation);
  Json original;
  if (annotation.is_string()) {
    // Anyone may have written the annotation: parsed within the input budgets, and ignored (as
    // if absent) when it is not an object.
    Result<Json> parsed = parse_json(annotation.get<std::string>());
    if (parsed.ok() && parsed.value().is_object()) original = std::move(parsed.value());
  }
  // A legacy Ingress was recorded as written; its fields are compared in the stored version.
  if (is_legacy_ingress(original)) original = manifest::convert_legacy_ingress(original);
  Json patch = original.is_object() ? three_way_patch(original, modified, {}) : modified;
  return {strategic_merge(current, patch), original.is_object()};
}

}  // namespace ticketctl::api
