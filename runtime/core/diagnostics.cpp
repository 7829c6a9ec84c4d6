#include "runtime/core/diagnostics.h"

#include <fmt/format.h>

#include <algorithm>

namespace ticketctl {

std::string_view severity_name(Severity s) {
  return s == Severity::Error ? "error" : "warning";
}

std::string Diagnostic::to_string() const {
  std::string out;
  if (!pos.file.empty()) {
    out += pos.file;
    if (pos.line > 0) out += fmt::format(":{}:{}", pos.line, pos.column);
    out += ": ";
  }
  out += severity_name(severity);
  out += ": ";
  if (!object.empty()) out += object + ": ";
  if (!field.empty()) out += field + ": ";
  out += message;
  return out;
}

bool Diagnostics::has_errors() const {
  return error_count() > 0;
}

size_t Diagnostics::error_count() const {
  return std::count_if(items_.begin(), items_.end(),
                       [](const Diagnostic& d) { return d.severity == Severity::Error; });
}

size_t Diagnostics::warning_count() const {
  return items_.size() - error_count();
}

void Diagnostics::append(const Diagnostics& other) {
  items_.insert(items_.end(), other.items_.begin(), other.items_.end());
}

}  // namespace ticketctl
