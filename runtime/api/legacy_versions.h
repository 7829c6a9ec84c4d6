#pragma once
// The Ingress versions Kubernetes removed in v1.22 (networking.k8s.io/v1beta1 and
// extensions/v1beta1), served beside networking.k8s.io/v1 so that the course's own
// `kubectl apply -f infra/k8s` works: an Ingress is stored as v1 only. A write through a legacy
// version is converted on its way in (the manifest loader's converter, as `ticketctl apply`
// does), a read is converted back, and every answer carries a Warning that says so.
// Pure, apart from serve_legacy's calls to `serve`; any thread.

#include <functional>
#include <span>
#include <string_view>

#include "runtime/api/handler.h"
#include "runtime/api/resources.h"
#include "runtime/manifest/json.h"

namespace ticketctl::api {

// One row per legacy group/version: discovery and OpenAPI list them after the served versions,
// without short names or categories, so `kubectl get ing` keeps using networking.k8s.io/v1.
std::span<const Resource> legacy_resources();

// Whether `path` is under a legacy group/version ("/apis/extensions/v1beta1/...").
bool is_legacy_path(std::string_view path);

// A stored v1 Ingress as `api_version` shows it: backends as serviceName/servicePort,
// defaultBackend as backend, the pathType the conversion defaults left out. When the object's
// last-applied-configuration was written in that version and converts to what is stored, its
// spec is returned as written, so kubectl's apply finds nothing to change.
Json ingress_as_legacy(const Json& v1, std::string_view api_version);

// Serves a request under a legacy path by rewriting it to networking.k8s.io/v1 and passing it to
// `serve` (the handler): bodies converted on the way in, answers converted back; a PATCH is
// applied to the legacy view and written back as a PUT (guarded by its resourceVersion).
Response serve_legacy(const Request& request, const std::function<Response(const Request&)>& serve);

}  // namespace ticketctl::api
