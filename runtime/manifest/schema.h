#pragma once
// A schema is data: which fields an object has, their types, which are required, and which
// value rules apply. The Walker checks one YAML node against a schema, turns it into Kubernetes
// JSON and reports every problem with file:line:column and field path. It never throws on bad
// input. One Walker per document; not shared between threads.

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/diagnostics.h"
#include "runtime/manifest/json.h"
#include "runtime/manifest/names.h"

namespace ticketctl::manifest {

enum class Type {
  String,
  Integer,
  Boolean,
  Number,
  IntOrString,
  Quantity,
  Object,
  Array,
  Map,
  Any
};

// What ticketctl does with a field that Kubernetes defines.
enum class Support {
  Used,     // acted on (now or by a later part of ticketctl)
  Inert,    // valid, meaningless without a cluster (imagePullPolicy, status): accepted silently
  Ignored,  // valid, not implemented: accepted with a warning so nobody relies on it by mistake
};

// What a field the schema does not know is: an error (the default, as `kubectl apply` and the
// API's fieldValidation=Strict treat it), or dropped from the object with a warning (Warn) or
// silently (Ignore), as the API server does for those fieldValidation values.
enum class UnknownFields { Error, Warn, Ignore };

struct Schema;
class Walker;

using ScalarCheck = Invalid (*)(const Json& value);
using KeyCheck = Invalid (*)(std::string_view key);
// A rule across fields of one object or array. `node` carries positions, `value` the decoded
// JSON (possibly partial when other errors were found); report through the walker.
using Rule = void (*)(const YAML::Node& node, const Json& value, Walker& w);

struct Field {
  std::string_view name;
  const Schema* schema = nullptr;
  bool required = false;
  Support support = Support::Used;
};

struct Schema {
  Type type = Type::Any;
  std::vector<Field> fields{};              // Object
  const Schema* items = nullptr;            // Array elements and Map values
  KeyCheck key_check = nullptr;             // Map keys
  std::vector<std::string_view> allowed{};  // String enums
  ScalarCheck check = nullptr;              // scalar rule, after the type is right
  Rule rule = nullptr;                      // cross-field rule, after the fields are walked
  std::string_view name{};                  // "Container": documented once under this name
  bool sensitive = false;                   // Secret values: messages never repeat them
  // Unknown fields that users write for a reason, with what to write instead.
  std::vector<std::pair<std::string_view, std::string_view>> hints{};

  const Field* field(std::string_view name) const;
};

// "a lowercase RFC 1123 ..." style scalar checks that take JSON strings.
template <Invalid (*F)(std::string_view)>
Invalid string_check(const Json& v) {
  return v.is_string() ? F(v.get_ref<const std::string&>()) : std::nullopt;
}

class Walker {
 public:
  Walker(std::string file, int line_offset, std::string object, Diagnostics& out);

  // Checks `node` against `schema` at the current path and returns its JSON. On errors the
  // result may be partial; ok() tells whether this walker reported any error.
  Json walk(const YAML::Node& node, const Schema& schema);

  // Moves the current path into a field, list index or map key until the Scope ends.
  class Scope {
   public:
    explicit Scope(Walker& w) : w_(&w) {}
    Scope(Scope&& o) noexcept : w_(o.w_) { o.w_ = nullptr; }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    ~Scope();

   private:
    Walker* w_;
  };
  [[nodiscard]] Scope field(std::string_view name, const YAML::Node& at = YAML::Node());
  [[nodiscard]] Scope index(size_t i, const YAML::Node& at = YAML::Node());
  [[nodiscard]] Scope key(std::string_view k, const YAML::Node& at = YAML::Node());

  void error(const YAML::Node& at, std::string message);
  void warning(const YAML::Node& at, std::string message);
  void set_unknown_fields(UnknownFields u) { unknown_fields_ = u; }
  bool ok() const { return errors_ == 0; }
  std::string path() const;
  SourcePos position(const YAML::Node& at) const;

 private:
  struct Segment {
    enum Kind { Field, Index, Key } kind;
    std::string text;
    YAML::Mark mark;
  };
  void push(Segment::Kind kind, std::string text, const YAML::Node& at);
  void report(Severity s, const YAML::Node& at, std::string message);
  Json walk_object(const YAML::Node& node, const Schema& schema);
  Json walk_array(const YAML::Node& node, const Schema& schema);
  Json walk_map(const YAML::Node& node, const Schema& schema);
  Json walk_scalar(const YAML::Node& node, const Schema& schema);

  std::string file_;
  int line_offset_;
  std::string object_;
  Diagnostics& out_;
  std::vector<Segment> path_;
  YAML::Mark root_mark_;
  size_t errors_ = 0;
  UnknownFields unknown_fields_ = UnknownFields::Error;
};

// How a type is named in messages and docs: "string", "integer or string", "quantity", ...
std::string_view type_name(Type t);

// Converts any YAML to JSON with Kubernetes' scalar resolution, without a schema.
Json to_json(const YAML::Node& node);

// Whether a node carries a position; yaml-cpp throws on marks of undefined nodes.
bool has_mark(const YAML::Node& node);

// `node[key]` that never throws: an undefined (but safe to inspect) node when `node` is not a
// mapping or has no such key. yaml-cpp's own lookup returns nodes that throw on Type().
YAML::Node child(const YAML::Node& node, std::string_view key);
YAML::Node item(const YAML::Node& node, size_t index);
// The key node of `key` in a mapping: where errors about the field as a whole point.
YAML::Node key_of(const YAML::Node& node, std::string_view key);

}  // namespace ticketctl::manifest
