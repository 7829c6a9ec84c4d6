#include "runtime/api/selector.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "runtime/core/strings.h"

namespace ticketctl::api {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// Splits at commas that are not inside parentheses: "a in (x,y),b" -> ["a in (x,y)", "b"].
std::vector<std::string_view> split_terms(std::string_view text) {
  std::vector<std::string_view> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || (text[i] == ',' && depth == 0)) {
      if (auto t = trim(text.substr(start, i - start)); !t.empty()) out.push_back(t);
      start = i + 1;
    } else if (text[i] == '(') {
      ++depth;
    } else if (text[i] == ')') {
      --depth;
    }
  }
  return out;
}

Error bad(std::string_view text, std::string_view why) {
  return Error{ErrorCode::Invalid,
               fmt::format("unable to parse requirement {}: {}", quote(text), why)};
}

Result<Requirement> parse_term(std::string_view t) {
  Requirement r;
  for (std::string_view word : {" notin ", " in "}) {
    if (size_t at = t.find(word); at != std::string_view::npos) {
      r.op = word == " in " ? Requirement::Op::In : Requirement::Op::NotIn;
      r.key = std::string(trim(t.substr(0, at)));
      std::string_view set = trim(t.substr(at + word.size()));
      if (set.size() < 2 || set.front() != '(' || set.back() != ')')
        return bad(t, "a set must be written as (a,b)");
      for (std::string_view v : split_terms(set.substr(1, set.size() - 2)))
        r.values.emplace_back(v);
      return r;
    }
  }
  if (size_t at = t.find("!="); at != std::string_view::npos) {
    r.op = Requirement::Op::NotEquals;
    r.key = std::string(trim(t.substr(0, at)));
    r.values = {std::string(trim(t.substr(at + 2)))};
  } else if (size_t at2 = t.find("=="); at2 != std::string_view::npos) {
    r.op = Requirement::Op::Equals;
    r.key = std::string(trim(t.substr(0, at2)));
    r.values = {std::string(trim(t.substr(at2 + 2)))};
  } else if (size_t at3 = t.find('='); at3 != std::string_view::npos) {
    r.op = Requirement::Op::Equals;
    r.key = std::string(trim(t.substr(0, at3)));
    r.values = {std::string(trim(t.substr(at3 + 1)))};
  } else if (t.front() == '!') {
    r.op = Requirement::Op::DoesNotExist;
    r.key = std::string(trim(t.substr(1)));
  } else {
    r.op = Requirement::Op::Exists;
    r.key = std::string(t);
  }
  if (r.key.empty()) return bad(t, "a key is required");
  return r;
}

const Json* lookup(const Json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() || !it->is_string() ? nullptr : &*it;
}

bool holds(const Requirement& r, const Json* value) {
  const auto in_values = [&] {
    return value &&
           std::find(r.values.begin(), r.values.end(), value->get<std::string>()) != r.values.end();
  };
  switch (r.op) {
    case Requirement::Op::Equals:
    case Requirement::Op::In:
      return in_values();
    case Requirement::Op::NotEquals:
    case Requirement::Op::NotIn:
      return !in_values();
    case Requirement::Op::Exists:
      return value != nullptr;
    case Requirement::Op::DoesNotExist:
      return value == nullptr;
  }
  return false;
}

}  // namespace

Result<Selector> parse_label_selector(std::string_view text) {
  Selector out;
  for (std::string_view t : split_terms(text)) {
    Result<Requirement> r = parse_term(t);
    if (!r.ok()) return r.error();
    out.push_back(std::move(r.value()));
  }
  return out;
}

bool matches(const Selector& selector, const Json& labels) {
  return std::all_of(selector.begin(), selector.end(),
                     [&](const Requirement& r) { return holds(r, lookup(labels, r.key)); });
}

Result<Selector> parse_field_selector(std::string_view text) {
  Result<Selector> s = parse_label_selector(text);
  if (!s.ok()) return s;
  for (const Requirement& r : s.value()) {
    if (r.op != Requirement::Op::Equals && r.op != Requirement::Op::NotEquals)
      return Error{ErrorCode::Invalid,
                   fmt::format("field selector {}: only =, == and != are supported", quote(text))};
    // The labels kubectl itself uses: describe selects an object's events by involvedObject.
    static const std::set<std::string, std::less<>> kSupported = {
        "metadata.name",         "metadata.namespace",          "status.phase",
        "spec.nodeName",         "status.podIP",                "involvedObject.kind",
        "involvedObject.name",   "involvedObject.namespace",    "involvedObject.uid",
        "reason",                "type"};
    if (!kSupported.count(r.key))
      return Error{ErrorCode::Invalid,
                   fmt::format("field label not supported: {} (use metadata.name, "
                               "metadata.namespace, status.phase or, for events, "
                               "involvedObject.name/kind/namespace/uid, reason, type)",
                               r.key)};
  }
  return s;
}

bool matches_fields(const Selector& selector, const Json& object) {
  return std::all_of(selector.begin(), selector.end(), [&](const Requirement& r) {
    const size_t dot = r.key.find('.');
    const Json* value = nullptr;
    if (dot == std::string::npos) {  // a top-level field, as Events have (reason, type)
      value = object.contains(r.key) ? &object[r.key] : nullptr;
    } else {
      const std::string section = r.key.substr(0, dot), field = r.key.substr(dot + 1);
      const Json* parent = object.contains(section) ? &object[section] : nullptr;
      value = parent ? lookup(*parent, field) : nullptr;
    }
    // A pod with no status yet is Pending, as the API server would report it.
    static const Json kPending = "Pending";
    if (!value && r.key == "status.phase") value = &kPending;
    return holds(r, value);
  });
}

}  // namespace ticketctl::api
