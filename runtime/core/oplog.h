#pragma once
// The control plane's own log (the operator log): what ticketctl itself did and what went wrong
// on its side, as opposed to the pods' output. One line per message with time, level and the
// component ("kubelet", "dataplane", ...), into a file in the state directory that rotates by
// size (spdlog's rotating sink), and, for a control plane in the foreground, warnings and
// errors on stderr too. Before init() (and in the CLI), messages go to stderr.
//
// A message that can recur on every pass (a port that cannot be served, a Service that routes
// nowhere) goes through RateLimited: said at once, then at most once per interval with how many
// were held back, never silenced for good. Any thread.

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "runtime/core/result.h"

namespace ticketctl::oplog {

enum class Level { Debug, Info, Warn, Error };

struct Options {
  std::filesystem::path file;
  Level level = Level::Info;
  size_t max_bytes = 10 * 1024 * 1024;
  size_t max_files = 3;      // rotated copies kept: file.1 ... file.N
  bool echo_stderr = false;  // warnings and errors also on stderr
};

// Opens the log; an error when its file cannot be created (messages then go to stderr).
Result<bool> init(const Options& options);
// Flushes and closes the file (messages go to stderr again).
void shutdown();
// kubectl's and the kubelet's -v / --v=N: 0-3 info, 4 and up debug.
Level level_for_verbosity(int v);

void write(Level level, std::string_view component, std::string_view message);

template <typename... Args>
void debug(std::string_view component, fmt::format_string<Args...> f, Args&&... args) {
  write(Level::Debug, component, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(std::string_view component, fmt::format_string<Args...> f, Args&&... args) {
  write(Level::Info, component, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(std::string_view component, fmt::format_string<Args...> f, Args&&... args) {
  write(Level::Warn, component, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(std::string_view component, fmt::format_string<Args...> f, Args&&... args) {
  write(Level::Error, component, fmt::format(f, std::forward<Args>(args)...));
}

// Messages keyed by their text: the first is written, repeats within `every` are counted and
// summed up with the next one written after it.
class RateLimited {
 public:
  explicit RateLimited(std::chrono::steady_clock::duration every = std::chrono::minutes(1))
      : every_(every) {}
  // True when it was written now.
  bool write(Level level, std::string_view component, const std::string& message);

 private:
  struct Seen {
    std::chrono::steady_clock::time_point last;
    size_t held = 0;
  };
  std::chrono::steady_clock::duration every_;
  std::mutex mutex_;
  std::map<std::string, Seen> seen_;
};

}  // namespace ticketctl::oplog
