#include "runtime/manifest/json_input.h"

#include <fmt/format.h>

#include <string>
#include <utility>
#include <vector>

#include "runtime/core/limits.h"

namespace ticketctl {
namespace {

// A SAX pass that only follows nesting: cheap, and it stops at the first level too deep.
struct DepthCheck : nlohmann::json_sax<Json> {
  size_t depth = 0;
  bool too_deep = false;
  std::string syntax_error;

  bool open() {
    if (++depth <= limits::kMaxNestingDepth) return true;
    too_deep = true;
    return false;
  }
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return open(); }
  bool key(string_t&) override { return true; }
  bool end_object() override {
    --depth;
    return true;
  }
  bool start_array(std::size_t) override { return open(); }
  bool end_array() override {
    --depth;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    syntax_error = e.what();
    return false;
  }
};

}  // namespace

Result<Json> parse_json(std::string_view text) {
  DepthCheck check;
  const bool ok = Json::sax_parse(text, &check, Json::input_format_t::json, true);
  if (check.too_deep)
    return Error{ErrorCode::Invalid,
                 fmt::format("the JSON nests deeper than {} levels: ticketctl reads no JSON nested "
                             "deeper (see docs/limits.md)",
                             limits::kMaxNestingDepth)};
  if (!ok) {
    // nlohmann's messages name the byte and what it expected: "[json.exception.parse_error.101]
    // parse error at line 1, column 3: syntax error ...". The prefix is noise to a user.
    std::string why = check.syntax_error;
    if (const size_t at = why.find("] "); why.starts_with("[json.exception") && at != why.npos)
      why = why.substr(at + 2);
    return Error{ErrorCode::Invalid, fmt::format("the body is not valid JSON: {}", why)};
  }
  Json out = Json::parse(text, nullptr, false);
  if (out.is_discarded()) return Error{ErrorCode::Invalid, "the body is not valid JSON"};
  return out;
}

size_t json_depth(const Json& v) {
  size_t deepest = 0;
  std::vector<std::pair<const Json*, size_t>> todo{{&v, 0}};
  while (!todo.empty()) {
    auto [at, depth] = todo.back();
    todo.pop_back();
    if (!at->is_structured()) continue;
    deepest = std::max(deepest, depth + 1);
    for (const Json& child : *at) todo.emplace_back(&child, depth + 1);
  }
  return deepest;
}

size_t json_size(const Json& v, size_t limit) {
  size_t count = 0;
  std::vector<const Json*> todo{&v};
  while (!todo.empty() && count <= limit) {
    const Json* at = todo.back();
    todo.pop_back();
    ++count;
    if (at->is_structured())
      for (const Json& child : *at) todo.push_back(&child);
  }
  return count;
}

}  // namespace ticketctl
