#pragma once
// Running an image's build plan (build_plan.h: its ticketctl.yaml `build` command, or its
// Dockerfile's dependency installs) when its inputs changed since the last successful build:
// what the control plane does before an image's pods start, and `ticketctl build`, `up --build`
// and `dev` do. The control plane's Builder reads the records this writes: while
// `<builds_dir>/<key>.failed` exists, the image's pods wait with reason BuildFailed.
// Reads the inputs, runs the commands, writes the records; any thread.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/result.h"
#include "runtime/images/build_plan.h"

namespace ticketctl::images {

// Directory names that are never build inputs: what builds install and version control.
bool is_ignored_dir_name(std::string_view name);

// SHA-256 (hex) of the plan's commands (argv, directory, environment) and, for every file of its
// inputs in path order, its path and its contents (a symbolic link: its target). Directories
// named node_modules or .git, and the paths in `skip` (the state directory when it lies inside),
// are left out. Contents rather than modification times, so a `touch` or a checkout of the same
// text does not rebuild.
std::string inputs_hash(const BuildPlan& plan, const std::vector<std::filesystem::path>& skip = {});

struct BuildRun {
  int exit_status = -1;  // 128+N when killed by signal N; -1 when it could not start
  std::vector<std::string> last_lines;
  std::string error;  // why it could not start
};

// Runs `command` (PATH searched; yarn and pnpm through Node's corepack when not installed) in
// its directory with the caller's environment plus its own, stdin from /dev/null, stdout and
// stderr merged; calls `on_line` with each line of output, and keeps the last `keep_lines`.
// Without `group` it runs in the caller's process group (so a terminal's Ctrl-C reaches it as
// any foreground job); with one, in a group of its own whose id is stored there while it runs,
// for another thread to signal. Its exit status comes back through a pipe, so a subreaper that
// reaps every child (the control plane's kubelet) cannot take it.
BuildRun run_build(const BuildCommand& command,
                   const std::function<void(std::string_view line)>& on_line,
                   size_t keep_lines = 20, std::atomic<pid_t>* group = nullptr);

// Where one image's build state is kept: <dir>/<key>.json after a successful build (image,
// inputs hash, command, time), <dir>/<key>.failed (its last output lines, mode 0600) while the
// last build failed. `key` is supervisor::build_key(image).
struct BuildRecords {
  std::filesystem::path dir;
  std::string key;
  std::filesystem::path success_file() const { return dir / (key + ".json"); }
  std::filesystem::path failure_file() const { return dir / (key + ".failed"); }
  std::filesystem::path failed_inputs_file() const { return dir / (key + ".failed-inputs"); }
  std::filesystem::path lock_file() const { return dir / (key + ".lock"); }
};

// The inputs hash of the last successful build, if any.
std::optional<std::string> last_built_hash(const BuildRecords& records);
bool last_build_failed(const BuildRecords& records);
// The last lines of the failed build's output (empty when it did not fail).
std::vector<std::string> failure_lines(const BuildRecords& records);
Result<bool> record_success(const BuildRecords& records, const std::string& image,
                            const BuildPlan& plan, const std::string& hash);
Result<bool> record_failure(const BuildRecords& records, const std::vector<std::string>& lines,
                            const std::string& hash);

// FailedBefore: not run, because the last build failed with these same inputs.
enum class BuildOutcome { UpToDate, Built, Failed, FailedBefore };

struct BuildRequest {
  std::string image;  // for the record
  BuildPlan plan;
  BuildRecords records;
  bool force = false;  // build even when the inputs did not change
  // Run again a build that failed with the same inputs (`ticketctl build`: the user asks for
  // it; the control plane does not repeat a failure by itself).
  bool retry_failed = true;
  std::vector<std::filesystem::path> skip;  // left out of the inputs hash
  std::function<void()> on_start;           // the build runs (it was not up to date)
  // True once the build should end (the control plane stops): nothing is recorded then.
  std::function<bool()> cancelled;
  std::atomic<pid_t>* group = nullptr;  // see run_build
};

struct BuildReport {
  BuildOutcome outcome = BuildOutcome::Failed;
  std::string message;                  // "exit status 1", "cannot start ...", "" when it succeeded
  std::vector<std::string> last_lines;  // of a failed build's output
  std::chrono::milliseconds took{0};
};

// Builds when forced, when the inputs hash differs from the last successful build's, when an
// output directory is missing, or when the last build failed; then records the outcome. One
// build of an image at a time, across processes (the lock file). The hash recorded is taken
// after the build, so files the build itself writes into its inputs are not a change.
BuildReport build_if_changed(const BuildRequest& request,
                             const std::function<void(std::string_view line)>& on_line);

}  // namespace ticketctl::images
