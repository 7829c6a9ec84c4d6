#pragma once
// Where manifests come from: -f arguments (files, directories, shell-style globs as skaffold
// writes them, "-" for stdin) and the documents inside each file. No YAML parsing here.
// Pure except for reading the filesystem; any thread.

#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/diagnostics.h"

namespace ticketctl::manifest {

struct SourceFile {
  std::string name;  // as the user will recognise it: the path as given or found, or "<stdin>"
  std::string text;
};

// Expands the -f arguments in order. Directories yield their .yaml, .yml and .json files in
// name order (subdirectories too when `recursive`). Problems (missing path, glob without match,
// unreadable file) are reported and the rest is still read.
std::vector<SourceFile> read_sources(const std::vector<std::string>& paths, bool recursive,
                                     std::istream& stdin_stream, Diagnostics& diags);

struct DocumentText {
  std::string_view text;
  int first_line = 0;  // 0-based line of `text` within its file
};

// Splits a multi-document stream at "---" lines the way kubectl's YAML reader does, so one
// broken document does not hide the others. Documents with nothing but comments are dropped.
std::vector<DocumentText> split_documents(std::string_view text);

}  // namespace ticketctl::manifest
