#pragma once
// A project's local settings: ticketctl.yaml (strict: unknown keys are errors with file:line),
// or, in a course repository without one, the manifests skaffold.yaml deploys. Kubernetes never
// reads either. Reads files; any thread.

#include <filesystem>
#include <string>
#include <vector>

#include "runtime/core/diagnostics.h"

namespace ticketctl::project {

struct Config {
  std::filesystem::path file;  // the file read; empty when the directory has neither
  std::vector<std::string>
      manifests;  // files, directories or globs, relative to `file`'s directory
};

// Looks in `dir` for ticketctl.yaml, then skaffold.yaml / skaffold.yml. Problems go to `diags`.
Config load(const std::filesystem::path& dir, Diagnostics& diags);

}  // namespace ticketctl::project
