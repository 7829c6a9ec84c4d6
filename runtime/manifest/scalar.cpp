#include "runtime/manifest/scalar.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

namespace ticketctl::manifest {
namespace {

bool one_of(std::string_view s, std::initializer_list<std::string_view> set) {
  for (auto c : set)
    if (s == c) return true;
  return false;
}

// Parses digits of `base`, allowing YAML 1.1's '_' separators. Empty or overflow: false.
bool parse_digits(std::string_view s, int base, bool negative, Json& out) {
  if (s.empty()) return false;
  unsigned long long value = 0;
  bool any = false;
  for (char c : s) {
    if (c == '_') continue;
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return false;
    if (d >= base) return false;
    if (value > (std::numeric_limits<unsigned long long>::max() - d) / base) return false;
    value = value * base + d;
    any = true;
  }
  if (!any) return false;
  if (negative) {
    if (value > static_cast<unsigned long long>(std::numeric_limits<long long>::max()) + 1)
      return false;
    out = static_cast<long long>(0 - value);
  } else if (value > static_cast<unsigned long long>(std::numeric_limits<long long>::max())) {
    out = value;
  } else {
    out = static_cast<long long>(value);
  }
  return true;
}

bool resolve_int(std::string_view s, Json& out) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || s[0] == '_') return false;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
    return parse_digits(s.substr(2), 16, negative, out);
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
    return parse_digits(s.substr(2), 2, negative, out);
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
    return parse_digits(s.substr(2), 8, negative, out);
  if (s.size() > 1 && s[0] == '0') return parse_digits(s.substr(1), 8, negative, out);
  return parse_digits(s, 10, negative, out);
}

bool resolve_float(std::string_view s, Json& out) {
  if (one_of(s, {".nan", ".NaN", ".NAN"})) {
    out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  std::string_view body = s;
  bool negative = false;
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (one_of(body, {".inf", ".Inf", ".INF"})) {
    out = negative ? -std::numeric_limits<double>::infinity()
                   : std::numeric_limits<double>::infinity();
    return true;
  }
  // [0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)? or \.[0-9_]+ ...
  size_t i = 0, digits = 0;
  std::string clean;
  while (i < body.size() && (std::isdigit(static_cast<unsigned char>(body[i])) || body[i] == '_')) {
    if (body[i] != '_') {
      clean += body[i];
      ++digits;
    }
    ++i;
  }
  bool dot = false;
  if (i < body.size() && body[i] == '.') {
    dot = true;
    clean += '.';
    ++i;
    while (i < body.size() &&
           (std::isdigit(static_cast<unsigned char>(body[i])) || body[i] == '_')) {
      if (body[i] != '_') {
        clean += body[i];
        ++digits;
      }
      ++i;
    }
  }
  if (digits == 0) return false;
  bool exponent = false;
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    exponent = true;
    clean += 'e';
    ++i;
    if (i < body.size() && (body[i] == '+' || body[i] == '-')) clean += body[i++];
    size_t exp_digits = 0;
    while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) {
      clean += body[i++];
      ++exp_digits;
    }
    if (exp_digits == 0) return false;
  }
  if (i != body.size() || (!dot && !exponent)) return false;
  const double v = std::strtod(clean.c_str(), nullptr);
  out = negative ? -v : v;
  return true;
}

}  // namespace

Json resolve_scalar(std::string_view text, std::string_view tag) {
  if (tag == "!" || tag == "tag:yaml.org,2002:str") return Json(std::string(text));
  if (tag == "?" || tag.empty() || tag.starts_with("tag:yaml.org,2002:")) {
    if (one_of(text, {"", "~", "null", "Null", "NULL"})) return Json(nullptr);
    if (one_of(text, {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"}))
      return Json(true);
    if (one_of(text, {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"}))
      return Json(false);
    Json number;
    if (resolve_int(text, number)) return number;
    if (resolve_float(text, number)) return number;
  }
  return Json(std::string(text));
}

std::string_view json_type_name(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "integer";
    case Json::value_t::number_float:
      return "number";
    case Json::value_t::string:
      return "string";
    case Json::value_t::array:
      return "array";
    case Json::value_t::object:
      return "object";
    default:
      return "value";
  }
}

}  // namespace ticketctl::manifest
