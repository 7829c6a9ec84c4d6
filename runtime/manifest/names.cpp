#include "runtime/manifest/names.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>

namespace ticketctl::manifest {
namespace {

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_alnum(char c) {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

std::string too_long(size_t max) {
  return "must be no more than " + std::to_string(max) + " characters";
}

bool matches_dns_label(std::string_view s) {
  if (s.empty() || !is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}

bool matches_dns_subdomain(std::string_view s) {
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    if (!matches_dns_label(s.substr(start, dot == std::string_view::npos ? dot : dot - start)))
      return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool matches_qualified_part(std::string_view s) {
  if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
}

constexpr std::string_view kSubdomainMsg =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com')";

}  // namespace

Invalid check_dns1123_label(std::string_view s) {
  if (s.size() > 63) return too_long(63);
  if (!matches_dns_label(s))
    return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
           "and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc')";
  return std::nullopt;
}

Invalid check_dns1123_subdomain(std::string_view s) {
  if (s.size() > 253) return too_long(253);
  if (!matches_dns_subdomain(s)) return std::string(kSubdomainMsg);
  return std::nullopt;
}

Invalid check_dns1035_label(std::string_view s) {
  if (s.size() > 63) return too_long(63);
  if (s.empty() || !is_alpha(s.front()) || !matches_dns_label(s))
    return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
           "with an alphabetic character, and end with an alphanumeric character (e.g. "
           "'my-name', or 'abc-123')";
  return std::nullopt;
}

Invalid check_label_key(std::string_view s) {
  std::string_view name = s;
  const size_t slash = s.find('/');
  if (slash != std::string_view::npos) {
    const std::string_view prefix = s.substr(0, slash);
    name = s.substr(slash + 1);
    if (prefix.empty()) return "prefix part must be non-empty";
    if (prefix.size() > 253) return "prefix part " + too_long(253);
    if (!matches_dns_subdomain(prefix)) return "prefix part " + std::string(kSubdomainMsg);
  }
  if (name.empty()) return "name part must be non-empty";
  if (name.size() > 63) return "name part " + too_long(63);
  if (!matches_qualified_part(name))
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
           "and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc')";
  return std::nullopt;
}

Invalid check_label_value(std::string_view s) {
  if (s.empty()) return std::nullopt;
  if (s.size() > 63) return too_long(63);
  if (!matches_qualified_part(s))
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', "
           "'_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue', "
           "or 'my_value', or '12345')";
  return std::nullopt;
}

Invalid check_env_var_name(std::string_view s) {
  // Kubernetes 1.32 relaxed the old C-identifier-like rule (RelaxedEnvironmentVariableValidation,
  // on by default): any printable ASCII but '='.
  const bool ok = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return c >= ' ' && c <= '~' && c != '=';
  });
  if (!ok)
    return "a valid environment variable name must consist only of printable ASCII characters "
           "other than '='";
  return std::nullopt;
}

Invalid check_config_key(std::string_view s) {
  if (s.size() > 253) return too_long(253);
  const bool ok = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return is_alnum(c) || c == '_' || c == '-' || c == '.';
  });
  if (!ok)
    return "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
           "'key.name', or 'KEY_NAME', or 'key-name')";
  if (s == "." || s == "..") return "must not be '.' or '..'";
  return std::nullopt;
}

Invalid check_port_name(std::string_view s) {
  if (s.size() > 15) return too_long(15);
  if (!std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; }))
    return "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)";
  if (s.find("--") != std::string_view::npos) return "must not contain consecutive hyphens (--)";
  if (std::none_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; }))
    return "must contain at least one letter (a-z)";
  if (s.empty() || s.front() == '-' || s.back() == '-')
    return "must not begin or end with a hyphen (-)";
  return std::nullopt;
}

Invalid check_quantity(std::string_view s) {
  static const std::string kMsg =
      "quantities must match the regular expression "
      "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t digits = 0, dots = 0;
  while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) {
    (s[i] == '.' ? dots : digits)++;
    ++i;
  }
  if (digits == 0 || dots > 1) return kMsg;
  const std::string_view suffix = s.substr(i);
  static constexpr std::array<std::string_view, 16> kSuffixes = {
      "", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  if (std::find(kSuffixes.begin(), kSuffixes.end(), suffix) != kSuffixes.end()) return std::nullopt;
  if (suffix[0] == 'e' || suffix[0] == 'E') {
    size_t j = 1;
    if (j < suffix.size() && (suffix[j] == '+' || suffix[j] == '-')) ++j;
    if (j < suffix.size() &&
        std::all_of(suffix.begin() + j, suffix.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
  }
  return kMsg;
}

Invalid check_ip(std::string_view s) {
  const std::string copy(s);
  unsigned char buf[16];
  if (inet_pton(AF_INET, copy.c_str(), buf) == 1 || inet_pton(AF_INET6, copy.c_str(), buf) == 1)
    return std::nullopt;
  return "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
}

Invalid check_ingress_host(std::string_view s) {
  if (s.find('*') != std::string_view::npos) {
    if (!s.starts_with("*.") || check_dns1123_subdomain(s.substr(2)))
      return "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS "
             "subdomain, which must consist of lower case alphanumeric characters, '-' or '.' "
             "and end with an alphanumeric character (e.g. '*.example.com')";
    return std::nullopt;
  }
  if (check_ip(s) == std::nullopt) return "must be a DNS name, not an IP address";
  return check_dns1123_subdomain(s);
}

}  // namespace ticketctl::manifest
