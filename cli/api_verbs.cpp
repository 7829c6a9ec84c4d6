#include "cli/api_verbs.h"

#include <fmt/format.h>

#include <cctype>

namespace ticketctl::cli {

std::string server_error(const Error& e) {
  switch (e.code) {
    case ErrorCode::NotFound:
      return "Error from server (NotFound): " + e.message;
    case ErrorCode::AlreadyExists:
      return "Error from server (AlreadyExists): " + e.message;
    case ErrorCode::Conflict:
      return "Error from server (Conflict): " + e.message;
    case ErrorCode::Invalid:
      return "Error from server (Invalid): " + e.message;
    case ErrorCode::Internal:
      return "error: " + e.message;
  }
  return "error: " + e.message;
}

std::string selector_query(const std::string& labels, const std::string& fields) {
  std::string q;
  auto add = [&](const char* key, const std::string& value) {
    if (value.empty()) return;
    q += q.empty() ? '?' : '&';
    q += key;
    q += '=';
    for (char c : value) {
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')
        q += c;
      else
        q += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  };
  add("labelSelector", labels);
  add("fieldSelector", fields);
  return q;
}

}  // namespace ticketctl::cli
