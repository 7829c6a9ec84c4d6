#include "runtime/manifest/schema_doc.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "runtime/manifest/schemas.h"

namespace ticketctl::manifest {
namespace {

// GitHub's heading anchors: lower case, spaces to '-', other punctuation dropped.
std::string anchor(std::string_view heading) {
  std::string out;
  for (char c : heading) {
    if (std::isalnum(static_cast<unsigned char>(c)))
      out += static_cast<char>(std::tolower(c));
    else if (c == ' ' || c == '-')
      out += '-';
  }
  return out;
}

std::string describe(const Schema& s) {
  switch (s.type) {
    case Type::String: {
      if (s.allowed.empty()) return "string";
      std::string out = "one of";
      for (size_t i = 0; i < s.allowed.size(); ++i)
        out += fmt::format("{} `{}`", i ? "," : "", s.allowed[i].empty() ? "\"\"" : s.allowed[i]);
      return out;
    }
    case Type::Integer:
    case Type::Boolean:
    case Type::Number:
    case Type::IntOrString:
    case Type::Quantity:
    case Type::Any:
      return std::string(type_name(s.type));
    case Type::Map:
      return "map of string to " + describe(*s.items);
    case Type::Array:
      return "array of " + describe(*s.items);
    case Type::Object:
      return s.name.empty() ? "object" : fmt::format("[{}](#{})", s.name, anchor(s.name));
  }
  return "value";
}

std::string_view notes(const Field& f) {
  if (f.support == Support::Inert) return "accepted; no effect without a cluster";
  if (f.support == Support::Ignored) return "accepted with a warning; not implemented";
  return f.required ? "required" : "";
}

class Writer {
 public:
  void section(std::string_view title, const Schema& s) {
    out_ += fmt::format("\n### {}\n\n| field | type | notes |\n|---|---|---|\n", title);
    rows(s, "");
  }
  void named_sections() {
    out_ += "\n## Types used by several kinds\n";
    for (size_t i = 0; i < named_.size(); ++i) section(named_[i]->name, *named_[i]);
  }
  std::string take() { return std::move(out_); }

 private:
  void rows(const Schema& s, const std::string& prefix) {
    for (const Field& f : s.fields) {
      std::string path = prefix + std::string(f.name);
      const Schema* inner = f.schema;
      while (inner->type == Type::Array) {
        path += "[]";
        inner = inner->items;
      }
      out_ += fmt::format("| `{}` | {} | {} |\n", path, describe(*f.schema), notes(f));
      if (inner->type != Type::Object) continue;
      if (inner->name.empty()) {
        rows(*inner, path + ".");
      } else if (std::none_of(named_.begin(), named_.end(),
                              [&](const Schema* n) { return n->name == inner->name; })) {
        named_.push_back(inner);
      }
    }
  }

  std::string out_;
  std::vector<const Schema*> named_;
};

}  // namespace

std::string schema_reference_markdown() {
  Writer w;
  std::vector<const Schema*> done;
  for (const KindInfo& k : all_kinds()) {
    if (std::find(done.begin(), done.end(), k.schema) != done.end()) continue;
    done.push_back(k.schema);
    std::string versions(k.api_version);
    for (const KindInfo& other : all_kinds())
      if (&other != &k && other.schema == k.schema)
        versions += ", " + std::string(other.api_version);
    std::string title = fmt::format("{} ({})", k.kind, versions);
    if (!k.converts_to.empty()) title += fmt::format(", converted to {}", k.converts_to);
    w.section(title, *k.schema);
  }
  w.named_sections();
  return w.take();
}

}  // namespace ticketctl::manifest
