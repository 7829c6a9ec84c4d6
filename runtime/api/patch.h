#pragma once
// PATCH as the API server does it: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
// Kubernetes' strategic merge patch, in which lists of containers, env vars, ports, volumes and
// mounts merge element by element on their merge keys instead of being replaced.
// Pure; any thread.

#include <string>
#include <string_view>

#include "runtime/core/result.h"
#include "runtime/manifest/json.h"

namespace ticketctl::api {

// Whether a Content-Type names one of the three patch formats.
bool is_patch_type(std::string_view content_type);

// `content_type` is the request's Content-Type; an unsupported one is ErrorCode::Invalid with a
// message naming the supported ones. The body is untrusted: its nesting, a JSON patch's number
// of operations and what its copies add are bounded (runtime/core/limits.h), and so is the
// nesting of the result.
Result<Json> apply_patch(const Json& original, std::string_view content_type,
                         const std::string& body);

// The key a strategic merge matches the elements of list `field` on ("name" for containers,
// "mountPath" for volumeMounts); empty for lists that are replaced whole.
std::string_view merge_key(std::string_view field);
// An element's value of that key (containerPort for a container's ports); nullptr when absent.
const Json* merge_key_of(const Json& element, std::string_view key);

// The strategic merge of `patch` into `original` (exposed for tests). The patch's nesting must
// be bounded (parse_json does it): the merge recurses along it.
Json strategic_merge(Json original, const Json& patch, std::string_view field = {});

}  // namespace ticketctl::api
