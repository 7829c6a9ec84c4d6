#pragma once
// kubectl's -o jsonpath templates: text and {expressions} with fields, [n], [*], [a:b], ..name,
// ['key'], [?(@.field=="value")] filters, {range ...}{end} and "string" literals.
// Pure; any thread.

#include <string>
#include <string_view>

#include "runtime/core/result.h"
#include "runtime/manifest/json.h"

namespace ticketctl::cli {

// Renders `tmpl` against `data`; a syntax error names the offending part.
Result<std::string> render_jsonpath(std::string_view tmpl, const Json& data);

}  // namespace ticketctl::cli
