#include "runtime/api/handler.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "runtime/api/admission.h"
#include "runtime/api/legacy_versions.h"
#include "runtime/api/openapi.h"
#include "runtime/api/patch.h"
#include "runtime/api/printers.h"
#include "runtime/api/protobuf.h"
#include "runtime/api/resources.h"
#include "runtime/api/selector.h"
#include "runtime/core/strings.h"
#include "runtime/manifest/json_input.h"
#include "runtime/manifest/label_selector.h"
#include "runtime/manifest/loader.h"
#include "runtime/store/pod_deletion.h"

namespace ticketctl::api {
namespace {

constexpr const char* kKubernetesVersion = "v1.32.0";

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    const size_t end = slash == std::string_view::npos ? path.size() : slash;
    if (end > start) out.emplace_back(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

std::string_view reason_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::NotFound:
      return "NotFound";
    case ErrorCode::AlreadyExists:
      return "AlreadyExists";
    case ErrorCode::Conflict:
      return "Conflict";
    case ErrorCode::Invalid:
      return "Invalid";
    case ErrorCode::Internal:
      return "InternalError";
  }
  return "InternalError";
}

int http_code_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::NotFound:
      return 404;
    case ErrorCode::AlreadyExists:
    case ErrorCode::Conflict:
      return 409;
    case ErrorCode::Invalid:
      return 422;
    case ErrorCode::Internal:
      return 500;
  }
  return 500;
}

Response failure(int code, std::string_view reason, std::string_view message,
                 Json details = Json()) {
  return {code, status_json(code, reason, message, std::move(details))};
}

Response from_error(const Error& e, const Resource& r, std::string_view name) {
  Json details = {{"name", name}, {"group", r.group}, {"kind", r.plural}};
  return failure(http_code_of(e.code), reason_of(e.code), e.message, std::move(details));
}

Response not_served() {
  return failure(404, "NotFound", "the server could not find the requested resource");
}

bool has_scale(const Resource& r) {
  return r.plural == "deployments" || r.plural == "replicasets";
}

// The autoscaling/v1 Scale of a Deployment or ReplicaSet, as `kubectl scale` reads it.
Json scale_of(const Json& o) {
  const Json& meta = o["metadata"];
  // The whole selector, matchExpressions included: HPA and `kubectl scale` select pods by it.
  // A stored selector was validated, so it converts.
  const std::string selector =
      manifest::label_selector_string(json_at(json_at(o, "spec"), "selector")).value_or("");
  const Json& replicas = json_at(json_at(o, "spec"), "replicas");
  const Json& observed = json_at(json_at(o, "status"), "replicas");
  return {
      {"kind", "Scale"},
      {"apiVersion", "autoscaling/v1"},
      {"metadata",
       {{"name", meta["name"]},
        {"namespace", meta["namespace"]},
        {"uid", meta["uid"]},
        {"resourceVersion", meta["resourceVersion"]},
        {"creationTimestamp", meta["creationTimestamp"]}}},
      {"spec", {{"replicas", replicas.is_number_integer() ? replicas : Json(1)}}},
      {"status",
       {{"replicas", observed.is_number_integer() ? observed : Json(0)}, {"selector", selector}}}};
}

// GET, PUT and PATCH of .../NAME/scale: only spec.replicas of the object changes. A Scale
// carrying a resourceVersion is refused when the object has changed since, as the object is.
Response scale_subresource(store::Store& store, const Resource& r, const std::string& ns,
                           const std::string& name, const Request& req, bool& changed) {
  Result<Json> current = store.get({r.store_key(), ns, name});
  if (!current.ok()) return from_error(current.error(), r, name);
  if (req.method == "GET") return {200, scale_of(current.value())};
  Json scale;
  if (req.method == "PATCH") {
    if (!is_patch_type(req.content_type))
      return failure(
          415, "UnsupportedMediaType",
          fmt::format("the body of the request was in an unknown format ({})", req.content_type));
    Result<Json> patched = apply_patch(scale_of(current.value()), req.content_type, req.body);
    if (!patched.ok()) return failure(422, "Invalid", patched.error().message);
    scale = std::move(patched.value());
  } else if (req.method == "PUT") {
    Result<Json> parsed = parse_json(req.body);
    if (!parsed.ok()) return failure(400, "BadRequest", parsed.error().message);
    scale = std::move(parsed.value());
    if (!scale.is_object()) return failure(400, "BadRequest", "the body must be a Scale object");
  } else {
    return failure(405, "MethodNotAllowed",
                   fmt::format("{} is not allowed on this path", req.method));
  }
  const Json& replicas = json_at(json_at(scale, "spec"), "replicas");
  if (!replicas.is_number_integer() || replicas.get<int64_t>() < 0)
    return failure(422, "Invalid",
                   fmt::format("Scale.autoscaling {} is invalid: spec.replicas: Invalid value: "
                               "{}: must be greater than or equal to 0",
                               quote(name), replicas.dump()));
  Json o = std::move(current.value());
  const Json& rv = json_at(json_at(scale, "metadata"), "resourceVersion");
  if (rv.is_string() && !rv.get<std::string>().empty()) o["metadata"]["resourceVersion"] = rv;
  o["spec"]["replicas"] = replicas;
  Result<Json> stored = store.update(r.store_key(), std::move(o));
  if (!stored.ok()) return from_error(stored.error(), r, name);
  changed = true;
  return {200, scale_of(stored.value())};
}

Json resource_list(std::string_view group_version) {
  Json resources = Json::array();
  for (const Resource& r : all_resources()) {
    if (r.api_version() != group_version) continue;
    Json entry = {{"name", r.plural},
                  {"singularName", r.singular},
                  {"namespaced", r.namespaced},
                  {"kind", r.kind},
                  {"verbs", read_only(r) ? Json{"get", "list", "watch"}
                                         : Json{"create", "delete", "get", "list", "patch",
                                                "update", "watch"}}};
    if (!r.short_names.empty()) entry["shortNames"] = r.short_names;
    if (!r.categories.empty()) entry["categories"] = r.categories;
    resources.push_back(std::move(entry));
    if (has_scale(r))  // kubectl scale finds the subresource's kind here
      resources.push_back({{"name", fmt::format("{}/scale", r.plural)},
                           {"singularName", ""},
                           {"namespaced", true},
                           {"group", "autoscaling"},
                           {"version", "v1"},
                           {"kind", "Scale"},
                           {"verbs", {"get", "patch", "update"}}});
  }
  return {{"kind", "APIResourceList"},
          {"apiVersion", "v1"},
          {"groupVersion", group_version},
          {"resources", std::move(resources)}};
}

Json group_list() {
  Json groups = Json::array();
  std::vector<std::string_view> seen;
  for (const Resource& r : all_resources()) {
    if (r.group.empty() || std::find(seen.begin(), seen.end(), r.group) != seen.end()) continue;
    seen.push_back(r.group);
    const Json version = {{"groupVersion", r.api_version()}, {"version", r.version}};
    groups.push_back({{"name", r.group}, {"versions", {version}}, {"preferredVersion", version}});
  }
  // Legacy versions after the served ones: kubectl prefers the first group that has a resource.
  for (const Resource& r : legacy_resources()) {
    const Json version = {{"groupVersion", r.api_version()}, {"version", r.version}};
    auto same = std::find_if(groups.begin(), groups.end(),
                             [&](const Json& g) { return g["name"] == r.group; });
    if (same != groups.end())
      (*same)["versions"].push_back(version);
    else
      groups.push_back({{"name", r.group}, {"versions", {version}}, {"preferredVersion", version}});
  }
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", std::move(groups)}};
}

std::string query_value(const Request& req, const std::string& key) {
  auto it = req.query.find(key);
  return it == req.query.end() ? std::string() : it->second;
}

// 422 Invalid in the API server's words: `Kind "name" is invalid: field: message, ...`, with one
// cause per field.
Response invalid_object(const Resource& r, const std::string& name, Json causes,
                        const std::vector<std::string>& parts) {
  const std::string kind =
      r.group.empty() ? std::string(r.kind) : fmt::format("{}.{}", r.kind, r.group);
  Json details = {{"name", name}, {"group", r.group}, {"kind", r.kind}, {"causes", causes}};
  return failure(422, "Invalid",
                 fmt::format("{} {} is invalid: {}", kind, quote(name), join(parts, ", ")),
                 std::move(details));
}

// Causes in the form clients show them: one per field, as the API server lists them.
Response invalid(const manifest::LoadResult& loaded, const Resource& r) {
  Json causes = Json::array();
  std::vector<std::string> parts;
  std::string name;
  for (const Diagnostic& d : loaded.diagnostics.items()) {
    if (d.severity != Severity::Error) continue;
    causes.push_back({{"reason", "FieldValueInvalid"}, {"message", d.message}, {"field", d.field}});
    parts.push_back(d.field.empty() ? d.message : fmt::format("{}: {}", d.field, d.message));
    if (name.empty() && !d.object.empty()) name = d.object.substr(d.object.find_last_of(" /") + 1);
  }
  return invalid_object(r, name, std::move(causes), parts);
}

// An update that changes what may not change, refused as the API server refuses it.
Response forbidden_update(const Resource& r, const std::string& name,
                          const std::vector<ForbiddenChange>& forbidden) {
  Json causes = Json::array();
  std::vector<std::string> parts;
  for (const ForbiddenChange& f : forbidden) {
    causes.push_back({{"reason", "FieldValueForbidden"},
                      {"message", "Forbidden: " + f.message},
                      {"field", f.field}});
    parts.push_back(fmt::format("{}: Forbidden: {}", f.field, f.message));
  }
  return invalid_object(r, name, std::move(causes), parts);
}

// The fieldValidation query parameter, as kubectl sends it (--validate=strict|warn|false).
std::optional<manifest::UnknownFields> unknown_fields_of(const Request& req) {
  const std::string v = query_value(req, "fieldValidation");
  if (v.empty() || v == "Strict") return manifest::UnknownFields::Error;
  if (v == "Warn") return manifest::UnknownFields::Warn;
  if (v == "Ignore") return manifest::UnknownFields::Ignore;
  return std::nullopt;
}

// Validates a request body as `ticketctl validate` would; on failure `rejected` is the reply.
// With fieldValidation=Warn, the body's warnings go to `warnings` (HTTP Warning headers).
std::optional<manifest::Object> decode_body(const Request& req, const Resource& r,
                                            const std::string& ns, Response& rejected,
                                            std::vector<std::string>& warnings) {
  manifest::LoadOptions options;
  options.default_namespace = ns.empty() ? "default" : ns;
  options.unknown_fields = unknown_fields_of(req).value_or(manifest::UnknownFields::Error);
  manifest::LoadResult loaded = manifest::load_text("request body", req.body, options);
  if (loaded.diagnostics.has_errors()) {
    rejected = invalid(loaded, r);
    return std::nullopt;
  }
  if (options.unknown_fields == manifest::UnknownFields::Warn)
    for (const Diagnostic& d : loaded.diagnostics.items())
      warnings.push_back(d.field.empty() ? d.message : fmt::format("{}: {}", d.field, d.message));
  if (loaded.objects.size() != 1) {
    rejected = failure(400, "BadRequest", "the request body must hold exactly one object");
    return std::nullopt;
  }
  manifest::Object& object = loaded.objects[0];
  if (object.api_version != r.api_version() || object.kind != r.kind) {
    rejected = failure(400, "BadRequest",
                       fmt::format("the object ({} {}) does not belong at this path ({} {})",
                                   object.api_version, object.kind, r.api_version(), r.kind));
    return std::nullopt;
  }
  return std::move(object);
}

}  // namespace

Json table_json(std::string_view plural, const std::vector<Json>& objects,
                const std::string& resource_version) {
  const TableData data = table_data(plural, objects, std::chrono::system_clock::now());
  Json columns = Json::array();
  for (size_t i = 0; i < data.columns.size(); ++i)
    columns.push_back({{"name", data.columns[i].name},
                       {"type", "string"},
                       {"format", i == 0 ? "name" : ""},
                       {"description", ""},
                       {"priority", data.columns[i].wide ? 1 : 0}});
  Json rows = Json::array();
  for (size_t i = 0; i < data.rows.size(); ++i)
    rows.push_back({{"cells", data.rows[i]},
                    {"object",
                     {{"kind", "PartialObjectMetadata"},
                      {"apiVersion", "meta.k8s.io/v1"},
                      {"metadata", objects[i].value("metadata", Json::object())}}}});
  return {{"kind", "Table"},
          {"apiVersion", "meta.k8s.io/v1"},
          {"metadata", {{"resourceVersion", resource_version}}},
          {"columnDefinitions", std::move(columns)},
          {"rows", std::move(rows)}};
}

Json status_json(int code, std::string_view reason, std::string_view message, Json details) {
  Json s = {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", Json::object()},
            {"status", "Failure"}, {"message", message}, {"reason", reason}};
  if (!details.is_null()) s["details"] = std::move(details);
  s["code"] = code;
  return s;
}

ApiHandler::ApiHandler(store::Shared& store, std::function<void()> on_change,
                       std::string server_address, WatchHub* watches)
    : shared_(store),
      on_change_(std::move(on_change)),
      server_address_(std::move(server_address)),
      watches_(watches) {}

Response ApiHandler::handle(const Request& req) {
  if (is_legacy_path(req.path))
    return serve_legacy(req, [this](const Request& v1) { return handle(v1); });
  bool changed = false;
  Response r = handle_locked(req, changed);
  if (changed && on_change_) on_change_();
  return r;
}

Response ApiHandler::handle_locked(const Request& req, bool& changed) {
  const std::vector<std::string> seg = split_path(req.path);
  const bool get = req.method == "GET";
  // A dry run (`kubectl diff`, `--dry-run=server`) must change nothing; the store cannot try a
  // write and take it back, so it is refused rather than carried out.
  if (!get && !query_value(req, "dryRun").empty())
    return failure(400, "BadRequest",
                   "dryRun is not supported by ticketctl (kubectl diff, --dry-run=server); "
                   "nothing was changed. Compare with `ticketctl get -o yaml`, or use "
                   "--dry-run=client");
  // Discovery.
  if (get && seg == std::vector<std::string>{"version"})
    return {200,
            {{"major", "1"},
             {"minor", "32"},
             {"gitVersion", kKubernetesVersion},
             {"platform", "linux/amd64"},
             {"ticketctlVersion", TICKETCTL_VERSION}}};
  if (get && seg == std::vector<std::string>{"api"})
    return {200,
            {{"kind", "APIVersions"},
             {"versions", {"v1"}},
             {"serverAddressByClientCIDRs",
              {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", server_address_}}}}}};
  if (get && seg == std::vector<std::string>{"apis"}) return {200, group_list()};
  if (get && seg.size() >= 2 && seg[0] == "openapi" && seg[1] == "v3") {
    // The hash query parameter only busts clients' caches; any hash gets the current document.
    if (seg.size() == 2) return {200, openapi_v3_index()};
    std::optional<Json> doc =
        openapi_v3_document(join(std::vector<std::string>(seg.begin() + 2, seg.end()), "/"));
    return doc ? Response{200, std::move(*doc)} : not_served();
  }

  // /api/v1/... or /apis/GROUP/VERSION/...
  std::string group, version;
  size_t rest = 0;
  if (seg.size() >= 2 && seg[0] == "api") {
    version = seg[1];
    rest = 2;
  } else if (seg.size() >= 3 && seg[0] == "apis") {
    group = seg[1];
    version = seg[2];
    rest = 3;
  } else {
    return not_served();
  }
  const std::string group_version = group.empty() ? version : group + "/" + version;
  if (seg.size() == rest) {
    if (!get || resource_list(group_version)["resources"].empty()) return not_served();
    return {200, resource_list(group_version)};
  }

  // [namespaces/NS/]PLURAL[/NAME]
  std::string ns, plural, name, subresource;
  const size_t n = seg.size() - rest;
  auto at = [&](size_t i) -> const std::string& { return seg[rest + i]; };
  if (n >= 3 && at(0) == "namespaces") {
    ns = at(1);
    plural = at(2);
    if (n >= 4) name = at(3);
    if (n == 5) subresource = at(4);
    if (n > 5 || (n == 5 && subresource != "scale")) return not_served();  // others come later
  } else if (n <= 2) {
    plural = at(0);
    if (n == 2) name = at(1);
  } else {
    return not_served();
  }
  const Resource* r = resource_for(group, version, plural);
  if (!r) return not_served();
  if (!r->namespaced && !ns.empty()) return not_served();
  if (r->namespaced && !name.empty() && ns.empty()) return not_served();

  if (!subresource.empty() && !has_scale(*r)) return not_served();
  if (!get && read_only(*r))
    return failure(405, "MethodNotAllowed",
                   fmt::format("{} is not allowed on {}: ticketctl keeps them itself ({})",
                               req.method, r->plural,
                               r->plural == "endpointslices"
                                   ? "the endpoints controller mirrors each Service's Endpoints"
                                   : "the localhost Node is this machine"));

  // A write's body is decoded and validated before the store's lock is taken (the schema
  // Walker is most of a write's cost), so concurrent writes validate in parallel. A patch
  // applies to the stored object, so it is decoded under the lock.
  const bool write =
      subresource.empty() && (req.method == "POST" || req.method == "PUT" || req.method == "PATCH");
  Request effective = req;
  std::vector<std::string> warnings;
  std::optional<manifest::Object> object;
  if (write) {
    if ((req.method == "POST") != name.empty())
      return failure(405, "MethodNotAllowed",
                     fmt::format("{} is not allowed on this path", req.method));
    if (!unknown_fields_of(req))
      return failure(400, "BadRequest",
                     fmt::format("fieldValidation {}: must be Strict, Warn or Ignore",
                                 quote(query_value(req, "fieldValidation"))));
    const std::string_view media =
        std::string_view(req.content_type).substr(0, req.content_type.find(';'));
    if (req.method != "PATCH" && media == kProtobufMediaType) {
      // kubectl's imperative creates (secret, configmap, deployment, service...) send protobuf.
      ProtobufObject decoded = decode_protobuf_object(req.body);
      if (decoded.problem == ProtobufProblem::Malformed)
        return failure(400, "BadRequest", decoded.message);
      if (decoded.problem == ProtobufProblem::Unsupported)
        return failure(415, "UnsupportedMediaType",
                       fmt::format("{}; send the object as JSON instead: end the kubectl command "
                                   "with `--dry-run=client -o yaml | kubectl apply -f -`, "
                                   "or use `ticketctl create`",
                                   decoded.message));
      effective.body = decoded.object.dump();
    } else if (req.method != "PATCH" && !media.empty() && media != "application/json" &&
               media != "application/yaml") {
      return failure(415, "UnsupportedMediaType",
                     fmt::format("the body of the request was in an unknown format ({}): "
                                 "accepted media types are application/json, application/yaml "
                                 "and application/vnd.kubernetes.protobuf",
                                 req.content_type));
    }
    if (req.method == "PATCH" && !is_patch_type(req.content_type))
      return failure(415, "UnsupportedMediaType",
                     fmt::format("the body of the request was in an unknown format ({}): use "
                                 "application/merge-patch+json, application/json-patch+json or "
                                 "application/strategic-merge-patch+json",
                                 req.content_type));
    if (req.method != "PATCH") {
      Response rejected;
      object = decode_body(effective, *r, ns, rejected, warnings);
      if (!object) return rejected;
    }
  }

  store::Shared::Locked store = shared_.lock();
  const std::string key = r->store_key();
  if (!subresource.empty()) return scale_subresource(*store, *r, ns, name, req, changed);
  if (req.method == "GET" && name.empty()) {
    Result<Selector> labels = parse_label_selector(query_value(req, "labelSelector"));
    if (!labels.ok()) return failure(400, "BadRequest", labels.error().message);
    Result<Selector> fields = parse_field_selector(query_value(req, "fieldSelector"));
    if (!fields.ok()) return failure(400, "BadRequest", fields.error().message);
    const std::string watch = query_value(req, "watch");
    if (watches_ && (watch == "1" || watch == "true")) {
      auto stream = std::make_shared<WatchStream>();
      stream->hub = watches_;
      stream->filter = {key, ns, labels.value(), fields.value()};
      if (req.accept.find("as=Table") != std::string::npos) stream->table_for = r->plural;
      const std::string rv = query_value(req, "resourceVersion");
      if (rv.empty() || rv == "0") {
        // Without a starting point a watch begins with the current state, as ADDED events.
        for (Json& o : store->list(key, ns))
          if (matches(labels.value(), o["metadata"].value("labels", Json::object())) &&
              matches_fields(fields.value(), o))
            stream->initial_lines.push_back(watch_line("ADDED", o));
        stream->after_rv = store->resource_version();
      } else if (rv.find_first_not_of("0123456789") == std::string::npos) {
        stream->after_rv = std::stoll(rv);
      } else {
        return failure(400, "BadRequest", fmt::format("invalid resourceVersion {}", quote(rv)));
      }
      const std::string timeout = query_value(req, "timeoutSeconds");
      const long seconds = timeout.empty() ? 1800 : std::strtol(timeout.c_str(), nullptr, 10);
      stream->deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
      Response r200;
      r200.watch = std::move(stream);
      return r200;
    }
    const bool as_table = req.accept.find("as=Table") != std::string::npos;
    Json items = Json::array();
    for (Json& o : store->list(key, ns)) {
      const Json& meta = o["metadata"];
      if (matches(labels.value(), meta.value("labels", Json::object())) &&
          matches_fields(fields.value(), o))
        items.push_back(std::move(o));
    }
    const std::string rv = std::to_string(store->resource_version());
    if (as_table) return {200, table_json(r->plural, items.get<std::vector<Json>>(), rv)};
    return {200,
            {{"kind", fmt::format("{}List", r->kind)},
             {"apiVersion", r->api_version()},
             {"metadata", {{"resourceVersion", rv}}},
             {"items", std::move(items)}}};
  }
  if (req.method == "GET") {
    Result<Json> o = store->get({key, ns, name});
    if (!o.ok()) return from_error(o.error(), *r, name);
    if (req.accept.find("as=Table") != std::string::npos)
      return {200, table_json(r->plural, {o.value()},
                              o.value()["metadata"].value("resourceVersion", ""))};
    return {200, o.value()};
  }
  if (req.method == "DELETE" && key == "pods") {
    // Graceful, as the API server does it (store/pod_deletion.h).
    std::string grace_text = query_value(req, "gracePeriodSeconds");
    if (grace_text.empty() && !req.body.empty()) {
      Result<Json> parsed = parse_json(req.body);
      if (!parsed.ok()) return failure(400, "BadRequest", parsed.error().message);
      const Json& options = parsed.value();
      if (json_at(options, "gracePeriodSeconds").is_number_integer())
        grace_text = std::to_string(options["gracePeriodSeconds"].get<int64_t>());
    }
    std::optional<int64_t> grace;
    if (!grace_text.empty()) grace = std::atoll(grace_text.c_str());
    Result<Json> o = store::delete_pod(*store, {key, ns, name}, grace);
    changed = o.ok();
    return o.ok() ? Response{200, o.value()} : from_error(o.error(), *r, name);
  }
  if (req.method == "DELETE") {
    Result<Json> o = store->remove({key, ns, name});
    changed = o.ok();
    return o.ok() ? Response{200, o.value()} : from_error(o.error(), *r, name);
  }
  if (write) {
    if (req.method == "PATCH") {
      // The patch applies to the stored object; the result is validated like any write and
      // carries the stored resourceVersion, so it cannot silently undo a concurrent change.
      Result<Json> current = store->get({key, ns, name});
      if (!current.ok()) return from_error(current.error(), *r, name);
      Result<Json> patched = apply_patch(current.value(), req.content_type, req.body);
      if (!patched.ok()) return failure(422, "Invalid", patched.error().message);
      effective.body = patched.value().dump();
      Response rejected;
      object = decode_body(effective, *r, ns, rejected, warnings);
      if (!object) return rejected;
    }
    manifest::Object& o = *object;
    if (r->namespaced && o.ns != (ns.empty() ? "default" : ns))
      return failure(
          400, "BadRequest",
          "the namespace of the provided object does not match the namespace sent on the request");
    if (!name.empty() && o.name != name)
      return failure(400, "BadRequest",
                     "the name of the object does not match the name on the URL");
    if (r->namespaced) {
      o.body["metadata"]["namespace"] = o.ns;
      if (!store->get({"namespaces", "", o.ns}).ok())
        return failure(404, "NotFound", fmt::format("namespaces {} not found", quote(o.ns)),
                       {{"name", o.ns}, {"kind", "namespaces"}});
    }
    if (key == "secrets") merge_string_data(o.body);
    // The object an update replaces, read once for the checks below that compare with it.
    const bool configuration = key == "configmaps" || key == "secrets";
    std::optional<Json> old;
    if (req.method != "POST" && (configuration || has_immutable_selector(key))) {
      if (Result<Json> got = store->get({key, o.ns, o.name}); got.ok())
        old = std::move(got.value());
    }
    if (old && configuration) {
      const std::vector<ForbiddenChange> forbidden = immutable_changes(*old, o.body);
      if (!forbidden.empty()) return forbidden_update(*r, o.name, forbidden);
    }
    if (old && has_immutable_selector(key)) {
      if (std::optional<std::string> why = selector_change(*old, o.body)) {
        Json causes = Json::array(
            {{{"reason", "FieldValueInvalid"}, {"message", *why}, {"field", "spec.selector"}}});
        return invalid_object(*r, o.name, std::move(causes), {"spec.selector: " + *why});
      }
    }
    if (std::optional<std::string> large = too_large_to_store(o.body))
      return failure(413, "RequestEntityTooLarge", *large);
    if (old && req.method == "PUT" && key == "deployments.apps") {
      // The revision annotation belongs to the deployment controller: a PUT that leaves it out
      // (ticketctl apply sends manifests as written) keeps it, as kubectl apply's merge does.
      constexpr const char* kRevision = "deployment.kubernetes.io/revision";
      if (json_at(json_at(o.body["metadata"], "annotations"), kRevision).is_null()) {
        const Json rev = json_at(json_at(json_at(*old, "metadata"), "annotations"), kRevision);
        if (rev.is_string()) o.body["metadata"]["annotations"][kRevision] = rev;
      }
    }
    Result<Json> stored = req.method == "POST" ? store->create(key, std::move(o.body))
                                               : store->update(key, std::move(o.body));
    if (!stored.ok()) return from_error(stored.error(), *r, o.name);
    changed = true;
    return {req.method == "POST" ? 201 : 200, stored.value(), nullptr, std::move(warnings)};
  }
  return failure(405, "MethodNotAllowed", fmt::format("{} is not supported yet", req.method));
}

}  // namespace ticketctl::api
