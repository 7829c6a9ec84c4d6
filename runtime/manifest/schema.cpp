#include "runtime/manifest/schema.h"

#include <fmt/format.h>

#include "runtime/core/strings.h"
#include "runtime/manifest/scalar.h"

namespace ticketctl::manifest {

const Field* Schema::field(std::string_view name) const {
  for (const Field& f : fields)
    if (f.name == name) return &f;
  return nullptr;
}

bool has_mark(const YAML::Node& node) {
  return node.IsDefined() && !node.Mark().is_null();
}

YAML::Node child(const YAML::Node& node, std::string_view key) {
  if (node.IsDefined() && node.IsMap()) {
    YAML::Node found = node[std::string(key)];
    if (found.IsDefined()) return found;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

YAML::Node item(const YAML::Node& node, size_t index) {
  if (node.IsDefined() && node.IsSequence() && index < node.size()) return node[index];
  return YAML::Node(YAML::NodeType::Undefined);
}

YAML::Node key_of(const YAML::Node& node, std::string_view key) {
  if (node.IsDefined() && node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it)
      if (it->first.IsScalar() && it->first.Scalar() == key) return it->first;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

Json to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      Json obj = Json::object();
      for (auto it = node.begin(); it != node.end(); ++it)
        obj[it->first.IsScalar() ? it->first.Scalar() : std::string("?")] = to_json(it->second);
      return obj;
    }
    case YAML::NodeType::Sequence: {
      Json arr = Json::array();
      for (auto it = node.begin(); it != node.end(); ++it) arr.push_back(to_json(*it));
      return arr;
    }
    case YAML::NodeType::Scalar:
      return resolve_scalar(node.Scalar(), node.Tag());
    default:
      return nullptr;
  }
}

Walker::Walker(std::string file, int line_offset, std::string object, Diagnostics& out)
    : file_(std::move(file)), line_offset_(line_offset), object_(std::move(object)), out_(out) {}

Walker::Scope::~Scope() {
  if (w_) w_->path_.pop_back();
}

void Walker::push(Segment::Kind kind, std::string text, const YAML::Node& at) {
  YAML::Mark mark = has_mark(at) ? at.Mark() : (path_.empty() ? root_mark_ : path_.back().mark);
  path_.push_back({kind, std::move(text), mark});
}

Walker::Scope Walker::field(std::string_view name, const YAML::Node& at) {
  push(Segment::Field, std::string(name), at);
  return Scope(*this);
}
Walker::Scope Walker::index(size_t i, const YAML::Node& at) {
  push(Segment::Index, std::to_string(i), at);
  return Scope(*this);
}
Walker::Scope Walker::key(std::string_view k, const YAML::Node& at) {
  push(Segment::Key, std::string(k), at);
  return Scope(*this);
}

std::string Walker::path() const {
  std::string out;
  for (const Segment& s : path_) {
    if (s.kind == Segment::Field) {
      if (!out.empty()) out += '.';
      out += s.text;
    } else {
      out += '[' + s.text + ']';
    }
  }
  return out;
}

SourcePos Walker::position(const YAML::Node& at) const {
  // yaml-cpp marks an empty value at the token after it, often the next line; the key that
  // introduced it is where the user looks.
  const bool usable = has_mark(at) && !at.IsNull();
  YAML::Mark mark = usable ? at.Mark() : (path_.empty() ? root_mark_ : path_.back().mark);
  SourcePos pos{file_, 0, 0};
  if (!mark.is_null()) {
    pos.line = mark.line + 1 + line_offset_;
    pos.column = mark.column + 1;
  }
  return pos;
}

void Walker::report(Severity s, const YAML::Node& at, std::string message) {
  if (s == Severity::Error) ++errors_;
  out_.add(Diagnostic{s, position(at), object_, path(), std::move(message)});
}

void Walker::error(const YAML::Node& at, std::string message) {
  report(Severity::Error, at, std::move(message));
}
void Walker::warning(const YAML::Node& at, std::string message) {
  report(Severity::Warning, at, std::move(message));
}

std::string_view type_name(Type t) {
  switch (t) {
    case Type::String:
      return "string";
    case Type::Integer:
      return "integer";
    case Type::Boolean:
      return "boolean";
    case Type::Number:
      return "number";
    case Type::IntOrString:
      return "integer or string";
    case Type::Quantity:
      return "quantity";
    case Type::Object:
      return "object";
    case Type::Array:
      return "array";
    case Type::Map:
      return "object";
    case Type::Any:
      return "any";
  }
  return "value";
}

namespace {

std::string_view node_kind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "object";
    case YAML::NodeType::Sequence:
      return "array";
    default:
      return "value";
  }
}

bool type_accepts(Type t, const Json& v) {
  switch (t) {
    case Type::String:
      return v.is_string();
    case Type::Integer:
      return v.is_number_integer();
    case Type::Boolean:
      return v.is_boolean();
    case Type::Number:
      return v.is_number();
    case Type::IntOrString:
      return v.is_number_integer() || v.is_string();
    case Type::Quantity:
      return v.is_string() || v.is_number();
    default:
      return true;
  }
}

}  // namespace

Json Walker::walk(const YAML::Node& node, const Schema& schema) {
  if (path_.empty() && has_mark(node)) root_mark_ = node.Mark();
  if (!node.IsDefined() || node.IsNull()) return nullptr;  // unset; required-ness is the parent's
  switch (schema.type) {
    case Type::Object:
      return walk_object(node, schema);
    case Type::Array:
      return walk_array(node, schema);
    case Type::Map:
      return walk_map(node, schema);
    case Type::Any:
      return to_json(node);
    default:
      return walk_scalar(node, schema);
  }
}

Json Walker::walk_object(const YAML::Node& node, const Schema& schema) {
  if (!node.IsMap()) {
    error(node,
          fmt::format("expected object, got {}",
                      node.IsSequence() ? std::string("array") : "scalar " + quote(node.Scalar())));
    return nullptr;
  }
  Json out = Json::object();
  std::vector<std::string_view> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node k = it->first;
    if (!k.IsScalar()) {
      error(k, "field names must be strings");
      continue;
    }
    const std::string& name = k.Scalar();
    auto scope = field(name, k);
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      error(k, fmt::format("duplicate field {}", quote(name)));
      continue;
    }
    seen.push_back(name);
    const Field* f = schema.field(name);
    if (!f && unknown_fields_ == UnknownFields::Ignore) continue;
    if (!f) {
      std::vector<std::string_view> names;
      for (const Field& known : schema.fields) names.push_back(known.name);
      std::string msg = fmt::format("unknown field {}", quote(name));
      const auto hint = std::find_if(schema.hints.begin(), schema.hints.end(),
                                     [&](const auto& h) { return h.first == name; });
      if (hint != schema.hints.end()) {
        msg += fmt::format(": {}", hint->second);
      } else if (auto near = nearest(name, names)) {
        msg += fmt::format(" (did you mean {}?)", quote(*near));
      }
      if (unknown_fields_ == UnknownFields::Warn)
        warning(k, std::move(msg));
      else
        error(k, std::move(msg));
      continue;
    }
    // An empty value asks for nothing (the API server defaults securityContext to {}, so a
    // manifest saved with `get -o yaml` holds one).
    const bool empty = (it->second.IsMap() || it->second.IsSequence()) && it->second.size() == 0;
    if (f->support == Support::Ignored && !empty)
      warning(k, "accepted but ignored: ticketctl does not implement this field");
    out[name] = walk(it->second, *f->schema);
  }
  for (const Field& f : schema.fields) {
    if (!f.required) continue;
    const YAML::Node value = child(node, f.name);
    // A value of the wrong type was reported already; empty strings and lists count as missing.
    const bool missing =
        !value.IsDefined() || value.IsNull() ||
        (value.IsScalar() && f.schema->type == Type::String && value.Scalar().empty()) ||
        (value.IsSequence() && value.size() == 0);
    if (!missing) continue;
    const YAML::Node key = key_of(node, f.name);
    auto scope = field(f.name, key.IsDefined() ? key : node);
    error(key.IsDefined() ? key : node, "required value is missing");
  }
  if (schema.rule) schema.rule(node, out, *this);
  return out;
}

Json Walker::walk_array(const YAML::Node& node, const Schema& schema) {
  if (!node.IsSequence()) {
    error(node,
          fmt::format("expected array, got {}",
                      node.IsMap() ? std::string("object") : "scalar " + quote(node.Scalar())));
    return nullptr;
  }
  Json out = Json::array();
  size_t i = 0;
  for (auto it = node.begin(); it != node.end(); ++it, ++i) {
    auto scope = index(i, *it);
    if (it->IsNull() && schema.items->type != Type::Any) {
      error(*it, fmt::format("expected {}, got null", type_name(schema.items->type)));
      out.push_back(nullptr);
      continue;
    }
    out.push_back(walk(*it, *schema.items));
  }
  if (schema.rule) schema.rule(node, out, *this);
  return out;
}

Json Walker::walk_map(const YAML::Node& node, const Schema& schema) {
  if (!node.IsMap()) {
    error(node,
          fmt::format("expected object, got {}",
                      node.IsSequence() ? std::string("array") : "scalar " + quote(node.Scalar())));
    return nullptr;
  }
  Json out = Json::object();
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node k = it->first;
    if (!k.IsScalar()) {
      error(k, "keys must be strings");
      continue;
    }
    const std::string& name = k.Scalar();
    auto scope = key(name, k);
    if (out.contains(name)) {
      error(k, fmt::format("duplicate key {}", quote(name)));
      continue;
    }
    if (schema.key_check) {
      if (auto bad = schema.key_check(name))
        error(k, fmt::format("invalid key {}: {}", quote(name), *bad));
    }
    const YAML::Node v = it->second;
    Json value = walk(v, *schema.items);
    if (v.IsNull() && schema.items->type == Type::String) {
      // Kubernetes decodes `key:` with no value in a string map as "", which is rarely meant.
      warning(has_mark(v) ? v : k, "no value given; read as \"\" (write \"\" to say so)");
      value = "";
    } else if (v.IsNull() && schema.items->type != Type::Any) {
      error(has_mark(v) ? v : k,
            fmt::format("expected {}, got null", type_name(schema.items->type)));
    }
    out[name] = std::move(value);
  }
  if (schema.rule) schema.rule(node, out, *this);
  return out;
}

Json Walker::walk_scalar(const YAML::Node& node, const Schema& schema) {
  if (!node.IsScalar()) {
    error(node, fmt::format("expected {}, got {}", type_name(schema.type), node_kind(node)));
    return nullptr;
  }
  Json value = resolve_scalar(node.Scalar(), node.Tag());
  if (!type_accepts(schema.type, value)) {
    std::string msg =
        fmt::format("expected {}, got {}", type_name(schema.type), json_type_name(value));
    if (schema.sensitive) {
      // A Secret's value must not reach terminals, logs or API responses through an error.
      if (schema.type == Type::String) msg += " (quote the value to keep it a string)";
    } else if (value.is_string()) {
      msg += ' ' + quote(node.Scalar());
    } else {
      msg += ' ' + node.Scalar();
      if (schema.type == Type::String || schema.type == Type::IntOrString)
        msg += fmt::format(" (quote it to keep it a string: {})", quote(node.Scalar()));
    }
    error(node, std::move(msg));
    return value;
  }
  if (!schema.allowed.empty() && value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    if (std::find(schema.allowed.begin(), schema.allowed.end(), s) == schema.allowed.end()) {
      std::vector<std::string> list;
      for (auto a : schema.allowed) list.push_back(quote(a));
      error(node,
            fmt::format("unsupported value {}: supported values: {}", quote(s), join(list, ", ")));
      return value;
    }
  }
  if (schema.type == Type::Quantity) {
    if (auto bad = check_quantity(node.Scalar()))
      error(node, fmt::format("invalid value {}: {}", quote(node.Scalar()), *bad));
  } else if (schema.check) {
    if (auto bad = schema.check(value); bad && schema.sensitive)
      error(node, fmt::format("invalid value: {}", *bad));
    else if (bad)
      error(node, fmt::format(
                      "invalid value {}: {}",
                      value.is_string() ? quote(value.get_ref<const std::string&>()) : value.dump(),
                      *bad));
  }
  return value;
}

}  // namespace ticketctl::manifest
