#include "runtime/core/oplog.h"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <cstdio>
#include <memory>

namespace ticketctl::oplog {
namespace {

std::mutex g_mutex;
std::shared_ptr<spdlog::logger> g_logger;  // null: stderr

spdlog::level::level_enum spd(Level level) {
  switch (level) {
    case Level::Debug:
      return spdlog::level::debug;
    case Level::Info:
      return spdlog::level::info;
    case Level::Warn:
      return spdlog::level::warn;
    case Level::Error:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

std::string_view name_of(Level level) {
  switch (level) {
    case Level::Debug:
      return "debug";
    case Level::Info:
      return "info";
    case Level::Warn:
      return "warning";
    case Level::Error:
      return "error";
  }
  return "info";
}

}  // namespace

Result<bool> init(const Options& options) {
  std::shared_ptr<spdlog::logger> logger;
  try {
    // 0600 like everything in the state directory, also each file a rotation opens anew.
    spdlog::file_event_handlers handlers;
    handlers.after_open = [](const spdlog::filename_t&, std::FILE* f) {
      (void)::fchmod(::fileno(f), 0600);
    };
    auto file = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        options.file.string(), options.max_bytes, options.max_files, false, handlers);
    file->set_level(spd(options.level));
    std::vector<spdlog::sink_ptr> sinks{file};
    if (options.echo_stderr) {
      auto err = std::make_shared<spdlog::sinks::stderr_sink_mt>();
      err->set_level(spdlog::level::warn);
      err->set_pattern("ticketctl: %v");
      sinks.push_back(err);
    }
    logger = std::make_shared<spdlog::logger>("ticketctl", sinks.begin(), sinks.end());
    file->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %-7l %v");
    logger->set_level(spd(options.level));
    // Few lines (starts, exits, problems), read while the control plane runs, and the last
    // ones matter most after a crash: each is on disk when write() returns.
    logger->flush_on(spdlog::level::trace);
  } catch (const spdlog::spdlog_ex& e) {
    return Error{ErrorCode::Internal,
                 fmt::format("cannot open the log {}: {}", options.file.string(), e.what())};
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  g_logger = std::move(logger);
  return true;
}

void shutdown() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_logger) g_logger->flush();
  g_logger.reset();
}

Level level_for_verbosity(int v) {
  return v >= 4 ? Level::Debug : Level::Info;
}

void write(Level level, std::string_view component, std::string_view message) {
  std::shared_ptr<spdlog::logger> logger;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    logger = g_logger;
  }
  if (!logger) {
    if (level == Level::Debug) return;
    std::fprintf(stderr, "ticketctl: %s: %.*s\n", std::string(name_of(level)).c_str(),
                 static_cast<int>(message.size()), message.data());
    return;
  }
  logger->log(spd(level), "[{}] {}", component, message);
}

bool RateLimited::write(Level level, std::string_view component, const std::string& message) {
  const auto now = std::chrono::steady_clock::now();
  size_t held = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // Bounded: problems that stopped recurring are forgotten.
    if (seen_.size() > 1000)
      std::erase_if(seen_, [&](const auto& kv) { return now - kv.second.last >= every_; });
    auto [it, first] = seen_.try_emplace(message, Seen{now, 0});
    if (!first) {
      if (now - it->second.last < every_) {
        ++it->second.held;
        return false;
      }
      held = it->second.held;
      it->second = Seen{now, 0};
    }
  }
  if (held == 0)
    oplog::write(level, component, message);
  else
    oplog::write(level, component,
                 fmt::format("{} ({} more like it since it was last said)", message, held));
  return true;
}

}  // namespace ticketctl::oplog
