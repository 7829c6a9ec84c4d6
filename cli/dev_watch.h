#pragma once
// What `dev` watches: inotify over the images' contexts (whole trees) and single directories,
// skaffold's sync.manual globs, and the images whose context is watched. Main thread of `dev`.

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "runtime/project/config.h"

namespace ticketctl::cli {

// skaffold's sync.manual `src`: relative to the context; `*`, `?` and `[...]` within one path
// segment, `**` any number of segments.
bool sync_glob_matches(const std::string& glob, const std::string& relative);

// Whether `path` is `dir` or inside it (both normal()).
bool is_under(const std::filesystem::path& path, const std::filesystem::path& dir);

// Absolute, normalised, without a trailing separator ("/x/." -> "/x"), so prefixes compare.
std::filesystem::path normal(const std::filesystem::path& p);

// inotify over whole directory trees: a watch per directory, new directories watched as they
// appear, node_modules, .git and the skipped paths (the state directory) left out.
class TreeWatcher {
 public:
  explicit TreeWatcher(std::vector<std::filesystem::path> skip);
  ~TreeWatcher();
  TreeWatcher(const TreeWatcher&) = delete;
  TreeWatcher& operator=(const TreeWatcher&) = delete;
  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  void add_tree(const std::filesystem::path& root);
  // One directory, not its subdirectories (the manifests' directories).
  bool add_dir(const std::filesystem::path& dir);
  void set_recursive(const std::filesystem::path& dir) { recursive_roots_.push_back(dir); }
  // What changed since the last call (files, and directories that appeared).
  std::vector<std::filesystem::path> read();

 private:
  bool skipped(const std::filesystem::path& dir) const;
  bool in_recursive_root(const std::filesystem::path& p) const;

  int fd_ = -1;
  std::vector<std::filesystem::path> skip_;
  std::vector<std::filesystem::path> recursive_roots_;
  std::map<int, std::filesystem::path> dirs_;
  std::set<std::filesystem::path> watched_;
};

// An image whose context `dev` watches.
struct WatchedImage {
  std::string name;
  std::filesystem::path context;
  bool has_build = false;
  std::vector<std::string> sync_globs;
};

// ticketctl.yaml images that name a context, and skaffold.yaml artifacts.
std::vector<WatchedImage> watched_images(const project::Config& config);

}  // namespace ticketctl::cli
