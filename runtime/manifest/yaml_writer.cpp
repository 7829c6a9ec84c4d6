#include "runtime/manifest/yaml_writer.h"

#include <cctype>
#include <cmath>

#include "runtime/manifest/scalar.h"

namespace ticketctl::manifest {
namespace {

bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  if (!resolve_scalar(s, "?").is_string()) return true;  // "3000", "yes", "null", "1e3"
  // YAML 1.1 readers (go-yaml, so kubectl) take 2026-11-25... for a timestamp.
  if (s.size() >= 10 && std::isdigit(static_cast<unsigned char>(s[0])) && s[4] == '-' &&
      s[7] == '-')
    return true;
  static constexpr std::string_view kIndicators = "-?:,[]{}#&*!|>'\"%@`";
  if (kIndicators.find(s.front()) != std::string_view::npos) {
    // "--port" is a plain scalar: a dash is an indicator only before a space.
    if (!(s.front() == '-' && s.size() > 1 && s[1] != ' ')) return true;
  }
  if (s.front() == ' ' || s.back() == ' ' || s.back() == ':') return true;
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos) return true;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

std::string scalar(const std::string& s) {
  return needs_quotes(s) ? Json(s).dump() : s;
}

// A literal block keeps multi-line text (config files, scripts) readable.
bool literal_block_fits(const std::string& s) {
  if (s.find('\n') == std::string::npos || s.front() == ' ' || s.front() == '\n') return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = s[i];
    if ((c < 0x20 && c != '\n') || c == 0x7f) return false;
    if (c == ' ' && (i + 1 == s.size() || s[i + 1] == '\n')) return false;  // trailing spaces
  }
  return true;
}

void write_literal(const std::string& s, int indent, std::string& out) {
  size_t trailing = 0;
  while (trailing < s.size() && s[s.size() - 1 - trailing] == '\n') ++trailing;
  out += trailing == 0 ? "|-" : trailing == 1 ? "|" : "|+";
  out += '\n';
  const std::string pad(indent, ' ');
  // Every line, each followed by its break; the chomping indicator says how many trailing
  // breaks belong to the value.
  size_t pos = 0;
  while (pos < s.size()) {
    size_t eol = s.find('\n', pos);
    if (eol == std::string::npos) eol = s.size();
    if (eol > pos) out += pad;
    out.append(s, pos, eol - pos);
    out += '\n';
    pos = eol + 1;
  }
}

std::string number(const Json& v) {
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isnan(d)) return ".nan";
    if (std::isinf(d)) return d > 0 ? ".inf" : "-.inf";
  }
  return v.dump();
}

void write_value(const Json& v, int indent, std::string& out);

// Writes what follows "key:" or "- ": an inline scalar, or a newline and a nested block.
void write_after_key(const Json& v, int indent, bool in_list_item, std::string& out) {
  if (v.is_object() && !v.empty()) {
    out += '\n';
    write_value(v, indent + 2, out);
  } else if (v.is_array() && !v.empty()) {
    out += '\n';
    // kubectl puts a mapping's list items at the key's own indentation.
    write_value(v, in_list_item ? indent + 2 : indent, out);
  } else if (v.is_string() && literal_block_fits(v.get_ref<const std::string&>())) {
    out += ' ';
    write_literal(v.get_ref<const std::string&>(), indent + 2, out);
  } else {
    out += ' ';
    write_value(v, indent, out);
    out += '\n';
  }
}

void write_value(const Json& v, int indent, std::string& out) {
  const std::string pad(indent, ' ');
  switch (v.type()) {
    case Json::value_t::object:
      if (v.empty()) {
        out += "{}";
        return;
      }
      for (auto it = v.begin(); it != v.end(); ++it) {
        out += pad + scalar(it.key()) + ':';
        write_after_key(it.value(), indent, false, out);
      }
      return;
    case Json::value_t::array:
      if (v.empty()) {
        out += "[]";
        return;
      }
      for (const Json& item : v) {
        out += pad + "-";
        if (item.is_object() && !item.empty()) {
          // First key on the dash line, the rest aligned under it.
          std::string nested;
          write_value(item, indent + 2, nested);
          out += ' ';
          out += nested.substr(indent + 2);
        } else if (item.is_array() && !item.empty()) {
          out += '\n';
          write_value(item, indent + 2, out);
        } else {
          write_after_key(item, indent, true, out);
        }
      }
      return;
    case Json::value_t::string:
      out += scalar(v.get_ref<const std::string&>());
      return;
    case Json::value_t::null:
      out += "null";
      return;
    case Json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      return;
    default:
      out += number(v);
      return;
  }
}

}  // namespace

std::string to_yaml(const Json& value) {
  std::string out;
  if ((value.is_object() || value.is_array()) && !value.empty()) {
    write_value(value, 0, out);
  } else {
    write_value(value, 0, out);
    out += '\n';
  }
  return out;
}

}  // namespace ticketctl::manifest
