#pragma once
// Diagnostics: what went wrong (or is suspicious) in user input, and where.
// Owns no state beyond the values it is given; any thread may use it.

#include <string>
#include <vector>

namespace ticketctl {

enum class Severity { Error, Warning };

// A position in a source file; line and column are 1-based, 0 when unknown.
struct SourcePos {
  std::string file;
  int line = 0;
  int column = 0;
};

struct Diagnostic {
  Severity severity = Severity::Error;
  SourcePos pos;
  std::string object;  // "Deployment default/posts-depl", empty when not inside an object
  std::string field;   // "spec.template.spec.containers[0].image", empty for the whole object
  std::string message;

  // "file:line:col: error: Deployment default/posts-depl: spec.replicas: message"
  std::string to_string() const;
};

class Diagnostics {
 public:
  void add(Diagnostic d) { items_.push_back(std::move(d)); }
  const std::vector<Diagnostic>& items() const { return items_; }
  bool has_errors() const;
  size_t error_count() const;
  size_t warning_count() const;
  // Keeps the order in which problems were found within a file, files in the order given.
  void append(const Diagnostics& other);

 private:
  std::vector<Diagnostic> items_;
};

std::string_view severity_name(Severity s);

}  // namespace ticketctl
