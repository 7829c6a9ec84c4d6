// `ticketctl exec`: runs a command as if inside a running container, the nearest thing to
// kubectl exec without containers: the container's exact environment (its Secrets and
// ConfigMaps, Service variables, TICKETCTL_POD_IP and the preload library, so names resolve as
// in the pod), its working directory, and the exit code passed through. The kubelet records
// both at each container start in <state>/pods/<ns>_<pod>_<uid>/<container>/exec.json (0600);
// the CLI runs on the same machine as the same user and reads it there.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/api_verbs.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "runtime/api/resources.h"
#include "runtime/logs/pod_logs.h"
#include "runtime/supervisor/process.h"

namespace ticketctl::cli {
namespace {
namespace fs = std::filesystem;

struct ExecArgs {
  std::string pod;
  std::vector<std::string> command;
  std::string container, ns = "default";
  bool stdin_open = false, tty = false;
  StateDirArg state;
};

struct ExecInfo {
  supervisor::SpawnSpec run;  // the container's argv (unused here), environment, directory
  bool exec_failed = false;   // set by run_command: the program never ran
};

Result<ExecInfo> read_exec_info(const fs::path& file, const std::string& container) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  const Json info = Json::parse(text.str(), nullptr, false);
  if (!in || info.is_discarded() || !info.is_object())
    return Error{ErrorCode::NotFound,
                 fmt::format("no exec record for container {} ({} is missing or unreadable)",
                             container, file.string())};
  return ExecInfo{supervisor::spawn_spec_from_record(info)};
}

// The container the command runs in: -c, else kubectl's default (the annotation
// kubectl.kubernetes.io/default-container, else the first), announced when there is a choice.
Result<std::string> choose_container(const Json& pod, const std::string& wanted) {
  std::vector<std::string> names;
  for (const Json& c : json_at(json_at(pod, "spec"), "containers"))
    names.push_back(str(json_at(c, "name")));
  const std::string pod_name = str(pod["metadata"]["name"]);
  if (!wanted.empty()) {
    if (std::find(names.begin(), names.end(), wanted) == names.end())
      return Error{ErrorCode::Invalid,
                   fmt::format("container {} is not valid for pod {}", wanted, pod_name)};
    return wanted;
  }
  if (names.empty()) return Error{ErrorCode::Invalid, "pod " + pod_name + " has no containers"};
  std::string chosen = names[0];
  const std::string annotated = str(
      json_at(json_at(pod["metadata"], "annotations"), "kubectl.kubernetes.io/default-container"));
  if (std::find(names.begin(), names.end(), annotated) != names.end()) chosen = annotated;
  if (names.size() > 1 && annotated.empty())
    std::cerr << "Defaulted container \"" << chosen
              << "\" out of: " << fmt::format("{}", fmt::join(names, ", ")) << '\n';
  return chosen;
}

bool running(const Json& pod, const std::string& container) {
  for (const Json& s : json_at(json_at(pod, "status"), "containerStatuses"))
    if (str(json_at(s, "name")) == container)
      return !json_at(json_at(s, "state"), "running").is_null();
  return false;
}

// Runs the command and returns its exit status (128+N when killed by signal N), started by the
// kubelet's spawner with the container's environment and working directory.
// Without -i the command's stdin is /dev/null, as kubectl gives it no stdin.
int run_command(const std::vector<std::string>& args, ExecInfo& info, bool attached,
                bool with_stdin) {
  supervisor::SpawnSpec spec = info.run;
  spec.argv = args;
  spec.inherit_output = true;
  spec.inherit_stdin = with_stdin;
  // On a terminal the command stays in our foreground process group: Ctrl-C reaches it from the
  // terminal, and it may read the terminal. We only wait, ignoring what the command handles.
  // Without a terminal it gets a group of its own, and signals sent to us are passed to it.
  spec.session =
      attached ? supervisor::SpawnSpec::Session::Caller : supervisor::SpawnSpec::Session::OwnGroup;
  struct sigaction ignore = {};
  struct sigaction old_int = {};
  struct sigaction old_quit = {};
  ignore.sa_handler = SIG_IGN;
  sigset_t forwarded, old_mask;
  sigemptyset(&forwarded);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&forwarded, s);
  sigset_t waited = forwarded;
  sigaddset(&waited, SIGCHLD);  // blocked, so it is queued for sigwait rather than discarded
  if (attached) {
    ::sigaction(SIGINT, &ignore, &old_int);
    ::sigaction(SIGQUIT, &ignore, &old_quit);
  } else {
    ::pthread_sigmask(SIG_BLOCK, &waited, &old_mask);
  }
  auto restore = [&] {
    if (attached) {
      ::sigaction(SIGINT, &old_int, nullptr);
      ::sigaction(SIGQUIT, &old_quit, nullptr);
    } else {
      ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    }
  };
  // The child is in its own group before this returns: it runs until exec before we go on.
  int exec_errno = 0;
  const Result<supervisor::Spawned> child = supervisor::spawn_process(spec, &exec_errno);
  if (!child.ok()) {
    restore();
    info.exec_failed = true;
    std::cerr << "error: " << child.error().message << '\n';
    if (exec_errno == 0) return kExitFailure;  // not the program's fault: pipe, clone
    return exec_errno == ENOENT ? 127 : 126;
  }
  const pid_t pid = child.value().pid;
  int status = 0;
  if (attached) {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  } else {
    // Wait for the child or a signal to pass on, whichever comes first; SIGCHLD wakes sigwait.
    while (true) {
      const pid_t done = ::waitpid(pid, &status, WNOHANG);
      if (done == pid || (done < 0 && errno != EINTR)) break;
      int sig = 0;
      ::sigwait(&waited, &sig);
      if (sig != SIGCHLD) ::kill(-pid, sig);
    }
  }
  restore();
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

Handler attach_exec(CLI::App& verb) {
  auto a = std::make_shared<ExecArgs>();
  verb.add_option("pod", a->pod, "POD or pod/NAME")->required();
  verb.add_option("command", a->command, "-- COMMAND [ARG...]: what to run")->required();
  verb.add_option("-c,--container", a->container,
                  "Container (default: the pod's kubectl.kubernetes.io/default-container, else "
                  "its first)");
  verb.add_option("-n,--namespace", a->ns, "Namespace")->capture_default_str();
  verb.add_flag("-i,--stdin", a->stdin_open,
                "Pass stdin to the command (without it, the command reads /dev/null)");
  verb.add_flag("-t,--tty", a->tty,
                "The command uses the terminal (it stays in the terminal's foreground group)");
  a->state.attach(verb);
  return [a] {
    std::string pod_name = a->pod;
    if (const size_t slash = pod_name.find('/'); slash != std::string::npos) {
      const api::Resource* r = api::find_resource(pod_name.substr(0, slash));
      if (!r || r->kind != "Pod") {
        std::cerr << "error: exec runs in a pod: expected POD or pod/NAME, got " << pod_name
                  << '\n';
        return kExitFailure;
      }
      pod_name = pod_name.substr(slash + 1);
    }
    Result<api::ApiClient> client = a->state.connect();
    if (!client.ok()) {
      std::cerr << "error: " << client.error().message << '\n';
      return kExitFailure;
    }
    Result<Json> pod = client.value().get(api::find_resource("pods")->path(a->ns, pod_name));
    if (!pod.ok()) {
      std::cerr << server_error(pod.error()) << '\n';
      return kExitFailure;
    }
    Result<std::string> container = choose_container(pod.value(), a->container);
    if (!container.ok()) {
      std::cerr << "error: " << container.error().message << '\n';
      return kExitFailure;
    }
    if (!running(pod.value(), container.value())) {
      std::cerr << "error: container " << container.value() << " is not running\n";
      return kExitFailure;
    }
    const Json& meta = pod.value()["metadata"];
    const fs::path record = a->state.dir().root / "pods" /
                            logs::pod_dir_name(a->ns, pod_name, str(json_at(meta, "uid"))) /
                            container.value() / "exec.json";
    Result<ExecInfo> info = read_exec_info(record, container.value());
    if (!info.ok()) {
      std::cerr << "error: " << info.error().message << '\n';
      return kExitFailure;
    }
    std::cout << std::flush;
    const bool attached = a->tty || ::isatty(STDIN_FILENO) != 0;
    const int code = run_command(a->command, info.value(), attached, a->stdin_open || a->tty);
    // kubectl's words for a command that ran and failed; the status is passed through.
    if (code != 0 && !info.value().exec_failed)
      std::cerr << "command terminated with exit code " << code << '\n';
    return code;
  };
}

}  // namespace ticketctl::cli
