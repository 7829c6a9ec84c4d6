#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/lifecycle.h"
#include "cli/manifest_args.h"
#include "runtime/core/strings.h"
#include "runtime/daemon/control_plane.h"
#include "runtime/project/config.h"

namespace ticketctl::cli {
namespace fs = std::filesystem;

// `up -d`: the control plane runs in a child of its own session; the parent relays its report
// until the child closes the pipe, then checks the child is still alive.
int run_detached(daemon::ControlPlaneOptions options) {
  int report[2], ready[2];
  if (::pipe2(report, O_CLOEXEC) != 0 || ::pipe2(ready, O_CLOEXEC) != 0) {
    std::perror("ticketctl up: pipe");
    return kExitFailure;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t child = ::fork();
  if (child < 0) {
    std::perror("ticketctl up: fork");
    return kExitFailure;
  }
  if (child == 0) {
    ::close(report[0]);
    ::close(ready[0]);
    ::setsid();
    (void)make_private_dirs(options.dir.root);  // run_control_plane reports a failure
    const int log = open_private_append(options.dir.log());
    const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0) ::dup2(null, 0);
    if (log >= 0) {
      ::dup2(log, 1);
      ::dup2(log, 2);
    }
    options.report = ::fdopen(report[1], "w");
    options.close_report_when_ready = true;
    options.ready_fd = ready[1];
    ::_exit(daemon::run_control_plane(options));
  }
  ::close(report[1]);
  ::close(ready[1]);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(report[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) std::cout.write(buf, n);
  ::close(report[0]);
  // The ready byte comes only from a control plane that serves; a failed one just closes.
  char byte = 0;
  while ((n = ::read(ready[0], &byte, 1)) < 0 && errno == EINTR) {
  }
  ::close(ready[0]);
  // Running, and the gate's verdict (gate.h): 0 stable, 1 failed, 3 timed out; the report said
  // which Deployments and why.
  if (n == 1 && (byte == '0' || byte == '1' || byte == '3')) return byte - '0';
  int status = 0;
  ::waitpid(child, &status, 0);
  return kExitFailure;
}

namespace {

// `up` in a directory that names nothing to deploy: say what was looked for and how to fix it.
void explain_nothing_to_deploy(const fs::path& dir, std::ostream& err) {
  err << "ticketctl up: nothing to deploy: no -f given, and in " << dir.string() << "\n";
  const bool config = fs::exists(dir / "ticketctl.yaml");
  err << "  - ticketctl.yaml: " << (config ? "has no `manifests:` key" : "not found") << "\n";
  const bool skaffold = fs::exists(dir / "skaffold.yaml") || fs::exists(dir / "skaffold.yml");
  err << "  - skaffold.yaml: "
      << (skaffold ? "names no manifests (deploy.kubectl.manifests or manifests.rawYaml)"
                   : "not found")
      << "\n";
  err << "Add `manifests: [infra/k8s]` (your manifests' directory) to ticketctl.yaml, or run "
         "`ticketctl init` to write one; or give them with -f. `ticketctl up --empty` starts a "
         "control plane with nothing in it (apply later with `ticketctl apply` or kubectl).\n";
}

}  // namespace

std::optional<int> prepare_up(ManifestArgs& args, const StateDirArg& state,
                              const std::string& timeout, daemon::ControlPlaneOptions& options,
                              bool allow_empty) {
  // ticketctl.yaml / skaffold.yaml: how images run, and the manifests when -f is not given.
  Diagnostics diags;
  options.project = project::load(fs::current_path(), diags);
  print_diagnostics(diags, std::cerr);
  if (diags.has_errors()) return kExitFailure;
  if (args.paths.empty()) args.paths = options.project.manifests;
  options.dir = state.dir();
  // A state directory with a store holds what an earlier `up` or `apply` deployed: that runs.
  std::error_code ec;
  if (args.paths.empty() && !allow_empty && !fs::exists(options.dir.db(), ec)) {
    explain_nothing_to_deploy(fs::current_path(), std::cerr);
    return kExitFailure;
  }
  if (!timeout.empty()) {
    const auto d = project::parse_duration(timeout);
    if (!d || d->count() <= 0) {
      std::cerr << "ticketctl up: --timeout " << quote(timeout)
                << " is not a duration (write e.g. 90s, 2m)\n";
      return kExitUsage;
    }
    options.stabilize_timeout = *d;
  }
  if (!args.paths.empty()) {
    manifest::LoadResult loaded = args.load();
    print_diagnostics(loaded.diagnostics, std::cerr);
    if (loaded.diagnostics.has_errors()) return kExitFailure;
    options.objects = std::move(loaded.objects);
  }
  return std::nullopt;
}

Handler attach_up(CLI::App& verb) {
  auto args = std::make_shared<ManifestArgs>();
  auto state = std::make_shared<StateDirArg>();
  auto detach = std::make_shared<bool>(false);
  auto timeout = std::make_shared<std::string>();
  auto build = std::make_shared<bool>(false);
  auto empty = std::make_shared<bool>(false);
  auto max_restarts = std::make_shared<int>(daemon::GateOptions{}.max_restarts);
  auto verbosity = std::make_shared<int>(0);
  verb.add_option(
      "-f,--filename", args->paths,
      "Manifests to apply at start (files, directories, globs); default: ticketctl.yaml's "
      "manifests, else the ones skaffold.yaml deploys");
  verb.add_flag("-R,--recursive", args->recursive, "Also read subdirectories");
  verb.add_flag("-d,--detach", *detach,
                "Run in the background; return once the API answers and the manifests are applied");
  verb.add_option("--timeout", *timeout,
                  "Wait at most this long (e.g. 90s, 2m) for every Deployment to be stable; exit 1 "
                  "when one fails, 3 when time runs out (with -d: wait, then return)");
  verb.add_option("--max-restarts", *max_restarts,
                  "Crashes of one container that fail the gate at once (default 2)")
      ->check(CLI::Range(1, 1000));
  verb.add_flag("--build", *build,
                "First run the images' build commands whose inputs changed (as `ticketctl build`); "
                "a failed build's pods wait (BuildFailed)");
  verb.add_flag("--empty", *empty,
                "Start even with nothing to deploy (no -f, no manifests in ticketctl.yaml or "
                "skaffold.yaml); apply later with `ticketctl apply` or kubectl");
  verb.add_option("-v,--v", *verbosity,
                  "Verbosity of the control plane's own log (operator.log in the state directory), "
                  "as kubectl's --v=N: 4 and up adds debug lines")
      ->check(CLI::Range(0, 10));
  state->attach(verb);
  verb.footer(
      "Runs the control plane: an object store and a Kubernetes-shaped API on 127.0.0.1 (HTTPS,\n"
      "bearer token; kubeconfig in the state directory). In the foreground Ctrl-C stops it (exit\n"
      "130); with -d, `ticketctl down` does. Invalid manifests stop `up` before anything starts.\n"
      "Every pod runs as local processes (image -> command from ticketctl.yaml, skaffold.yaml and\n"
      "Dockerfiles); in the foreground their output is printed with a [pod] prefix. An image's\n"
      "build (its Dockerfile's `RUN npm install|ci`, yarn or pnpm install, run in its context on\n"
      "this machine; or ticketctl.yaml images.NAME.build) runs before its pods start, when its\n"
      "inputs changed, several at once; `up` reports which image builds and for how long.\n"
      "Nothing to deploy (no -f, no manifests named by ticketctl.yaml or skaffold.yaml, no "
      "earlier\n"
      "state) is an error unless --empty. `up -d` when this app's control plane already runs\n"
      "does nothing and says so.");
  return [args, state, detach, timeout, build, empty, max_restarts, verbosity] {
    daemon::ControlPlaneOptions options;
    if (const std::optional<int> stop = prepare_up(*args, *state, *timeout, options, *empty))
      return *stop;
    options.gate.max_restarts = *max_restarts;
    options.verbosity = *verbosity;
    if (*detach) {
      // Same project, same state directory: a control plane answering there is this app's.
      if (Result<api::Connection> c = daemon::connection_for(options.dir); c.ok()) {
        api::ApiClient client(c.value());
        if (client.get("/api/v1/namespaces/default").ok()) {
          std::cout << "ticketctl up: already running for " << options.dir.root.string()
                    << " (https://" << c.value().host << ':' << c.value().port
                    << "); nothing to do. Apply changed manifests with `ticketctl apply -f "
                       "...`, or `ticketctl down` first to start afresh.\n";
          return kExitOk;
        }
      }
    }
    if (*build) {
      // A failed build does not stop `up`: its pods wait with BuildFailed until a build succeeds.
      const int failed = run_builds(
          options.project, options.dir, {}, false,
          [](const std::string& l) { std::cout << l << std::endl; },
          [](const std::string& l) { std::cerr << l << std::endl; });
      if (failed > 0)
        std::cerr << "ticketctl up: " << failed
                  << " build(s) failed; their pods wait until `ticketctl build` succeeds\n";
    }
    if (*detach) return run_detached(std::move(options));
    options.echo_logs = true;
    return daemon::run_control_plane(options);
  };
}

Handler attach_down(CLI::App& verb) {
  auto state = std::make_shared<StateDirArg>();
  state->attach(verb);
  verb.footer(
      "Stops the control plane of the state directory (SIGTERM) and waits until it is gone.");
  return [state] {
    Result<bool> r = daemon::stop_control_plane(state->dir(), stdout);
    if (!r.ok()) {
      std::cerr << "ticketctl down: " << r.error().message << '\n';
      return kExitFailure;
    }
    return kExitOk;
  };
}

}  // namespace ticketctl::cli
