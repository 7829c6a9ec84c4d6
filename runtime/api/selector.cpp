#include "runtime/api/selector.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "runtime/core/strings.h"
#include "runtime/manifest/names.h"

namespace ticketctl::api {
namespace {

// Kubernetes' label selector grammar (k8s.io/apimachinery/pkg/labels), token by token:
//   selector    = requirement *( "," requirement )      (the empty selector selects everything)
//   requirement = [ "!" ] key | key ( "=" | "==" | "!=" ) [ value ]
//               | key ( "in" | "notin" ) "(" value *( "," value ) ")" | key ( ">" | "<" ) integer
// Keys must be label keys and values label values, so garbage is a 400, not a silent match.
class SelectorParser {
 public:
  explicit SelectorParser(std::string_view text) : text_(text) {}

  Result<Selector> parse() {
    Selector out;
    skip_space();
    if (pos_ == text_.size()) return out;
    while (true) {
      Result<Requirement> r = requirement();
      if (!r.ok()) return r.error();
      out.push_back(std::move(r.value()));
      skip_space();
      if (pos_ == text_.size()) return out;
      if (text_[pos_] != ',') return expected("',' or the end");
      ++pos_;
    }
  }

 private:
  static bool special(char c) {
    return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
  }
  static bool space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

  void skip_space() {
    while (pos_ < text_.size() && space(text_[pos_])) ++pos_;
  }
  std::string_view identifier() {
    skip_space();
    const size_t start = pos_;
    while (pos_ < text_.size() && !special(text_[pos_]) && !space(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }
  bool take(std::string_view symbol) {
    skip_space();
    if (text_.substr(pos_).starts_with(symbol)) {
      pos_ += symbol.size();
      return true;
    }
    return false;
  }
  std::string found() const {
    if (pos_ >= text_.size()) return "the end";
    return fmt::format("{} at position {}", quote(text_.substr(pos_, 1)), pos_ + 1);
  }
  Error expected(std::string_view what) const {
    return Error{ErrorCode::Invalid,
                 fmt::format("unable to parse label selector {}: found {}, expected {}",
                             quote(text_), found(), what)};
  }
  Error invalid(std::string_view what, std::string_view value, std::string_view why) const {
    return Error{ErrorCode::Invalid, fmt::format("invalid label selector {}: {} {}: {}",
                                                 quote(text_), what, quote(value), why)};
  }

  Result<std::string> key() {
    const std::string_view k = identifier();
    if (k.empty()) return expected("a label key");
    if (manifest::Invalid bad = manifest::check_label_key(k)) return invalid("key", k, *bad);
    return std::string(k);
  }
  Result<std::string> value(bool may_be_empty) {
    const std::string_view v = identifier();
    if (v.empty() && !may_be_empty) return expected("a label value");
    if (manifest::Invalid bad = manifest::check_label_value(v)) return invalid("value", v, *bad);
    return std::string(v);
  }

  Result<Requirement> requirement() {
    Requirement r{Requirement::Op::Exists, {}, {}};
    if (take("!")) {
      Result<std::string> k = key();
      if (!k.ok()) return k.error();
      return Requirement{Requirement::Op::DoesNotExist, std::move(k.value()), {}};
    }
    Result<std::string> k = key();
    if (!k.ok()) return k.error();
    r.key = std::move(k.value());
    skip_space();
    if (pos_ == text_.size() || text_[pos_] == ',') return r;  // Exists
    if (take("!=") || take("==") || take("=")) {
      r.op = text_[pos_ - 2] == '!' ? Requirement::Op::NotEquals : Requirement::Op::Equals;
      Result<std::string> v = value(true);
      if (!v.ok()) return v.error();
      r.values = {std::move(v.value())};
      return r;
    }
    if (take(">") || take("<")) {
      r.op = text_[pos_ - 1] == '>' ? Requirement::Op::GreaterThan : Requirement::Op::LessThan;
      const std::string_view v = identifier();
      long long n = 0;
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (v.empty() || ec != std::errc() || end != v.data() + v.size())
        return v.empty() ? expected("an integer") : invalid("value", v, "must be an integer");
      r.values = {std::string(v)};
      return r;
    }
    const size_t before = pos_;
    const std::string_view word = identifier();
    if (word != "in" && word != "notin") {
      pos_ = before;
      skip_space();
      return expected("an operator (=, ==, !=, in, notin, >, <), ',' or the end");
    }
    r.op = word == "in" ? Requirement::Op::In : Requirement::Op::NotIn;
    if (!take("(")) return expected("'('");
    while (true) {
      Result<std::string> v = value(false);
      if (!v.ok()) return v.error();
      r.values.push_back(std::move(v.value()));
      if (take(")")) return r;
      if (!take(",")) return expected("',' or ')'");
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
};

// Field selectors (k8s.io/apimachinery/pkg/fields): terms split at commas that no backslash
// escapes, each "field=value", "field==value" or "field!=value"; empty terms are skipped.
Result<Selector> parse_field_terms(std::string_view text) {
  Selector out;
  std::vector<std::string> terms(1);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      terms.back() += text.substr(i, 2);
      ++i;
    } else if (text[i] == ',') {
      terms.emplace_back();
    } else {
      terms.back() += text[i];
    }
  }
  for (const std::string& term : terms) {
    if (term.empty()) continue;
    size_t at = std::string::npos, len = 0;
    for (size_t i = 0; i < term.size() && at == std::string::npos; ++i)
      for (std::string_view op : {"!=", "==", "="})
        if (std::string_view(term).substr(i).starts_with(op)) {
          at = i;
          len = op.size();
          break;
        }
    if (at == std::string::npos || at == 0)
      return Error{ErrorCode::Invalid, fmt::format("invalid field selector {}: cannot understand "
                                                   "{} (write field=value, field==value or "
                                                   "field!=value)",
                                                   quote(text), quote(term))};
    std::string value;
    for (size_t i = at + len; i < term.size(); ++i) {
      if (term[i] == '\\' && i + 1 < term.size()) ++i;
      value += term[i];
    }
    out.push_back({term[at] == '!' ? Requirement::Op::NotEquals : Requirement::Op::Equals,
                   term.substr(0, at),
                   {std::move(value)}});
  }
  return out;
}

const Json* lookup(const Json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() || !it->is_string() ? nullptr : &*it;
}

bool holds(const Requirement& r, const Json* value) {
  const auto in_values = [&] {
    return value && value->is_string() &&
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
    case Requirement::Op::GreaterThan:
    case Requirement::Op::LessThan: {
      // Both sides must be integers, as Kubernetes compares them; otherwise nothing matches.
      if (!value || !value->is_string() || r.values.empty()) return false;
      long long have = 0, want = 0;
      const std::string& text = value->get_ref<const std::string&>();
      const auto a = std::from_chars(text.data(), text.data() + text.size(), have);
      const auto b =
          std::from_chars(r.values[0].data(), r.values[0].data() + r.values[0].size(), want);
      if (a.ec != std::errc() || a.ptr != text.data() + text.size() || b.ec != std::errc())
        return false;
      return r.op == Requirement::Op::GreaterThan ? have > want : have < want;
    }
  }
  return false;
}

}  // namespace

Result<Selector> parse_label_selector(std::string_view text) {
  return SelectorParser(text).parse();
}

bool matches(const Selector& selector, const Json& labels) {
  return std::all_of(selector.begin(), selector.end(),
                     [&](const Requirement& r) { return holds(r, lookup(labels, r.key)); });
}

Result<Selector> parse_field_selector(std::string_view text) {
  Result<Selector> s = parse_field_terms(text);
  if (!s.ok()) return s;
  for (const Requirement& r : s.value()) {
    // The labels kubectl itself uses: describe selects an object's events by involvedObject.
    static const std::set<std::string, std::less<>> kSupported = {"metadata.name",
                                                                  "metadata.namespace",
                                                                  "status.phase",
                                                                  "spec.nodeName",
                                                                  "status.podIP",
                                                                  "involvedObject.kind",
                                                                  "involvedObject.name",
                                                                  "involvedObject.namespace",
                                                                  "involvedObject.uid",
                                                                  "reason",
                                                                  "type"};
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
