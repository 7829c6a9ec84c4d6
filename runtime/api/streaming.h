#pragma once
// The streaming subresources without sockets: which requests they are (pods/exec, pods/attach,
// pods/portforward), what their query asks for, and what they reach in the store and on disk (the
// command to run in a container's recorded context, the log run to attach to, the pod's IP). The
// stream server (stream_front.cpp) does the I/O.
// Threads: any; StreamBackend takes the store lock it was given for each look-up.

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/api/exec_process.h"
#include "runtime/core/result.h"
#include "runtime/logs/pod_logs.h"
#include "runtime/manifest/json.h"
#include "runtime/store/shared.h"

namespace ticketctl::api {

enum class StreamVerb { Exec, Attach, PortForward };

struct StreamTarget {
  StreamVerb verb = StreamVerb::Exec;
  std::string ns, pod;
  std::multimap<std::string, std::string> query;
};

// /api/v1/namespaces/NS/pods/NAME/{exec,attach,portforward}[?query]; nullopt for other paths.
std::optional<StreamTarget> match_stream_target(std::string_view target);

// What pods/exec and pods/attach ask for (PodExecOptions / PodAttachOptions).
struct ExecOptions {
  std::vector<std::string> command;  // exec only
  std::string container;             // empty: the pod's only container
  bool use_stdin = false, use_stdout = false, use_stderr = false, tty = false;
};
Result<ExecOptions> parse_exec_options(const StreamTarget& t);

// The channel protocol's final Status for an exit code, as the kubelet reports it: Success, or
// a NonZeroExitCode failure whose ExitCode cause client-go turns into kubectl's exit status.
Json exit_status_json(int exit_code, const std::vector<std::string>& command);
// Its failure form for an error before or instead of running (e.g. the program is missing).
Json error_status_json(const Error& e);
int http_status(const Error& e);

class StreamBackend {
 public:
  StreamBackend(store::Shared& store, std::filesystem::path pods_dir)
      : store_(store), pods_dir_(std::move(pods_dir)) {}

  // The command of an exec request, ready for start_exec: the container's recorded environment
  // and working directory (exec.json, written by the kubelet at each start), the program found
  // in the container's PATH. The container must be running.
  Result<ExecSpec> exec_spec(const StreamTarget& t, const ExecOptions& o);
  // The current log run of the container an attach request names.
  Result<logs::LogRun> attach_run(const StreamTarget& t, const ExecOptions& o);
  // The IP of a running pod, for port-forward.
  Result<std::string> pod_ip(const StreamTarget& t);

 private:
  Result<Json> running_pod(const StreamTarget& t);

  store::Shared& store_;
  std::filesystem::path pods_dir_;
};

}  // namespace ticketctl::api
