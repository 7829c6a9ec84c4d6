// `ticketctl dev`: skaffold dev without a cluster. `up -d` (after the images' builds), or attach
// to the app's control plane already up, then in the foreground every pod's log (from dev's start,
// with a line of its own when a container's run ends) and an inotify watch on each image's
// context, the manifests and the project's settings: a changed file rolls the image's
// Deployments (rebuilding first when it is a build input and no skaffold sync.manual rule matches
// it), a changed manifest is re-applied, changed settings start the loop over. Ctrl-C stops the
// control plane `dev` started (as `down`) and exits 130.
// Threads: the main thread owns the watch, the API client and the control plane; one thread per
// followed container streams its log and only prints.

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
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
#include "cli/dev_watch.h"
#include "cli/lifecycle.h"
#include "runtime/api/resources.h"
#include "runtime/core/rfc3339.h"
#include "runtime/images/build.h"
#include "runtime/images/resolver.h"
#include "runtime/manifest/source.h"

namespace ticketctl::cli {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The pod-template annotation a save changes to roll a Deployment (as kubectl's restartedAt).
constexpr std::string_view kRestartedAt = "ticketctl.dev/restartedAt";

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

// How a container's run ended, as one line of its own: "crashed: exit code 1 (Error)".
std::string describe_exit(const Json& terminated) {
  const int64_t code = terminated.value("exitCode", int64_t{0});
  const std::string reason = terminated.value("reason", "");
  std::string what = fmt::format("{}: exit code {}", code == 0 ? "exited" : "crashed", code);
  if (!reason.empty()) what += fmt::format(" ({})", reason);
  return what;
}

// Follows every container of every pod: a thread per container, streaming pods/log with
// follow=true for each run (restartCount) once, until the pod is gone. Only lines written since
// `since` (dev's start) are printed, so an app that ran before shows no old output. When a run
// ends while the pod stays, one line says how ("crashed: exit code 1 (Error); restart 1").
class LogFollowers {
 public:
  LogFollowers(api::Connection c, std::string since)
      : connection_(std::move(c)), since_(std::move(since)) {}

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
    int64_t streamed = -1;  // the last run streamed
    int64_t told = -1;      // the last run whose end was printed
    for (;;) {
      Result<Json> got = client.get(pod_path);
      if (!got.ok() && got.error().code == ErrorCode::NotFound) break;
      if (got.ok() && got.value()["metadata"].value("uid", "") != uid) break;  // replaced
      int64_t run = -1;
      if (got.ok()) {
        const Json& p = got.value();
        const bool stopping = p["metadata"].contains("deletionTimestamp");
        for (const Json& cs : p["status"].value("containerStatuses", Json::array())) {
          if (cs.value("name", "") != container) continue;
          const Json& state = cs.value("state", Json::object());
          const int64_t restarts = cs.value("restartCount", int64_t{0});
          if (state.contains("running") || state.contains("terminated")) run = restarts;
          // The run streamed last ended: its exit is in `state` until the kubelet restarts it,
          // then in `lastState`. A pod being deleted is stopped, not crashed.
          if (streamed >= 0 && told < streamed && !stopping) {
            const Json* ended = nullptr;
            if (restarts == streamed && state.contains("terminated")) ended = &state["terminated"];
            if (restarts > streamed && cs.contains("lastState") &&
                cs["lastState"].contains("terminated"))
              ended = &cs["lastState"]["terminated"];
            if (ended) {
              const bool again = p["spec"].value("restartPolicy", "Always") != "Never" &&
                                 !(p["spec"].value("restartPolicy", "Always") == "OnFailure" &&
                                   ended->value("exitCode", int64_t{0}) == 0);
              print(fmt::format("{}{}{}", prefix, describe_exit(*ended),
                                again ? fmt::format("; restart {}", streamed + 1) : ""));
              told = streamed;
            }
          }
        }
      }
      if (run <= streamed) {
        // Waiting to start (or restart): look again soon.
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        continue;
      }
      std::string partial;
      client.stream(pod_path + "/log?follow=true&container=" + container + "&sinceTime=" + since_,
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
  const std::string since_;  // RFC 3339
  std::mutex mu_;
  std::set<std::string> following_;  // "<uid>/<container>"
};

bool template_uses_image(const Json& spec, const std::string& image) {
  const std::string wanted = images::image_name(image, false);
  for (const char* key : {"containers", "initContainers"})
    for (const Json& c : spec.value(key, Json::array()))
      if (images::image_name(c.value("image", ""), false) == wanted) return true;
  return false;
}

bool uses_image(const Json& pod, const std::string& image) {
  return template_uses_image(pod.value("spec", Json::object()), image);
}

// The uid of the ReplicaSet that owns the pod, or "".
std::string owner_uid(const Json& object, const std::string& kind) {
  for (const Json& ref : object["metadata"].value("ownerReferences", Json::array()))
    if (ref.value("kind", "") == kind) return ref.value("uid", "");
  return "";
}

// Replaces the image's pods. A Deployment's pods roll as `kubectl rollout restart` makes them:
// a changed template annotation gives a new ReplicaSet, so maxSurge and readiness apply and the
// old pod stops only once its replacement is Ready. Other pods are deleted: a ReplicaSet without
// a Deployment replaces its own; a bare pod is created again from its stored spec.
void restart_pods_of(api::ApiClient& client, const std::string& image) {
  const api::Resource* pods = api::find_resource("pods");
  const api::Resource* deployments = api::find_resource("deployments");
  const api::Resource* replicasets = api::find_resource("replicasets");
  Result<Json> pod_list = client.get(pods->path(""));
  Result<Json> deploy_list = client.get(deployments->path(""));
  Result<Json> rs_list = client.get(replicasets->path(""));
  for (const Result<Json>* r : {&pod_list, &deploy_list, &rs_list})
    if (!r->ok()) {
      print_err("error: " + server_error(r->error()));
      return;
    }
  const Json deploy_items = deploy_list.value().value("items", Json::array());
  // Deployments whose template runs the image, and the ReplicaSets they own (any template).
  std::vector<const Json*> rolled;
  std::set<std::string> rolled_uids, rolled_rs;
  for (const Json& d : deploy_items)
    if (template_uses_image(d["spec"]["template"].value("spec", Json::object()), image)) {
      rolled.push_back(&d);
      rolled_uids.insert(d["metadata"].value("uid", ""));
    }
  for (const Json& rs : rs_list.value().value("items", Json::array()))
    if (rolled_uids.count(owner_uid(rs, "Deployment")))
      rolled_rs.insert(rs["metadata"].value("uid", ""));
  std::vector<Json> deleted;
  for (const Json& pod : pod_list.value().value("items", Json::array()))
    if (uses_image(pod, image) && !rolled_rs.count(owner_uid(pod, "ReplicaSet")))
      deleted.push_back(pod);
  if (rolled.empty() && deleted.empty()) {
    print(fmt::format("No pods of {} to restart", image));
    return;
  }
  // With nanoseconds: two saves within one second must still differ.
  const std::string now = rfc3339::now_nano();
  for (const Json* d : rolled) {
    const std::string ns = (*d)["metadata"].value("namespace", "default");
    const std::string name = (*d)["metadata"].value("name", "");
    print(fmt::format("Rolling deployment/{} for {}", name, image));
    Json patch;
    patch["spec"]["template"]["metadata"]["annotations"][std::string(kRestartedAt)] = now;
    if (Result<Json> r =
            client.patch(deployments->path(ns, name), "application/merge-patch+json", patch.dump());
        !r.ok())
      print_err(server_error(r.error()));
  }
  if (deleted.empty()) return;
  std::vector<std::string> names;
  for (const Json& pod : deleted) names.push_back(pod["metadata"].value("name", ""));
  print(fmt::format("Restarting pods of {}: {}", image, fmt::join(names, ", ")));
  for (Json pod : deleted) {
    const std::string ns = pod["metadata"].value("namespace", "default");
    const std::string name = pod["metadata"].value("name", "");
    if (Result<Json> gone = client.remove(pods->path(ns, name));
        !gone.ok() && gone.error().code != ErrorCode::NotFound) {
      print_err(server_error(gone.error()));
      continue;
    }
    if (!owner_uid(pod, "ReplicaSet").empty()) continue;
    if (Result<Json> made = client.post(pods->path(ns), as_new_object(std::move(pod))); !made.ok())
      print_err(server_error(made.error()));
  }
}

struct DevArgs {
  ManifestArgs manifests;
  StateDirArg state;
};

// The control plane `dev` follows: its state directory, and whether `dev` started it (an app
// already `up -d` is attached to, and left running at the end).
struct Followed {
  daemon::StateDir dir;
  bool attached = false;
};

// The control plane goes as with `down` (unless attached); the log threads need no goodbye.
void stop_control_plane(const Followed& app) {
  std::lock_guard<std::mutex> lock(g_print_mu);
  if (app.attached) {
    std::cout << "Leaving the control plane running (it was started before `dev`; `ticketctl "
                 "down` stops it)\n";
  } else {
    Result<bool> r = daemon::stop_control_plane(app.dir, stdout);
    if (!r.ok()) std::cerr << "ticketctl dev: " << r.error().message << '\n';
  }
  std::fflush(stdout);
  std::cout.flush();
  std::cerr.flush();
}

// After Ctrl-C or SIGTERM.
[[noreturn]] void stop_and_exit(const Followed& app, int status) {
  print("Cleaning up...");
  stop_control_plane(app);
  ::_exit(status);
}

// This process's own arguments, to run `dev` again after its configuration changed.
std::vector<std::string> own_arguments() {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  for (std::string arg; std::getline(in, arg, '\0');) out.push_back(arg);
  return out;
}

// ticketctl.yaml or skaffold.yaml changed: as skaffold dev and Tilt do, the dev loop starts over
// with the new settings (how images run is the control plane's, read at its start). A file with
// errors is reported and the running app kept.
void restart_dev_loop(const Followed& app, const fs::path& changed,
                      const std::vector<std::string>& argv) {
  Diagnostics diags;
  (void)project::load(fs::current_path(), diags);
  if (diags.has_errors()) {
    for (const Diagnostic& d : diags.items()) print_err(d.to_string());
    print_err(fmt::format("{} has errors: the running app is kept", changed.filename().string()));
    return;
  }
  print(fmt::format("{} changed: restarting the dev loop", changed.filename().string()));
  {
    Followed stopped = app;
    stopped.attached = false;  // the new settings need a new control plane
    stop_control_plane(stopped);
  }
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  // What this process changed is not for the new one: its pods must get SIGPIPE's default.
  std::signal(SIGPIPE, SIG_DFL);
  ::execv("/proc/self/exe", args.data());
  print_err(fmt::format("error: cannot run ticketctl again: {}", std::strerror(errno)));
  ::_exit(kExitFailure);
}

bool interrupted(int signal_fd) {
  struct signalfd_siginfo info;
  return ::read(signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info);
}

// What the loop needs from the start of `dev`.
struct LoopInputs {
  int signal_fd;                          // SIGINT and SIGTERM
  std::string since;                      // dev's start (RFC 3339): older output is not shown
  std::vector<manifest::Object> objects;  // the manifests, applied when attaching
  std::vector<std::string> argv;          // to run again when the settings change
};

// The foreground part of `dev`, once the control plane serves: logs, the watch, the changes.
[[noreturn]] void watch_and_follow(DevArgs& a, const project::Config& config, const Followed& app,
                                   LoopInputs loop) {
  Result<api::Connection> connection = daemon::connection_for(app.dir);
  if (!connection.ok()) {
    print_err("error: " + connection.error().message);
    stop_and_exit(app, kExitFailure);
  }
  api::ApiClient client(connection.value());
  if (app.attached) {
    print(fmt::format("Attached to the control plane already running for {} (https://{}:{})",
                      app.dir.root.string(), connection.value().host, connection.value().port));
    apply_objects(client, loop.objects, print, print_err, /*replace_immutable=*/true);
  }
  LogFollowers followers(connection.value(), loop.since);

  // What to watch: each image's context, and the directories of the manifests `up` applied.
  const std::vector<WatchedImage> watched = watched_images(config);
  TreeWatcher watcher({normal(app.dir.root)});
  if (!watcher.ok()) {
    print_err(fmt::format("error: inotify: {}", std::strerror(errno)));
    stop_and_exit(app, kExitFailure);
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
  // The project's settings, whose change starts the loop over.
  const fs::path project_dir = normal(fs::current_path());
  const std::set<fs::path> settings = {project_dir / "ticketctl.yaml",
                                       project_dir / "skaffold.yaml"};
  watcher.add_dir(project_dir);
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
    pollfd fds[2] = {{watcher.fd(), POLLIN, 0}, {loop.signal_fd, POLLIN, 0}};
    const int n = ::poll(fds, 2, timeout);
    if (n < 0 && errno != EINTR) break;
    if ((fds[1].revents & POLLIN) && interrupted(loop.signal_fd)) stop_and_exit(app, 130);
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
    for (const fs::path& p : batch)
      if (settings.count(p) && fs::exists(p)) restart_dev_loop(app, p, loop.argv);
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
          apply_objects(client, loaded.objects, print, print_err, /*replace_immutable=*/true);
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
        run_builds(config, app.dir, {w.name}, false, print, print_err);
        rebuilt.push_back(normal(w.context));
      } else {
        print(fmt::format("Change in {}: {} files", w.name, files.size()));
      }
    }
    // What the builds wrote into their contexts while they ran is not a change of the code. Read
    // before the pods roll: a save made once the new pod runs is a change.
    for (fs::path& p : watcher.read()) {
      const bool built = std::any_of(rebuilt.begin(), rebuilt.end(),
                                     [&](const fs::path& ctx) { return is_under(p, ctx); });
      if (!built) pending.insert(std::move(p));
    }
    for (const auto& entry : by_image) restart_pods_of(client, watched[entry.first].name);
    if (!pending.empty()) deadline = Clock::now() + debounce;
    next_refresh = Clock::now();  // follow the new pods' logs from their first line
    print("Watching for changes...");
  }
  stop_and_exit(app, kExitFailure);
}

int run_dev(DevArgs& a) {
  // Output from before this moment (an app already running, a previous run) is not shown.
  const std::string since = rfc3339::now_nano();
  const std::vector<std::string> argv = own_arguments();
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
  Followed app{options.dir, false};
  // Same project, same state directory: a control plane answering there is this app's (`up -d`).
  if (Result<api::Connection> c = daemon::connection_for(app.dir); c.ok())
    app.attached = api::ApiClient(c.value()).get("/api/v1/namespaces/default").ok();
  // Every build first, as skaffold dev does; a failed one's pods wait (BuildFailed).
  run_builds(config, app.dir, {}, false, print, print_err);
  std::vector<manifest::Object> objects = options.objects;
  if (!app.attached)
    if (const int started = run_detached(std::move(options)); started != kExitOk) return started;
  // The log streams' connections break when the control plane stops: an error, not a signal.
  // (Only now: the control plane forked above, and its pods, keep the default.)
  std::signal(SIGPIPE, SIG_IGN);
  if (interrupted(signal_fd)) stop_and_exit(app, 130);
  try {
    watch_and_follow(a, config, app, {signal_fd, since, objects, argv});
  } catch (const std::exception& e) {
    // Whatever went wrong, the control plane `dev` started does not outlive it.
    print_err(fmt::format("ticketctl dev: internal error: {}", e.what()));
    stop_and_exit(app, kExitFailure);
  }
  stop_and_exit(app, kExitFailure);
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
      "`up -d` after the images' builds (or attach to the control plane already running for the\n"
      "state directory), then in the foreground: every pod's log from now on with a [pod\n"
      "container] prefix and a line when a container crashes or exits, and a watch on each\n"
      "image's context (without node_modules and .git), the manifests, ticketctl.yaml and\n"
      "skaffold.yaml. A changed file rolls the Deployments running its image (the new pod Ready\n"
      "before the old one stops): a file a skaffold sync.manual rule matches at once; another "
      "file\n"
      "reruns the image's build command first (when it has one). A changed manifest is applied\n"
      "again; changed settings restart the dev loop. Ctrl-C stops the control plane (one `dev`\n"
      "attached to keeps running) and exits 130.");
  return [a] { return run_dev(*a); };
}

}  // namespace ticketctl::cli
