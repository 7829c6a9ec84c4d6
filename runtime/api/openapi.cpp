#include "runtime/api/openapi.h"

#include <fmt/format.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runtime/api/legacy_versions.h"
#include "runtime/api/resources.h"

namespace ticketctl::api {
namespace {

// "api/v1", "apis/apps/v1": how the index names a group/version, as client-go's openapi3 does.
std::string index_key(const Resource& r) {
  return r.group.empty() ? fmt::format("api/{}", r.version)
                         : fmt::format("apis/{}/{}", r.group, r.version);
}

Json path_parameter(std::string_view name) {
  return {{"name", name}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}};
}

// kubectl sends this parameter only when a PATCH operation declares it, and then leaves
// validation to the server instead of downloading OpenAPI v2 schemas.
Json field_validation_parameter() {
  return {{"name", "fieldValidation"},
          {"in", "query"},
          {"description",
           "Unknown fields: Strict refuses the object (the default), Warn drops them with a "
           "Warning header, Ignore drops them silently."},
          {"schema", {{"type", "string"}, {"enum", {"Ignore", "Warn", "Strict"}}}}};
}

Json operation(const Resource& r, std::string_view action, bool writes) {
  Json op = {{"x-kubernetes-action", action},
             {"x-kubernetes-group-version-kind",
              {{"group", r.group}, {"version", r.version}, {"kind", r.kind}}},
             {"responses", {{"200", {{"description", "OK"}}}}}};
  if (writes) op["parameters"] = Json::array({field_validation_parameter()});
  return op;
}

// The paths ApiHandler serves for one resource. No request or response schemas: the server's
// validation is the schema, and its messages name the offending field.
void add_paths(const Resource& r, Json& paths) {
  const std::string base = r.group.empty() ? fmt::format("/api/{}", r.version)
                                           : fmt::format("/apis/{}/{}", r.group, r.version);
  const std::string scope = r.namespaced ? base + "/namespaces/{namespace}" : base;
  Json scope_params = Json::array();
  if (r.namespaced) scope_params.push_back(path_parameter("namespace"));
  Json item_params = scope_params;
  item_params.push_back(path_parameter("name"));

  const std::string collection = fmt::format("{}/{}", scope, r.plural);
  paths[collection] = {{"parameters", scope_params},
                       {"get", operation(r, "list", false)},
                       {"post", operation(r, "post", true)}};
  paths[collection + "/{name}"] = {{"parameters", item_params},
                                   {"get", operation(r, "get", false)},
                                   {"put", operation(r, "put", true)},
                                   {"patch", operation(r, "patch", true)},
                                   {"delete", operation(r, "delete", false)}};
  if (r.namespaced)  // every namespace at once
    paths[fmt::format("{}/{}", base, r.plural)] = {{"get", operation(r, "list", false)}};
}

std::map<std::string, Json> build_documents() {
  std::map<std::string, Json> docs;
  std::vector<const Resource*> served;
  for (const Resource& r : all_resources()) served.push_back(&r);
  // kubectl validates a legacy Ingress on the server when its version declares fieldValidation.
  for (const Resource& r : legacy_resources()) served.push_back(&r);
  for (const Resource* row : served) {
    const Resource& r = *row;
    Json& doc = docs[index_key(r)];
    if (doc.is_null())
      doc = {{"openapi", "3.0.0"},
             {"info", {{"title", "ticketctl"}, {"version", TICKETCTL_VERSION}}},
             {"paths", Json::object()},
             // Empty rather than absent: `kubectl explain` then says it has nothing to show.
             {"components", {{"schemas", Json::object()}}}};
    add_paths(r, doc["paths"]);
  }
  return docs;
}

const std::map<std::string, Json>& documents() {
  static const std::map<std::string, Json> docs = build_documents();
  return docs;
}

// FNV-1a: stable across runs, so a client's cache survives restarts of the same server.
std::string digest(const std::string& text) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("{:016X}", h);
}

}  // namespace

Json openapi_v3_index() {
  Json paths = Json::object();
  for (const auto& [key, doc] : documents())
    paths[key] = {
        {"serverRelativeURL", fmt::format("/openapi/v3/{}?hash={}", key, digest(doc.dump()))}};
  return {{"paths", std::move(paths)}};
}

std::optional<Json> openapi_v3_document(std::string_view path) {
  const auto it = documents().find(std::string(path));
  if (it == documents().end()) return std::nullopt;
  return it->second;
}

}  // namespace ticketctl::api
