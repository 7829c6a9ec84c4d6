#pragma once
// The budgets a YAML (or JSON) text must keep before it becomes nodes and objects: nesting depth
// (limits::kMaxNestingDepth, counting what aliases bring in), alias expansion (the API server's
// ratio rule, limits::allowed_alias_ratio) and aliases that contain themselves. One streaming
// pass over the parser's events, so a "billion laughs" document is refused without expanding
// anything and a deep one before anything recurses over it. Pure; any thread.

#include <optional>
#include <string>
#include <string_view>

namespace ticketctl::manifest {

struct YamlBudgetError {
  int line = 0;    // 0-based, within `text`
  int column = 0;  // 0-based
  std::string message;
};

// Checks every document of `text`. Syntax errors are not reported here (nullopt): the parse that
// follows reports them with its own message.
std::optional<YamlBudgetError> check_yaml_budget(std::string_view text);

}  // namespace ticketctl::manifest
