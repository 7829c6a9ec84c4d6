#pragma once
// pods/log without HTTP: which files a request reads (a container's current run, or the previous
// one) and what the client gets from them, as the kubelet serves them: tailLines first, then
// sinceSeconds/sinceTime, partial (P) records joined into their line, timestamps on request,
// cut at limitBytes. The server streams what a LogReader produces; with follow=true it polls the
// reader until the run ends.
// Threads: the free functions are pure and for any thread; a LogReader belongs to the one request
// that reads it.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/result.h"
#include "runtime/manifest/json.h"

namespace ticketctl::logs {

struct LogOptions {
  std::string container;  // empty: the pod's only container
  bool follow = false;
  bool previous = false;
  bool timestamps = false;
  std::optional<int64_t> tail_lines;     // negative: every line
  std::optional<int64_t> since_seconds;  // > 0
  std::optional<int64_t> since_time_ns;  // sinceTime, nanoseconds since the epoch
  std::optional<int64_t> limit_bytes;    // > 0
};

// The query of a pods/log request. A bad value is an Invalid error naming the parameter.
Result<LogOptions> parse_log_options(const std::multimap<std::string, std::string>& query);

// The run of one container a request reads.
struct LogRun {
  std::string container;
  std::filesystem::path live_file;  // <pod dir>/<container>/<N>.log
  std::filesystem::path pid_file;   // exists while the current run's process lives
  bool current = true;              // false for the previous run, which cannot grow
};

// The name of a pod's directory under pods_dir: "<ns>_<name>_<uid>". A pod name may be 253
// characters, more than one file name can hold with the rest, so a long name is cut and given a
// hash of the whole (the uid keeps it unique; the run's exec.json has the full name).
std::string pod_dir_name(std::string_view ns, std::string_view name, std::string_view uid);

// Picks the container and its run from the pod's JSON and what is on disk under `pods_dir`
// (<pods_dir>/<ns>_<pod>_<uid>/<container>/<restartCount>.log; the highest N is the current run).
// Errors carry the API server's wording and are all Invalid (HTTP 400, BadRequest).
Result<LogRun> choose_log_run(const Json& pod, const std::filesystem::path& pods_dir,
                              const LogOptions& options);

// Turns CRI records (`<time> stdout|stderr F|P <text>`) into the text the client sees.
class LogFormatter {
 public:
  LogFormatter(const LogOptions& options, int64_t now_ns);
  // Appends what one record (without its '\n') shows to `out`; false once limitBytes is used up.
  bool add(std::string_view record, std::string& out);
  bool full() const { return remaining_ && *remaining_ <= 0; }

 private:
  std::optional<int64_t> since_ns_;
  bool timestamps_;
  std::optional<int64_t> remaining_;
  bool at_line_start_ = true;
  bool skipping_line_ = false;  // a partial line older than `since`
};

// Reads one run: from where tailLines puts the start, through the rotated pieces to the live file,
// and then, for a current run followed, whatever is appended, across rotations, until the run
// ends (its pid file goes or changes, or the next run's file appears) and all of it was read.
class LogReader {
 public:
  LogReader(LogRun run, const LogOptions& options, int64_t now_ns);
  ~LogReader();
  LogReader(const LogReader&) = delete;
  LogReader& operator=(const LogReader&) = delete;

  // Appends everything new since the last call to `out`.
  void poll(std::string& out);
  // Nothing more will come: not following, limitBytes reached, or the followed run ended.
  bool finished() const { return finished_; }

 private:
  void start_at_tail(int64_t lines);
  void read_available(std::string& out);
  bool follow_rotation();
  bool run_ended();

  LogRun run_;
  bool follow_;
  LogFormatter formatter_;
  std::vector<int> fds_;  // the run's files, oldest first, opened at once so rotation cannot skip
  size_t index_ = 0;      // the file being read
  int64_t offset_ = 0;    // within it
  std::string pending_;   // a record whose '\n' has not been written yet
  std::string pid_;       // the run's pid file content, once seen
  std::optional<std::chrono::steady_clock::time_point> pid_gone_since_;
  bool finished_ = false;
};

// Nanoseconds since the epoch, for LogFormatter's and LogReader's `now_ns`.
int64_t unix_now_ns();

}  // namespace ticketctl::logs
