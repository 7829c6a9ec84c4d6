#pragma once
// `ticketctl test` check files: YAML in the shape of ticketctl.yaml, checked with the manifest
// Walker (errors with file:line:column), and the runner of one check against a running app
// (HTTP through the ingress, pod logs, readiness, exec, pod deletion).
// Main thread of the CLI.

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/api/client.h"
#include "runtime/core/diagnostics.h"
#include "runtime/manifest/json.h"

namespace ticketctl::cli {

struct SmokeCheck {
  std::string name;
  std::string file;  // where it is written, for reports
  int line = 0;
  std::chrono::milliseconds eventually{0};  // retry until it passes or this long has passed
  Json spec;  // the check's validated JSON: http/expect/capture, ready, podLog, exec, deletePods
};

struct SmokeFile {
  std::string path;
  std::string host;  // default Host header
  std::vector<SmokeCheck> checks;
};

// Reads and validates one check file; nullopt with diagnostics on any error.
std::optional<SmokeFile> load_smoke_file(const std::filesystem::path& path, Diagnostics& diags);

struct CheckOutcome {
  bool passed = false;
  std::string message;   // why it failed
  std::string response;  // the failing HTTP response (status line, headers, body), if any
  int attempts = 0;
  double seconds = 0;
};

// What a check needs from the app: the API, where the ingress listens, and how to run
// `ticketctl exec` (the binary and its --state-dir).
struct SmokeTarget {
  api::ApiClient* client = nullptr;
  std::string ingress_address;
  int ingress_port = 0;
  std::string self_binary;
  std::string state_dir;
};

// Runs one check (with its retries); captures go into `vars` for the checks after it.
CheckOutcome run_check(const SmokeCheck& check, const SmokeFile& file, const SmokeTarget& target,
                       std::map<std::string, std::string>& vars);

// Runs the ticketctl `binary` with `args` (stdin /dev/null, stdout and stderr into `output`);
// returns its exit status, 128+N after signal N, -1 when it could not start.
int run_ticketctl(const std::string& binary, const std::vector<std::string>& args,
                  const std::filesystem::path& output);

// "{{name}}" replaced by captured values; an unknown name is left as written.
std::string substitute(const std::string& text, const std::map<std::string, std::string>& vars);

// `$.a.b[0]` (Hurl's and JSONPath's spelling) read from `data` as kubectl's jsonpath renders
// it: strings bare, everything else as JSON.
Result<std::string> json_path_text(const std::string& path, const Json& data);

}  // namespace ticketctl::cli
