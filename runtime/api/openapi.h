#pragma once
// OpenAPI v3 discovery, only as much as the server can back: for each group/version, the paths
// it serves and their operations with x-kubernetes-group-version-kind, and the PATCH/POST/PUT
// `fieldValidation` query parameter. kubectl reads that parameter to leave validation to the
// server instead of downloading schemas; no component schemas are published, so kubectl's
// three-way apply patch uses its compiled-in types for these built-in kinds.
// Immutable; any thread.

#include <optional>
#include <string_view>

#include "runtime/manifest/json.h"

namespace ticketctl::api {

// GET /openapi/v3: {"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=H"}}}.
// H is a digest of that document, so clients may cache by URL until the server changes.
Json openapi_v3_index();

// GET /openapi/v3/api/v1 or /openapi/v3/apis/GROUP/VERSION: `path` is "api/v1",
// "apis/apps/v1"; nullopt for a group/version the server does not serve.
std::optional<Json> openapi_v3_document(std::string_view path);

}  // namespace ticketctl::api
