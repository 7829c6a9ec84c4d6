#include "runtime/manifest/source.h"

#include <glob.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "runtime/core/limits.h"

namespace ticketctl::manifest {
namespace fs = std::filesystem;
namespace {

bool is_manifest_file(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

void error(Diagnostics& diags, const std::string& file, std::string message) {
  diags.add(Diagnostic{Severity::Error, SourcePos{file, 0, 0}, "", "", std::move(message)});
}

// Reads all of `in` unless it holds more than the manifest file budget (/dev/zero, a log file
// passed by mistake): then a diagnostic, and nothing of it is kept.
void read_bounded(std::istream& in, const std::string& name, std::vector<SourceFile>& out,
                  Diagnostics& diags) {
  std::string text;
  char chunk[64 * 1024];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    if (text.size() + static_cast<size_t>(in.gcount()) > limits::kMaxManifestFileBytes) {
      error(diags, name,
            fmt::format("larger than {} MiB: ticketctl reads manifest files up to that size "
                        "(see docs/limits.md)",
                        limits::kMaxManifestFileBytes >> 20));
      return;
    }
    text.append(chunk, static_cast<size_t>(in.gcount()));
  }
  out.push_back({name, std::move(text)});
}

void read_file(const std::string& path, std::vector<SourceFile>& out, Diagnostics& diags) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error(diags, path, "cannot read file: " + std::string(std::strerror(errno)));
    return;
  }
  read_bounded(in, path, out, diags);
}

void read_directory(const fs::path& dir, bool recursive, std::vector<SourceFile>& out,
                    Diagnostics& diags) {
  std::vector<fs::path> files, subdirs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_directory())
      subdirs.push_back(entry.path());
    else if (is_manifest_file(entry.path()))
      files.push_back(entry.path());
  }
  if (ec) {
    error(diags, dir.string(), "cannot read directory: " + ec.message());
    return;
  }
  std::sort(files.begin(), files.end());
  std::sort(subdirs.begin(), subdirs.end());
  for (const auto& f : files) read_file(f.string(), out, diags);
  if (recursive)
    for (const auto& d : subdirs) read_directory(d, recursive, out, diags);
}

void read_path(const std::string& path, bool recursive, std::vector<SourceFile>& out,
               Diagnostics& diags) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    read_directory(path, recursive, out, diags);
  } else {
    read_file(path, out, diags);
  }
}

bool has_glob_chars(std::string_view s) {
  return s.find_first_of("*?[") != std::string_view::npos;
}

}  // namespace

std::vector<SourceFile> read_sources(const std::vector<std::string>& paths, bool recursive,
                                     std::istream& stdin_stream, Diagnostics& diags) {
  std::vector<SourceFile> out;
  bool stdin_used = false;
  for (const std::string& path : paths) {
    if (path == "-") {
      if (stdin_used) continue;  // stdin can be read once; a second "-" adds nothing
      stdin_used = true;
      read_bounded(stdin_stream, "<stdin>", out, diags);
      continue;
    }
    std::error_code ec;
    if (fs::exists(path, ec)) {
      read_path(path, recursive, out, diags);
      continue;
    }
    if (!has_glob_chars(path)) {
      error(diags, path, "no such file or directory");
      continue;
    }
    glob_t g{};
    const int rc = ::glob(path.c_str(), GLOB_ERR, nullptr, &g);
    if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
      error(diags, path, "pattern matches no files");
    } else if (rc != 0) {
      error(diags, path, "cannot expand pattern");
    } else {
      // glob(3) sorts its matches, as skaffold's filepath.Glob does.
      for (size_t i = 0; i < g.gl_pathc; ++i) {
        const std::string match = g.gl_pathv[i];
        if (fs::is_directory(match, ec))
          read_directory(match, recursive, out, diags);
        else if (is_manifest_file(match))
          read_file(match, out, diags);
      }
    }
    globfree(&g);
  }
  return out;
}

std::vector<DocumentText> split_documents(std::string_view text) {
  std::vector<DocumentText> docs;
  size_t doc_start = 0;
  int doc_line = 0, line = 0;
  bool has_content = false;
  auto flush = [&](size_t end) {
    if (has_content) docs.push_back({text.substr(doc_start, end - doc_start), doc_line});
  };
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view l = text.substr(pos, eol - pos);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    bool separator = false;
    if (l.starts_with("---")) {
      const size_t rest = l.find_first_not_of(" \t", 3);
      separator = rest == std::string_view::npos || (rest > 3 && l[rest] == '#');
    }
    if (separator) {
      flush(pos);
      doc_start = eol + 1 < text.size() ? eol + 1 : text.size();
      doc_line = line + 1;
      has_content = false;
    } else if (!has_content) {
      const size_t first = l.find_first_not_of(" \t");
      has_content = first != std::string_view::npos && l[first] != '#';
    }
    pos = eol + 1;
    ++line;
  }
  flush(text.size());
  return docs;
}

}  // namespace ticketctl::manifest
