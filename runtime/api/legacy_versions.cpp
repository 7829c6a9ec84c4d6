#include "runtime/api/legacy_versions.h"

#include <fmt/format.h>

#include <string>

#include "runtime/api/apply.h"
#include "runtime/api/patch.h"
#include "runtime/manifest/json_input.h"
#include "runtime/manifest/legacy.h"

namespace ticketctl::api {
namespace {

constexpr std::string_view kStoredPrefix = "/apis/networking.k8s.io/v1";

const std::vector<Resource>& table() {
  static const std::vector<Resource> t = {
      {"Ingress", "ingresses", "ingress", "networking.k8s.io", "v1beta1", true, {}, {}},
      {"Ingress", "ingresses", "ingress", "extensions", "v1beta1", true, {}, {}},
  };
  return t;
}

// "/apis/extensions/v1beta1/namespaces/x" -> the row and the rest ("/namespaces/x").
const Resource* legacy_prefix(std::string_view path, std::string_view& rest) {
  for (const Resource& r : table()) {
    const std::string prefix = fmt::format("/apis/{}/{}", r.group, r.version);
    if (!path.starts_with(prefix)) continue;
    rest = path.substr(prefix.size());
    if (rest.empty() || rest.front() == '/') return &r;
  }
  return nullptr;
}

std::string warning_for(const Resource& r) {
  return fmt::format(
      "{} Ingress is unavailable in Kubernetes v1.22+; ticketctl converts it to and from "
      "networking.k8s.io/v1 Ingress, the version it stores (`ticketctl convert -f FILE` rewrites "
      "a manifest)",
      r.api_version());
}

Json backend_as_legacy(const Json& b) {
  if (!b.is_object()) return b;
  Json out = Json::object();
  for (auto it = b.begin(); it != b.end(); ++it) {
    if (it.key() != "service") {
      out[it.key()] = *it;  // resource
      continue;
    }
    out["serviceName"] = json_at(*it, "name");
    const Json& port = json_at(*it, "port");
    if (!json_at(port, "number").is_null())
      out["servicePort"] = port["number"];
    else if (!json_at(port, "name").is_null())
      out["servicePort"] = port["name"];
  }
  return out;
}

Json spec_as_legacy(const Json& spec) {
  if (!spec.is_object()) return spec;
  Json out = Json::object();
  for (auto it = spec.begin(); it != spec.end(); ++it) {
    if (it.key() == "defaultBackend") {
      out["backend"] = backend_as_legacy(*it);
    } else if (it.key() == "rules" && it->is_array()) {
      Json rules = *it;
      for (Json& rule : rules) {
        if (!json_at(json_at(rule, "http"), "paths").is_array()) continue;
        for (Json& path : rule["http"]["paths"]) {
          if (!path.is_object()) continue;
          // The converter's default for a path written without one.
          if (json_at(path, "pathType") == "ImplementationSpecific") path.erase("pathType");
          if (path.contains("backend")) path["backend"] = backend_as_legacy(path["backend"]);
        }
      }
      out["rules"] = std::move(rules);
    } else {
      out[it.key()] = *it;
    }
  }
  return out;
}

// The spec of the last-applied-configuration when it was written in `api_version` and is what
// is stored; null otherwise.
Json applied_spec(const Json& v1, std::string_view api_version) {
  const Json& text =
      json_at(json_at(json_at(v1, "metadata"), "annotations"), kLastAppliedAnnotation);
  if (!text.is_string()) return {};
  Result<Json> applied = parse_json(text.get<std::string>());
  if (!applied.ok() || !applied.value().is_object() ||
      json_at(applied.value(), "apiVersion") != api_version ||
      json_at(applied.value(), "kind") != "Ingress")
    return {};
  const Json converted = manifest::convert_legacy_ingress(applied.value());
  if (!same_json(json_at(converted, "spec"), json_at(v1, "spec"))) return {};
  return json_at(applied.value(), "spec");
}

// An answer of the v1 handler as the legacy version shows it.
Json answer_as_legacy(const Json& body, const Resource& r) {
  if (json_at(body, "kind") == "Ingress") return ingress_as_legacy(body, r.api_version());
  if (json_at(body, "kind") == "IngressList") {
    Json out = body;
    out["apiVersion"] = r.api_version();
    for (Json& item : out["items"]) item = ingress_as_legacy(item, r.api_version());
    return out;
  }
  return body;  // Status, Table
}

Response fail(int code, std::string_view reason, std::string message) {
  return {code, status_json(code, reason, message)};
}

}  // namespace

std::span<const Resource> legacy_resources() {
  return table();
}

bool is_legacy_path(std::string_view path) {
  std::string_view rest;
  return legacy_prefix(path, rest) != nullptr;
}

Json ingress_as_legacy(const Json& v1, std::string_view api_version) {
  if (!v1.is_object()) return v1;
  Json out = Json::object();
  for (auto it = v1.begin(); it != v1.end(); ++it) {
    if (it.key() == "apiVersion") {
      out["apiVersion"] = api_version;
    } else if (it.key() == "spec") {
      Json spec = applied_spec(v1, api_version);
      out["spec"] = spec.is_null() ? spec_as_legacy(*it) : std::move(spec);
    } else {
      out[it.key()] = *it;
    }
  }
  return out;
}

Response serve_legacy(const Request& req, const std::function<Response(const Request&)>& serve) {
  std::string_view rest;
  const Resource* r = legacy_prefix(req.path, rest);
  if (!r) return fail(404, "NotFound", "the server could not find the requested resource");
  const std::string warning = warning_for(*r);
  auto answer = [&](Response out) {
    if (out.watch)
      out = fail(400, "BadRequest",
                 fmt::format("watch is not served for {} Ingress; watch networking.k8s.io/v1 "
                             "Ingress instead",
                             r->api_version()));
    out.body = answer_as_legacy(out.body, *r);
    // With fieldValidation=Warn the loader's own conversion note (about a "file" that is the
    // request body) comes back too; this answer's Warning says it for the API.
    std::erase_if(out.warnings, [](const std::string& w) { return w.starts_with("apiVersion: "); });
    out.warnings.insert(out.warnings.begin(), warning);
    return out;
  };
  if (rest.empty() || rest == "/") {
    // Discovery, which every kubectl command with a cold cache reads: no Warning here, or each
    // of them would print it.
    if (req.method != "GET") return fail(405, "MethodNotAllowed", "only GET is served");
    Json resources =
        Json::array({{{"name", r->plural},
                      {"singularName", r->singular},
                      {"namespaced", true},
                      {"kind", r->kind},
                      {"verbs", {"create", "delete", "get", "list", "patch", "update"}}}});
    return {200,
            {{"kind", "APIResourceList"},
             {"apiVersion", "v1"},
             {"groupVersion", r->api_version()},
             {"resources", std::move(resources)}}};
  }
  // Only ingresses live here: [/namespaces/NS]/ingresses[/NAME].
  std::string_view tail = rest;
  if (tail.starts_with("/namespaces/")) {
    const size_t slash = tail.find('/', std::string_view("/namespaces/").size());
    tail = slash == std::string_view::npos ? std::string_view() : tail.substr(slash);
  }
  if (!tail.starts_with("/ingresses") || (tail.size() > 10 && tail[10] != '/'))
    return answer(fail(404, "NotFound", "the server could not find the requested resource"));

  Request v1 = req;
  v1.path = std::string(kStoredPrefix) + std::string(rest);
  if (req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
    Json body;
    if (req.method == "PATCH") {
      if (!is_patch_type(req.content_type))
        return answer(fail(415, "UnsupportedMediaType",
                           fmt::format("the body of the request was in an unknown format ({}): "
                                       "use application/merge-patch+json, "
                                       "application/json-patch+json or "
                                       "application/strategic-merge-patch+json",
                                       req.content_type)));
      Request get = v1;
      get.method = "GET";
      get.body.clear();
      get.query.clear();
      get.accept.clear();
      Response current = serve(get);
      if (current.status != 200) return answer(std::move(current));
      Result<Json> patched = apply_patch(ingress_as_legacy(current.body, r->api_version()),
                                         req.content_type, req.body);
      if (!patched.ok()) return answer(fail(422, "Invalid", patched.error().message));
      body = std::move(patched.value());
      v1.method = "PUT";
      v1.content_type = "application/json";
    } else {
      const std::string_view media =
          std::string_view(req.content_type).substr(0, req.content_type.find(';'));
      if (!media.empty() && media != "application/json")
        return answer(fail(415, "UnsupportedMediaType",
                           fmt::format("{} Ingress is accepted as application/json only, not {}",
                                       r->api_version(), req.content_type)));
      Result<Json> parsed = parse_json(req.body);
      if (!parsed.ok()) return answer(fail(400, "BadRequest", parsed.error().message));
      body = std::move(parsed.value());
    }
    // The body must be written in the version of its path; the handler's loader converts it.
    if (!body.is_object() || json_at(body, "apiVersion") != r->api_version() ||
        json_at(body, "kind") != "Ingress")
      return answer(fail(400, "BadRequest",
                         fmt::format("the object ({} {}) does not belong at this path ({} {})",
                                     json_at(body, "apiVersion").dump(),
                                     json_at(body, "kind").dump(), r->api_version(), r->kind)));
    v1.body = body.dump();
  }
  return answer(serve(v1));
}

}  // namespace ticketctl::api
