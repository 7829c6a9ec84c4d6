#include "runtime/scaffold/templates.h"

#include <fmt/format.h>

#include <fstream>
#include <set>
#include <sstream>

namespace ticketctl::scaffold {
namespace fs = std::filesystem;
namespace {

// A template directory is input like any other: bounded, regular files only.
constexpr uintmax_t kMaxTemplateBytes = 1 << 20;
constexpr size_t kMaxTemplateFiles = 2000;

// Mustache's spec removes a line that holds nothing but a section tag ({{#x}}, {{/x}}, {{^x}},
// {{!x}}); kainjow 4.1 keeps its newline when the section is skipped, which would leave blank
// lines in YAML and code. Such lines are reduced to the bare tag before parsing.
std::string strip_standalone_tags(const std::string& text) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    const size_t end = nl == std::string::npos ? text.size() : nl + 1;
    const std::string line = text.substr(pos, end - pos);
    const size_t first = line.find_first_not_of(" \t");
    const size_t last = line.find_last_not_of(" \t\r\n");
    const bool standalone = first != std::string::npos && last != std::string::npos &&
                            line.compare(first, 2, "{{") == 0 && first + 2 < line.size() &&
                            std::string_view("#^/!").find(line[first + 2]) != std::string::npos &&
                            line.compare(last - 1, 2, "}}") == 0 &&
                            line.find("}}", first) == last - 1;
    out += standalone ? line.substr(first, last - first + 1) : line;
    pos = end;
  }
  return out;
}

}  // namespace

Result<TemplateSet> TemplateSet::load(const fs::path& user_dir) {
  TemplateSet set;
  for (const TemplateFile& f : builtin_templates()) {
    set.files_[std::string(f.path)] = std::string(f.content);
    set.origin_[std::string(f.path)] = "built-in template " + std::string(f.path);
  }
  if (user_dir.empty()) return set;
  std::error_code ec;
  if (!fs::is_directory(user_dir, ec))
    return Error{ErrorCode::NotFound,
                 fmt::format("--template-dir {}: not a directory", user_dir.string())};
  size_t count = 0;
  fs::recursive_directory_iterator it(user_dir, ec), end;
  if (ec) return Error{ErrorCode::Invalid, fmt::format("{}: {}", user_dir.string(), ec.message())};
  for (; it != end; it.increment(ec)) {
    if (ec)
      return Error{ErrorCode::Invalid, fmt::format("{}: {}", user_dir.string(), ec.message())};
    if (!it->is_regular_file(ec)) continue;
    if (++count > kMaxTemplateFiles)
      return Error{ErrorCode::Invalid,
                   fmt::format("{}: more than {} files", user_dir.string(), kMaxTemplateFiles)};
    const fs::path file = it->path();
    if (it->file_size(ec) > kMaxTemplateBytes)
      return Error{ErrorCode::Invalid,
                   fmt::format("{}: larger than {} bytes", file.string(), kMaxTemplateBytes)};
    std::ifstream in(file, std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    if (!in && !in.eof())
      return Error{ErrorCode::Invalid, fmt::format("{}: cannot read", file.string())};
    const std::string rel = file.lexically_relative(user_dir).generic_string();
    set.files_[rel] = buf.str();
    set.origin_[rel] = file.string();
  }
  return set;
}

std::vector<std::string> TemplateSet::list(const std::string& prefix) const {
  std::vector<std::string> out;
  for (auto it = files_.lower_bound(prefix); it != files_.end() && it->first.starts_with(prefix);
       ++it)
    out.push_back(it->first.substr(prefix.size()));
  return out;
}

std::vector<std::string> TemplateSet::children(const std::string& prefix) const {
  std::set<std::string> names;
  for (const std::string& rel : list(prefix))
    if (const size_t slash = rel.find('/'); slash != std::string::npos)
      names.insert(rel.substr(0, slash));
  return {names.begin(), names.end()};
}

Result<std::string> TemplateSet::render(const std::string& path, const Data& data) const {
  auto it = files_.find(path);
  if (it == files_.end()) return Error{ErrorCode::NotFound, fmt::format("no template {}", path)};
  kainjow::mustache::mustache tmpl{strip_standalone_tags(it->second)};
  if (!tmpl.is_valid())
    return Error{ErrorCode::Invalid, fmt::format("{}: {}", origin_.at(path), tmpl.error_message())};
  // The output is YAML, JSON, code: nothing is HTML.
  tmpl.set_custom_escape([](const std::string& s) { return s; });
  std::string out = tmpl.render(data);
  if (!tmpl.is_valid())
    return Error{ErrorCode::Invalid, fmt::format("{}: {}", origin_.at(path), tmpl.error_message())};
  return out;
}

std::string output_name(std::string_view template_path) {
  std::string out;
  size_t pos = 0;
  while (pos <= template_path.size()) {
    size_t slash = template_path.find('/', pos);
    if (slash == std::string_view::npos) slash = template_path.size();
    std::string_view part = template_path.substr(pos, slash - pos);
    if (!out.empty()) out += '/';
    if (part.starts_with("dot-")) {
      out += '.';
      part.remove_prefix(4);
    }
    out += part;
    pos = slash + 1;
  }
  return out;
}

}  // namespace ticketctl::scaffold
