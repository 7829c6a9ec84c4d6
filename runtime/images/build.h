#pragma once
// An image's `build` command (ticketctl.yaml `images.NAME.build`, e.g. `npm ci`), run in its
// context when the context's files changed since the last successful build: what `ticketctl
// build`, `up --build` and `dev` do. The kubelet reads the records this writes: while
// `<builds_dir>/<key>.failed` exists, the image's pods wait with reason BuildFailed.
// Reads the context, runs the command, writes the records; any thread, one build of an image at
// a time.

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/result.h"
#include "runtime/project/config.h"

namespace ticketctl::images {

// Directory names that are never build inputs: what builds install and version control.
bool is_ignored_dir_name(std::string_view name);

// SHA-256 (hex) of the build command and, for every file under `context` in path order, its
// relative path and its contents (a symbolic link: its target). Directories named node_modules
// or .git, and the paths in `skip` (the state directory when it lies inside), are left out.
// Contents rather than modification times, so a `touch` or a checkout of the same text does not
// rebuild.
std::string inputs_hash(const std::filesystem::path& context,
                        const std::vector<std::string>& command,
                        const std::vector<std::filesystem::path>& skip = {});

struct BuildRun {
  int exit_status = -1;  // 128+N when killed by signal N; -1 when it could not start
  std::vector<std::string> last_lines;
  std::string error;  // why it could not start
};

// Runs `command` (PATH searched) in `context` with the caller's environment and process group
// (so a terminal's Ctrl-C reaches it as any foreground job), stdin from /dev/null, stdout and
// stderr merged; calls `on_line` with each line of output, and keeps the last `keep_lines`.
BuildRun run_build(const std::vector<std::string>& command, const std::filesystem::path& context,
                   const std::function<void(std::string_view line)>& on_line,
                   size_t keep_lines = 20);

// Where one image's build state is kept: <dir>/<key>.json after a successful build (image,
// inputs hash, command, time), <dir>/<key>.failed (its last output lines, mode 0600) while the
// last build failed. `key` is supervisor::build_key(image).
struct BuildRecords {
  std::filesystem::path dir;
  std::string key;
  std::filesystem::path success_file() const { return dir / (key + ".json"); }
  std::filesystem::path failure_file() const { return dir / (key + ".failed"); }
};

// The inputs hash of the last successful build, if any.
std::optional<std::string> last_built_hash(const BuildRecords& records);
bool last_build_failed(const BuildRecords& records);
Result<bool> record_success(const BuildRecords& records, const std::string& image,
                            const std::vector<std::string>& command, const std::string& hash);
Result<bool> record_failure(const BuildRecords& records, const std::vector<std::string>& lines);

enum class BuildOutcome { UpToDate, Built, Failed };

struct BuildRequest {
  std::string image;  // for the record
  const project::ImageSetting* setting = nullptr;
  BuildRecords records;
  bool force = false;                       // build even when the inputs did not change
  std::vector<std::filesystem::path> skip;  // left out of the inputs hash
};

struct BuildReport {
  BuildOutcome outcome = BuildOutcome::Failed;
  std::string message;  // "exit status 1", "cannot start ...", "" when it succeeded
  std::chrono::milliseconds took{0};
};

// Builds when forced, when the inputs hash differs from the last successful build's, or when
// the last build failed; then records the outcome. The hash recorded is taken after the build,
// so files the build itself writes into the context (outside node_modules) are not a change.
BuildReport build_if_changed(const BuildRequest& request,
                             const std::function<void(std::string_view line)>& on_line);

}  // namespace ticketctl::images
