#include "runtime/manifest/label_selector.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "runtime/core/strings.h"

namespace ticketctl::manifest {
namespace {

std::vector<std::string> string_values(const Json& expr) {
  std::vector<std::string> out;
  const Json& values = json_at(expr, "values");
  if (values.is_array())
    for (const Json& v : values) out.push_back(str(v));
  return out;
}

// One requirement as labels.Requirement.String() writes it; nullopt when labels.NewRequirement
// would refuse it.
std::optional<std::string> requirement_string(const Json& expr) {
  const std::string key = str(json_at(expr, "key")), op = str(json_at(expr, "operator"));
  std::vector<std::string> values = string_values(expr);
  std::sort(values.begin(), values.end());
  if (op == "In" || op == "NotIn") {
    if (values.empty()) return std::nullopt;
    return fmt::format("{} {} ({})", key, op == "In" ? "in" : "notin", join(values, ","));
  }
  if (op == "Exists" || op == "DoesNotExist") {
    if (!values.empty()) return std::nullopt;
    return op == "Exists" ? key : "!" + key;
  }
  return std::nullopt;
}

bool requirement_matches(const Json& expr, const Json& labels) {
  const std::string op = str(json_at(expr, "operator"));
  const Json& have = json_at(labels, str(json_at(expr, "key")));
  if (op == "Exists") return have.is_string();
  if (op == "DoesNotExist") return !have.is_string();
  if (op != "In" && op != "NotIn") return false;
  const Json& values = json_at(expr, "values");
  if (!values.is_array() || values.empty()) return false;
  const bool in_values =
      have.is_string() && std::find(values.begin(), values.end(), have) != values.end();
  return op == "In" ? in_values : !in_values;
}

}  // namespace

bool labels_match(const Json& match_labels, const Json& labels) {
  if (!match_labels.is_object()) return true;
  for (const auto& [key, value] : match_labels.items()) {
    const Json& have = json_at(labels, key);
    if (!have.is_string() || have != value) return false;
  }
  return true;
}

bool label_selector_matches(const Json& selector, const Json& labels) {
  if (!labels_match(json_at(selector, "matchLabels"), labels)) return false;
  const Json& exprs = json_at(selector, "matchExpressions");
  if (exprs.is_array())
    for (const Json& expr : exprs)
      if (!requirement_matches(expr, labels)) return false;
  return true;
}

std::optional<std::string> label_selector_string(const Json& selector) {
  std::vector<std::pair<std::string, std::string>> reqs;  // key, text
  const Json& match_labels = json_at(selector, "matchLabels");
  if (match_labels.is_object())
    for (const auto& [key, value] : match_labels.items())
      reqs.emplace_back(key, fmt::format("{}={}", key, str(value)));
  const Json& exprs = json_at(selector, "matchExpressions");
  if (exprs.is_array()) {
    for (const Json& expr : exprs) {
      std::optional<std::string> text = requirement_string(expr);
      if (!text) return std::nullopt;
      reqs.emplace_back(str(json_at(expr, "key")), std::move(*text));
    }
  }
  // Go sorts requirements by key with sort.Sort, an insertion sort for so few: stable.
  std::stable_sort(reqs.begin(), reqs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> parts;
  for (auto& r : reqs) parts.push_back(std::move(r.second));
  return join(parts, ",");
}

}  // namespace ticketctl::manifest
