#pragma once
// JSON that arrives from outside (request bodies, patches, protobuf's embedded JSON), read within
// the budgets of runtime/core/limits.h, and measures of a Json that never recurse.
// Pure; any thread.

#include <cstddef>
#include <limits>
#include <string_view>

#include "runtime/core/result.h"
#include "runtime/manifest/json.h"

namespace ticketctl {

// nlohmann's parser accepts any nesting, and most code over Json (dump, ==, merge_patch, copies)
// recurses, so input nested deeper than limits::kMaxNestingDepth is refused here, before a Json
// exists. Errors are ErrorCode::Invalid and say what is wrong and at which byte.
Result<Json> parse_json(std::string_view text);

// How deeply `v` nests (0 for a scalar, 1 for a flat object or array), without recursion.
size_t json_depth(const Json& v);

// How many values `v` holds, itself included, without recursion; counting stops past `limit`.
size_t json_size(const Json& v, size_t limit = std::numeric_limits<size_t>::max());

}  // namespace ticketctl
