// `ticketctl dev`: skaffold dev without a cluster. `up -d` (after the images' builds), then in the
// foreground every pod's log and an inotify watch on each image's context and on the manifests:
// a changed file restarts the image's pods (rebuilding first when it is a build input and no
// skaffold sync.manual rule matches it), a changed manifest is re-applied. Ctrl-C stops the
// control plane (as `down`) and exits 130.
// Threads: the main thread owns the watch, the API client and the control plane; one thread per
// followed container streams its log and only prints.

#include <fnmatch.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/api_verbs.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/lifecycle.h"
#include "runtime/api/resources.h"
#include "runtime/images/build.h"
#include "runtime/images/resolver.h"
#include "runtime/manifest/source.h"

namespace ticketctl::cli {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Log threads and the main thread print whole lines, never interleaved within one.
std::mutex g_print_mu;
void print(const std::string& line) {
  std::lock_guard<std::mutex> lock(g_print_mu);
  std::cout << line << '\n' << std::flush;
}
void print_err(const std::string& line) {
  std::lock_guard<std::mutex> lock(g_print_mu);
  std::cerr << line << '\n' << std::flush;
}

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

bool sync_glob_matches(const std::string& glob, const std::string& relative) {
  std::string g = glob;
  if (g.starts_with("./")) g.erase(0, 2);
  return glob_segments_match(segments(g), 0, segments(relative), 0);
}

// Editors' swap, backup and lock files are not changes to the code.
bool is_editor_noise(const std::string& name) {
  return name.ends_with(".swp") || name.ends_with(".swx") || name.ends_with("~") ||
         name == "4913" || name.starts_with(".#");
}

bool is_under(const fs::path& path, const fs::path& dir) {
  const auto [d, p] = std::mismatch(dir.begin(), dir.end(), path.begin(), path.end());
  return d == dir.end();
}

// inotify over whole directory trees: a watch per directory, new directories watched as they
// appear, node_modules, .git and the skipped paths (the state directory) left out.
class TreeWatcher {
 public:
  explicit TreeWatcher(std::vector<fs::path> skip) : skip_(std::move(skip)) {
    fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  }
  ~TreeWatcher() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  void add_tree(const fs::path& root) {
    if (!add_dir(root)) return;
    std::error_code ec;
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_directory(ec) || it->is_symlink(ec)) continue;
      if (skipped(it->path()) || !add_dir(it->path())) it.disable_recursion_pending();
    }
  }
  // One directory, not its subdirectories (the manifests' directories).
  bool add_dir(const fs::path& dir) {
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
  void set_recursive(const fs::path& dir) { recursive_roots_.push_back(dir); }

  // What changed since the last call (files, and directories that appeared).
  std::vector<fs::path> read() {
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

 private:
  bool skipped(const fs::path& dir) const {
    if (images::is_ignored_dir_name(dir.filename().string())) return true;
    for (const fs::path& s : skip_)
      if (is_under(dir, s)) return true;
    return false;
  }
  bool in_recursive_root(const fs::path& p) const {
    for (const fs::path& root : recursive_roots_)
      if (is_under(p, root)) return true;
    return false;
  }

  int fd_ = -1;
  std::vector<fs::path> skip_;
  std::vector<fs::path> recursive_roots_;
  std::map<int, fs::path> dirs_;
  std::set<fs::path> watched_;
};

// An image whose context `dev` watches.
struct WatchedImage {
  std::string name;
  fs::path context;
  bool has_build = false;
  std::vector<std::string> sync_globs;
};

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

// Absolute, normalised, without a trailing separator ("/x/." -> "/x"), so prefixes compare.
fs::path normal(const fs::path& p) {
  fs::path r = fs::absolute(p).lexically_normal();
  if (!r.has_filename() && r != r.root_path()) r = r.parent_path();
  return r;
}

// Follows every container of every pod: a thread per container, streaming pods/log with
// follow=true for each run (restartCount) once, until the pod is gone.
class LogFollowers {
 public:
  explicit LogFollowers(api::Connection c) : connection_(std::move(c)) {}

  void refresh(const Json& pods) {
    for (const Json& pod : pods.value("items", Json::array())) {
      const Json& meta = pod["metadata"];
      const std::string uid = meta.value("uid", ""), name = meta.value("name", "");
      const std::string ns = meta.value("namespace", "default");
      for (const Json& c : pod["spec"].value("containers", Json::array())) {
        const std::string container = c.value("name", "");
        std::lock_guard<std::mutex> lock(mu_);
        if (!following_.insert(uid + "/" + container).second) continue;
        std::thread([this, ns, name, uid, container] {
          follow(ns, name, uid, container);
        }).detach();
      }
    }
  }

 private:
  void follow(const std::string& ns, const std::string& pod, const std::string& uid,
              const std::string& container) {
    api::ApiClient client(connection_);
    const std::string pod_path = api::find_resource("pods")->path(ns, pod);
    const std::string prefix = fmt::format("[{} {}] ", pod, container);
    int64_t streamed = -1;
    for (;;) {
      Result<Json> got = client.get(pod_path);
      if (!got.ok() && got.error().code == ErrorCode::NotFound) break;
      if (got.ok() && got.value()["metadata"].value("uid", "") != uid) break;  // replaced
      int64_t run = -1;
      if (got.ok())
        for (const Json& cs : got.value()["status"].value("containerStatuses", Json::array())) {
          if (cs.value("name", "") != container) continue;
          const Json& state = cs.value("state", Json::object());
          if (state.contains("running") || state.contains("terminated"))
            run = cs.value("restartCount", int64_t{0});
        }
      if (run <= streamed) {
        // Waiting to start (or restart): look again soon.
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        continue;
      }
      std::string partial;
      client.stream(pod_path + "/log?follow=true&container=" + container,
                    [&](std::string_view chunk) {
                      partial.append(chunk);
                      size_t start = 0;
                      for (size_t eol; (eol = partial.find('\n', start)) != std::string::npos;
                           start = eol + 1)
                        print(prefix + partial.substr(start, eol - start));
                      partial.erase(0, start);
                      return true;
                    });
      if (!partial.empty()) print(prefix + partial);
      streamed = run;
    }
    std::lock_guard<std::mutex> lock(mu_);
    following_.erase(uid + "/" + container);
  }

  api::Connection connection_;
  std::mutex mu_;
  std::set<std::string> following_;  // "<uid>/<container>"
};

bool uses_image(const Json& pod, const std::string& image) {
  const std::string wanted = images::image_name(image, false);
  for (const char* key : {"containers", "initContainers"})
    for (const Json& c : pod["spec"].value(key, Json::array()))
      if (images::image_name(c.value("image", ""), false) == wanted) return true;
  return false;
}

bool owned_by_replicaset(const Json& pod) {
  for (const Json& ref : pod["metadata"].value("ownerReferences", Json::array()))
    if (ref.value("kind", "") == "ReplicaSet") return true;
  return false;
}

// Deletes the image's pods: a ReplicaSet replaces its pods (as skaffold's redeploy does); a bare
// pod is created again from its stored spec.
void restart_pods_of(api::ApiClient& client, const std::string& image) {
  const api::Resource* pods = api::find_resource("pods");
  Result<Json> list = client.get(pods->path(""));
  if (!list.ok()) {
    print_err("error: " + server_error(list.error()));
    return;
  }
  std::vector<Json> chosen;
  for (const Json& pod : list.value().value("items", Json::array()))
    if (uses_image(pod, image)) chosen.push_back(pod);
  if (chosen.empty()) {
    print(fmt::format("No pods of {} to restart", image));
    return;
  }
  std::vector<std::string> names;
  for (const Json& pod : chosen) names.push_back(pod["metadata"].value("name", ""));
  print(fmt::format("Restarting pods of {}: {}", image, fmt::join(names, ", ")));
  for (Json pod : chosen) {
    const std::string ns = pod["metadata"].value("namespace", "default");
    const std::string name = pod["metadata"].value("name", "");
    if (Result<Json> gone = client.remove(pods->path(ns, name));
        !gone.ok() && gone.error().code != ErrorCode::NotFound) {
      print_err(server_error(gone.error()));
      continue;
    }
    if (owned_by_replicaset(pod)) continue;
    pod.erase("status");
    for (const char* key : {"uid", "resourceVersion", "creationTimestamp", "generation",
                            "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"})
      pod["metadata"].erase(key);
    if (Result<Json> made = client.post(pods->path(ns), pod); !made.ok())
      print_err(server_error(made.error()));
  }
}

struct DevArgs {
  ManifestArgs manifests;
  StateDirArg state;
};

// After Ctrl-C: the control plane goes as with `down`; the log threads need no goodbye.
[[noreturn]] void stop_and_exit(const daemon::StateDir& dir, int status) {
  print("Cleaning up...");
  {
    std::lock_guard<std::mutex> lock(g_print_mu);
    Result<bool> r = daemon::stop_control_plane(dir, stdout);
    if (!r.ok()) std::cerr << "ticketctl dev: " << r.error().message << '\n';
    std::fflush(stdout);
    std::cout.flush();
    std::cerr.flush();
  }
  ::_exit(status);
}

int run_dev(DevArgs& a) {
  // Ctrl-C and SIGTERM are read from a signalfd; threads started later inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  const int signal_fd = ::signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);

  daemon::ControlPlaneOptions options;
  if (const std::optional<int> stop = prepare_up(a.manifests, a.state, "", options)) return *stop;
  const project::Config config = options.project;
  const daemon::StateDir dir = options.dir;
  // Every build first, as skaffold dev does; a failed one's pods wait (BuildFailed).
  run_builds(config, dir, {}, false, print, print_err);
  if (const int started = run_detached(std::move(options)); started != kExitOk) return started;
  // The log streams' connections break when the control plane stops: an error, not a signal.
  // (Only now: the control plane forked above, and its pods, keep the default.)
  std::signal(SIGPIPE, SIG_IGN);
  auto interrupted = [&] {
    struct signalfd_siginfo info;
    return ::read(signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info);
  };
  if (interrupted()) stop_and_exit(dir, 130);

  Result<api::Connection> connection = daemon::connection_for(dir);
  if (!connection.ok()) {
    print_err("error: " + connection.error().message);
    stop_and_exit(dir, kExitFailure);
  }
  api::ApiClient client(connection.value());
  LogFollowers followers(connection.value());

  // What to watch: each image's context, and the directories of the manifests `up` applied.
  const std::vector<WatchedImage> watched = watched_images(config);
  TreeWatcher watcher({normal(dir.root)});
  if (!watcher.ok()) {
    print_err(fmt::format("error: inotify: {}", std::strerror(errno)));
    stop_and_exit(dir, kExitFailure);
  }
  for (const WatchedImage& w : watched) {
    watcher.set_recursive(normal(w.context));
    watcher.add_tree(normal(w.context));
  }
  auto manifest_files = [&] {
    std::set<fs::path> files;
    Diagnostics ignored;
    for (const manifest::SourceFile& f :
         manifest::read_sources(a.manifests.paths, a.manifests.recursive, std::cin, ignored))
      if (f.name != "<stdin>") files.insert(normal(f.name));
    return files;
  };
  for (const fs::path& f : manifest_files()) watcher.add_dir(f.parent_path());
  print("Watching for changes...");

  std::set<fs::path> pending;
  constexpr Clock::time_point kNoDeadline = Clock::time_point::max();
  Clock::time_point deadline = kNoDeadline;  // 300 ms after the last event
  Clock::time_point next_refresh = Clock::now();
  const auto debounce = std::chrono::milliseconds(300);
  for (;;) {
    const auto now = Clock::now();
    if (now >= next_refresh) {
      if (Result<Json> pods = client.get(api::find_resource("pods")->path("")); pods.ok())
        followers.refresh(pods.value());
      next_refresh = now + std::chrono::seconds(1);
    }
    auto until = next_refresh;
    if (deadline < until) until = deadline;
    const int timeout = static_cast<int>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count()));
    pollfd fds[2] = {{watcher.fd(), POLLIN, 0}, {signal_fd, POLLIN, 0}};
    const int n = ::poll(fds, 2, timeout);
    if (n < 0 && errno != EINTR) break;
    if ((fds[1].revents & POLLIN) && interrupted()) stop_and_exit(dir, 130);
    if (fds[0].revents & POLLIN) {
      for (fs::path& p : watcher.read()) pending.insert(std::move(p));
      if (!pending.empty()) deadline = Clock::now() + debounce;
    }
    if (Clock::now() < deadline) continue;

    // 300 ms without events: act on the batch. Manifests first, so a restarted pod gets the
    // new spec.
    deadline = kNoDeadline;
    std::set<fs::path> batch;
    batch.swap(pending);
    const std::set<fs::path> manifests = manifest_files();
    std::map<size_t, std::vector<std::string>> by_image;  // index in `watched` -> relative paths
    for (const fs::path& p : batch) {
      if (manifests.count(p)) {
        print(fmt::format("Re-applying {}", p.string()));
        manifest::LoadOptions load;
        load.recursive = false;
        load.default_namespace = a.manifests.ns;
        manifest::LoadResult loaded = manifest::load_manifests({p.string()}, load, std::cin);
        for (const Diagnostic& d : loaded.diagnostics.items()) print_err(d.to_string());
        if (!loaded.diagnostics.has_errors())
          apply_objects(client, loaded.objects, print, print_err);
        continue;
      }
      // The most specific context wins: a service's directory inside the project's.
      size_t best = 0;
      std::vector<size_t> owners;
      for (size_t i = 0; i < watched.size(); ++i) {
        const fs::path ctx = normal(watched[i].context);
        if (!is_under(p, ctx)) continue;
        const size_t depth = static_cast<size_t>(std::distance(ctx.begin(), ctx.end()));
        if (depth > best) {
          owners.clear();
          best = depth;
        }
        if (depth == best) owners.push_back(i);
      }
      for (size_t i : owners)
        by_image[i].push_back(p.lexically_relative(normal(watched[i].context)).generic_string());
    }
    std::vector<fs::path> rebuilt;
    for (const auto& [i, files] : by_image) {
      const WatchedImage& w = watched[i];
      const bool synced =
          !w.sync_globs.empty() && std::all_of(files.begin(), files.end(), [&](const auto& f) {
            return std::any_of(w.sync_globs.begin(), w.sync_globs.end(),
                               [&](const std::string& g) { return sync_glob_matches(g, f); });
          });
      if (synced) {
        print(fmt::format("Syncing {} files for {}", files.size(), w.name));
      } else if (w.has_build) {
        print(fmt::format("Rebuilding {}", w.name));
        run_builds(config, dir, {w.name}, false, print, print_err);
        rebuilt.push_back(normal(w.context));
      } else {
        print(fmt::format("Change in {}: {} files", w.name, files.size()));
      }
      restart_pods_of(client, w.name);
    }
    // What the builds wrote into their contexts while they ran is not a change of the code.
    for (fs::path& p : watcher.read()) {
      const bool built = std::any_of(rebuilt.begin(), rebuilt.end(),
                                     [&](const fs::path& ctx) { return is_under(p, ctx); });
      if (!built) pending.insert(std::move(p));
    }
    if (!pending.empty()) deadline = Clock::now() + debounce;
    next_refresh = Clock::now();  // follow the new pods' logs from their first line
    print("Watching for changes...");
  }
  stop_and_exit(dir, kExitFailure);
}

}  // namespace

Handler attach_dev(CLI::App& verb) {
  auto a = std::make_shared<DevArgs>();
  verb.add_option(
      "-f,--filename", a->manifests.paths,
      "Manifests to apply and watch (files, directories, globs); default: ticketctl.yaml's "
      "manifests, else the ones skaffold.yaml deploys");
  verb.add_flag("-R,--recursive", a->manifests.recursive, "Also read subdirectories");
  a->state.attach(verb);
  verb.footer(
      "`up -d` after the images' builds, then in the foreground: every pod's log with a\n"
      "[pod container] prefix, and a watch on each image's context (without node_modules and\n"
      ".git) and on the manifests. A changed file restarts the image's pods: a file a skaffold\n"
      "sync.manual rule matches restarts them at once; another file reruns the image's build\n"
      "command first (when it has one). A changed manifest is applied again. Ctrl-C stops the\n"
      "control plane and exits 130.");
  return [a] { return run_dev(*a); };
}

}  // namespace ticketctl::cli
