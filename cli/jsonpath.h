#pragma once
// kubectl's -o jsonpath templates: text and {expressions} with fields, [n], [*], [a:b], ..name,
// ['key'], [?(@.field=="value")] filters, {range ...}{end} and "string" literals.
// Pure; any thread.

#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/result.h"
#include "runtime/manifest/json.h"

namespace ticketctl::cli {

// Renders `tmpl` against `data`; a syntax error names the offending part.
Result<std::string> render_jsonpath(std::string_view tmpl, const Json& data);

// One expression ("{.spec.containers[*].image}", ".metadata.name" or "metadata.name"), each
// value it finds as kubectl prints it (strings raw, the rest as JSON): -o custom-columns.
Result<std::vector<std::string>> jsonpath_values(std::string_view expr, const Json& data);

}  // namespace ticketctl::cli
