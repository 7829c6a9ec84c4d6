#pragma once
// The -f/-R/-n flags that every verb reading manifests shares, and how diagnostics are shown.

#include <CLI/CLI.hpp>

#include <iosfwd>
#include <string>
#include <vector>

#include "runtime/manifest/loader.h"

namespace ticketctl::cli {

struct ManifestArgs {
  std::vector<std::string> paths;
  bool recursive = false;
  std::string ns = "default";

  void attach(CLI::App& verb);
  manifest::LoadResult load() const;  // reads stdin for "-"
};

// One line per diagnostic, compiler style: "file:line:col: error: Kind ns/name: field: message".
void print_diagnostics(const Diagnostics& diags, std::ostream& out);

}  // namespace ticketctl::cli
