#pragma once
// kubectl's -l and --field-selector syntax: "app=posts,tier!=db", "env in (dev,test)", "!canary".
// Pure; any thread.

#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/result.h"
#include "runtime/manifest/json.h"

namespace ticketctl::api {

struct Requirement {
  enum class Op { Equals, NotEquals, In, NotIn, Exists, DoesNotExist, GreaterThan, LessThan } op;
  std::string key;
  std::vector<std::string> values;
};

using Selector = std::vector<Requirement>;  // all must hold; empty selects everything

// Kubernetes' grammar and checks: a malformed selector, or one whose keys or values could not
// be labels, is ErrorCode::Invalid with a message naming the selector and the position.
Result<Selector> parse_label_selector(std::string_view text);
bool matches(const Selector& selector, const Json& labels);

// Field selectors support metadata.name, metadata.namespace and status.phase with =, ==, !=.
Result<Selector> parse_field_selector(std::string_view text);
bool matches_fields(const Selector& selector, const Json& object);

}  // namespace ticketctl::api
