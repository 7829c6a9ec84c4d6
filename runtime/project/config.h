#pragma once
// A project's local settings: ticketctl.yaml (strict: unknown keys are errors with file:line),
// or, in a course repository without one, the manifests skaffold.yaml deploys. Kubernetes never
// reads either. Reads files; any thread.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/core/diagnostics.h"

namespace ticketctl::project {

// How one image runs locally, from ticketctl.yaml `images:` or a skaffold.yaml artifact.
struct ImageSetting {
  std::string source;             // "ticketctl.yaml images.demo/posts", for messages
  std::filesystem::path context;  // absolute; the process's working directory
  std::optional<std::vector<std::string>> command;  // replaces ENTRYPOINT (and CMD)
  std::optional<std::vector<std::string>> args;     // replaces CMD
  std::vector<std::string> build;
  std::vector<std::pair<std::string, std::string>> env;
  std::filesystem::path dockerfile;  // relative to `context`
};

struct Config {
  // The file the manifests came from; empty when the directory has neither.
  std::filesystem::path file;
  // Files, directories or globs, relative to `file`'s directory.
  std::vector<std::string> manifests;
  std::map<std::string, ImageSetting> images;     // ticketctl.yaml `images:`, by image name
  std::map<std::string, ImageSetting> artifacts;  // skaffold.yaml build.artifacts, by image
};

// Looks in `dir` for ticketctl.yaml and skaffold.yaml / skaffold.yml: manifests from the first,
// else the second; images from both. Problems go to `diags`.
Config load(const std::filesystem::path& dir, Diagnostics& diags);

}  // namespace ticketctl::project
