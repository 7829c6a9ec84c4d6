// What `dev` watches (dev_watch.h).

#include "cli/dev_watch.h"

#include <fnmatch.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <system_error>

#include "runtime/images/build.h"
#include "runtime/images/resolver.h"

namespace ticketctl::cli {
namespace fs = std::filesystem;
namespace {

// skaffold's sync.manual `src`: relative to the context; `*`, `?` and `[...]` within one path
// segment, `**` any number of segments.
bool glob_segments_match(const std::vector<std::string>& glob, size_t g,
                         const std::vector<std::string>& path, size_t p) {
  if (g == glob.size()) return p == path.size();
  if (glob[g] == "**") {
    for (size_t k = p; k <= path.size(); ++k)
      if (glob_segments_match(glob, g + 1, path, k)) return true;
    return false;
  }
  if (p == path.size() || ::fnmatch(glob[g].c_str(), path[p].c_str(), 0) != 0) return false;
  return glob_segments_match(glob, g + 1, path, p + 1);
}

std::vector<std::string> segments(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t slash = std::min(text.find('/', start), text.size());
    if (slash > start) out.emplace_back(text.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

// Editors' swap, backup and lock files are not changes to the code.
bool is_editor_noise(const std::string& name) {
  return name.ends_with(".swp") || name.ends_with(".swx") || name.ends_with("~") ||
         name == "4913" || name.starts_with(".#");
}

}  // namespace

bool sync_glob_matches(const std::string& glob, const std::string& relative) {
  std::string g = glob;
  if (g.starts_with("./")) g.erase(0, 2);
  return glob_segments_match(segments(g), 0, segments(relative), 0);
}

bool is_under(const fs::path& path, const fs::path& dir) {
  const auto [d, p] = std::mismatch(dir.begin(), dir.end(), path.begin(), path.end());
  return d == dir.end();
}

TreeWatcher::TreeWatcher(std::vector<fs::path> skip) : skip_(std::move(skip)) {
  fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
}

TreeWatcher::~TreeWatcher() {
  if (fd_ >= 0) ::close(fd_);
}

void TreeWatcher::add_tree(const fs::path& root) {
  if (!add_dir(root)) return;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_directory(ec) || it->is_symlink(ec)) continue;
    if (skipped(it->path()) || !add_dir(it->path())) it.disable_recursion_pending();
  }
}

bool TreeWatcher::add_dir(const fs::path& dir) {
  if (skipped(dir)) return false;
  if (watched_.count(dir)) return true;
  const int wd = ::inotify_add_watch(fd_, dir.c_str(),
                                     IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE |
                                         IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR);
  if (wd < 0) return false;
  dirs_[wd] = dir;
  watched_.insert(dir);
  return true;
}

std::vector<fs::path> TreeWatcher::read() {
  std::vector<fs::path> changed;
  alignas(struct inotify_event) char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t at = 0; at < n;) {
      const auto* e = reinterpret_cast<const struct inotify_event*>(buf + at);
      at += static_cast<ssize_t>(sizeof(struct inotify_event) + e->len);
      if (e->mask & IN_Q_OVERFLOW) {
        // Events were lost: count every watched tree as changed.
        for (const fs::path& root : recursive_roots_) changed.push_back(root);
        continue;
      }
      auto dir = dirs_.find(e->wd);
      if (dir == dirs_.end()) continue;
      if (e->mask & IN_IGNORED) {
        watched_.erase(dir->second);
        dirs_.erase(dir);
        continue;
      }
      if (e->len == 0) continue;
      const std::string name = e->name;
      if (is_editor_noise(name)) continue;
      const fs::path path = dir->second / name;
      if (e->mask & IN_ISDIR) {
        if (images::is_ignored_dir_name(name) || skipped(path)) continue;
        if ((e->mask & (IN_CREATE | IN_MOVED_TO)) && in_recursive_root(path)) add_tree(path);
      }
      changed.push_back(path);
    }
  }
  return changed;
}

bool TreeWatcher::skipped(const fs::path& dir) const {
  if (images::is_ignored_dir_name(dir.filename().string())) return true;
  for (const fs::path& s : skip_)
    if (is_under(dir, s)) return true;
  return false;
}

bool TreeWatcher::in_recursive_root(const fs::path& p) const {
  for (const fs::path& root : recursive_roots_)
    if (is_under(p, root)) return true;
  return false;
}

std::vector<WatchedImage> watched_images(const project::Config& config) {
  std::vector<WatchedImage> out;
  for (const auto& [name, s] : config.images) {
    if (!s.context_given) continue;  // `redis: {command: [...]}` runs no code of the project
    WatchedImage w{name, s.context, !images::plan_build(s).empty(), {}};
    if (auto a = config.artifacts.find(name); a != config.artifacts.end())
      w.sync_globs = a->second.sync_globs;
    out.push_back(std::move(w));
  }
  for (const auto& [name, s] : config.artifacts)
    if (!config.images.count(name))
      out.push_back({name, s.context, !images::plan_build(s).empty(), s.sync_globs});
  return out;
}

fs::path normal(const fs::path& p) {
  fs::path r = fs::absolute(p).lexically_normal();
  if (!r.has_filename() && r != r.root_path()) r = r.parent_path();
  return r;
}

}  // namespace ticketctl::cli
