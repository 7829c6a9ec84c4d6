#pragma once
// The scaffolding templates: plain files under the repository's templates/ directory, compiled
// into the binary (builtin_templates.cpp is generated at build time), optionally overlaid by a
// user's --template-dir with the same layout. Rendered with mustache, without HTML escaping.
// Read-only after loading; any thread.

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <kainjow/mustache.hpp>

#include "runtime/core/result.h"

namespace ticketctl::scaffold {

struct TemplateFile {
  std::string_view path;  // relative to templates/, '/'-separated
  std::string_view content;
};

// Generated from templates/ at build time.
const std::vector<TemplateFile>& builtin_templates();

using Data = kainjow::mustache::data;

class TemplateSet {
 public:
  // The built-in templates, with the files of `user_dir` (when not empty) taking the place of
  // built-in files of the same path, and adding new ones (e.g. service/python/...).
  static Result<TemplateSet> load(const std::filesystem::path& user_dir);

  bool has(const std::string& path) const { return files_.count(path) != 0; }
  // Paths below `prefix` ("service/node/files/"), with the prefix removed.
  std::vector<std::string> list(const std::string& prefix) const;
  // The names of the directories right below `prefix` ("service/" -> node, node-ts, cpp).
  std::vector<std::string> children(const std::string& prefix) const;
  // Renders the template at `path` with `data`; an error names the file and the problem.
  Result<std::string> render(const std::string& path, const Data& data) const;

 private:
  std::map<std::string, std::string> files_;
  std::map<std::string, std::string> origin_;  // path -> where it came from, for messages
};

// A template's file name as written: "dot-gitignore" -> ".gitignore" (a real .gitignore inside
// templates/ would apply to the repository itself).
std::string output_name(std::string_view template_path);

}  // namespace ticketctl::scaffold
