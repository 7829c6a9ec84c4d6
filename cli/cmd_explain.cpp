// `explain`: a kind's fields, or one field's, read from the schema tables the validator checks
// manifests with (runtime/manifest/schemas.cpp), so what it says is what ticketctl accepts.
// Needs no control plane.

#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <vector>

#include "cli/commands.h"
#include "runtime/api/resources.h"
#include "runtime/core/strings.h"
#include "runtime/manifest/schemas.h"

namespace ticketctl::cli {
namespace {

using manifest::Schema;
using manifest::Type;

std::string type_name(const Schema* s) {
  if (!s) return "Object";
  if (!s->name.empty() && s->type == Type::Object) return std::string(s->name);
  switch (s->type) {
    case Type::String:
      return "string";
    case Type::Integer:
      return "integer";
    case Type::Boolean:
      return "boolean";
    case Type::Number:
      return "number";
    case Type::IntOrString:
      return "IntOrString";
    case Type::Quantity:
      return "Quantity";
    case Type::Object:
      return "Object";
    case Type::Array:
      return "[]" + type_name(s->items);
    case Type::Map:
      return "map[string]" + type_name(s->items);
    case Type::Any:
      return "Object";
  }
  return "Object";
}

std::string notes(const manifest::Field& f) {
  std::string out = f.required ? " -required-" : "";
  if (f.support == manifest::Support::Inert) out += " (accepted; no effect without a cluster)";
  if (f.support == manifest::Support::Ignored) out += " (accepted with a warning; not acted on)";
  return out;
}

// Arrays and maps are explained by what they hold, as kubectl does.
const Schema* element(const Schema* s) {
  while (s && (s->type == Type::Array || s->type == Type::Map) && s->items) s = s->items;
  return s;
}

struct ExplainArgs {
  std::string what;  // KIND[.field.path]
  std::string api_version;
};

}  // namespace

Handler attach_explain(CLI::App& verb) {
  auto a = std::make_shared<ExplainArgs>();
  verb.add_option("what", a->what, "KIND or KIND.field.path (e.g. deploy.spec.template)")
      ->required();
  verb.add_option("--api-version", a->api_version,
                  "The kind's apiVersion when it has several (e.g. networking.k8s.io/v1beta1)");
  verb.footer(
      "Field names, types, which are required, enum values, and what ticketctl does with fields\n"
      "it accepts but cannot act on, from the schema tables manifests are validated against.");
  return [a] {
    const size_t dot = a->what.find('.');
    const std::string kind_word = a->what.substr(0, dot);
    const api::Resource* r = api::find_resource(kind_word);
    const manifest::KindInfo* info = nullptr;
    if (r)
      info =
          manifest::find_kind(a->api_version.empty() ? r->api_version() : a->api_version, r->kind);
    if (!info) {
      std::cerr << "error: the server doesn't have a resource type \"" << kind_word << "\"";
      if (r && !a->api_version.empty()) std::cerr << " in " << a->api_version;
      std::cerr << '\n';
      return kExitFailure;
    }
    // Walk the path: each part a field of the object the previous one holds.
    const Schema* schema = info->schema;
    const manifest::Field* field = nullptr;
    std::string walked(info->kind);
    for (size_t at = dot; at != std::string::npos;) {
      const size_t next = a->what.find('.', at + 1);
      const std::string part =
          a->what.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
      const Schema* holder = element(schema);
      field = holder ? holder->field(part) : nullptr;
      if (!field) {
        std::vector<std::string_view> names;
        if (holder)
          for (const manifest::Field& f : holder->fields) names.push_back(f.name);
        std::cerr << "error: field \"" << part << "\" does not exist in " << walked;
        if (std::optional<std::string_view> near = nearest(part, names))
          std::cerr << " (did you mean \"" << *near << "\"?)";
        else if (names.empty())
          std::cerr << " (a " << type_name(holder) << " has no fields)";
        std::cerr << '\n';
        return kExitFailure;
      }
      walked += "." + part;
      schema = field->schema;
      at = next;
    }
    const std::string version(info->api_version);
    const size_t slash = version.find('/');
    if (slash != std::string::npos) std::cout << "GROUP:      " << version.substr(0, slash) << '\n';
    std::cout << "KIND:       " << info->kind << '\n';
    std::cout << "VERSION:    "
              << (slash == std::string::npos ? version : version.substr(slash + 1)) << "\n\n";
    if (!info->converts_to.empty())
      std::cout << "Legacy: accepted with a warning and converted to " << info->converts_to
                << "\n\n";
    if (field)
      std::cout << "FIELD: " << field->name << " <" << type_name(schema) << ">" << notes(*field)
                << "\n\n";
    const Schema* shown = element(schema);
    if (shown && !shown->allowed.empty()) {
      std::cout << "ENUM:\n";
      for (std::string_view v : shown->allowed) std::cout << "    " << v << '\n';
      std::cout << '\n';
    }
    if (shown && !shown->fields.empty()) {
      std::vector<const manifest::Field*> fields;
      for (const manifest::Field& f : shown->fields) fields.push_back(&f);
      std::sort(fields.begin(), fields.end(),
                [](const auto* x, const auto* y) { return x->name < y->name; });
      std::cout << "FIELDS:\n";
      for (const manifest::Field* f : fields)
        std::cout << "  " << f->name << "\t<" << type_name(f->schema) << ">" << notes(*f) << '\n';
    }
    return kExitOk;
  };
}

}  // namespace ticketctl::cli
