#include "runtime/logs/pod_logs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "runtime/core/rfc3339.h"
#include "runtime/logs/log_file.h"
#include "runtime/manifest/reasons.h"

namespace ticketctl::logs {
namespace fs = std::filesystem;
namespace {

// The kubelet removes a container's pid file just before it drains the last output from the
// pipes, so a follower waits this long after the file went before it trusts that nothing comes.
constexpr auto kPidGoneGrace = std::chrono::milliseconds(250);
constexpr size_t kReadChunk = 64 * 1024;

Error invalid(std::string message) {
  return Error{ErrorCode::Invalid, std::move(message)};
}

const std::string* first_value(const std::multimap<std::string, std::string>& query,
                               const std::string& key) {
  auto it = query.find(key);
  return it == query.end() ? nullptr : &it->second;
}

// Go's strconv.ParseBool, which the API server uses for query parameters.
std::optional<bool> parse_bool(std::string_view v) {
  for (std::string_view t : {"1", "t", "T", "TRUE", "true", "True"})
    if (v == t) return true;
  for (std::string_view f : {"0", "f", "F", "FALSE", "false", "False"})
    if (v == f) return false;
  return std::nullopt;
}

std::optional<int64_t> parse_int(std::string_view v) {
  int64_t out = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || end != v.data() + v.size() || v.empty()) return std::nullopt;
  return out;
}

// Reads all of `fd` (a log file is at most the rotation size).
std::string read_whole(int fd) {
  std::string out;
  char buf[kReadChunk];
  for (off_t at = 0;;) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, at);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    at += n;
  }
  return out;
}

// "3.log" → 3, "3.log.2" → 3; nullopt for anything else in a container's directory.
std::optional<int> run_number(const std::string& file_name) {
  const size_t dot = file_name.find(".log");
  if (dot == std::string::npos || dot == 0) return std::nullopt;
  const std::string_view rest = std::string_view(file_name).substr(dot + 4);
  if (!rest.empty() && (rest[0] != '.' || !parse_int(rest.substr(1)))) return std::nullopt;
  const std::optional<int64_t> n = parse_int(std::string_view(file_name).substr(0, dot));
  if (!n || *n < 0) return std::nullopt;
  return static_cast<int>(*n);
}

std::string read_small_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

int64_t unix_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<LogOptions> parse_log_options(const std::multimap<std::string, std::string>& query) {
  LogOptions o;
  if (const std::string* c = first_value(query, "container")) o.container = *c;
  for (auto [key, field] : {std::pair{"follow", &o.follow}, std::pair{"previous", &o.previous},
                            std::pair{"timestamps", &o.timestamps}}) {
    const std::string* v = first_value(query, key);
    if (!v) continue;
    const std::optional<bool> b = parse_bool(*v);
    if (!b) return invalid(fmt::format("{}: Invalid value: \"{}\": must be a boolean", key, *v));
    *field = *b;
  }
  for (auto [key, field] :
       {std::pair{"tailLines", &o.tail_lines}, std::pair{"sinceSeconds", &o.since_seconds},
        std::pair{"limitBytes", &o.limit_bytes}}) {
    const std::string* v = first_value(query, key);
    if (!v) continue;
    const std::optional<int64_t> n = parse_int(*v);
    if (!n) return invalid(fmt::format("{}: Invalid value: \"{}\": must be an integer", key, *v));
    if (std::string_view(key) != "tailLines" && *n < 1)
      return invalid(fmt::format("{}: Invalid value: {}: must be greater than 0", key, *n));
    *field = *n;
  }
  if (const std::string* v = first_value(query, "sinceTime")) {
    o.since_time_ns = rfc3339::parse_nanos(*v);
    if (!o.since_time_ns)
      return invalid(fmt::format("sinceTime: Invalid value: \"{}\": must be an RFC 3339 time", *v));
  }
  if (o.since_seconds && o.since_time_ns)
    return invalid("at most one of `sinceTime` or `sinceSeconds` may be specified");
  return o;
}

std::string pod_dir_name(std::string_view ns, std::string_view name, std::string_view uid) {
  // NAME_MAX is 255 bytes; a namespace is at most 63 and a uid 36.
  constexpr size_t kMax = 255;
  const size_t fixed = ns.size() + uid.size() + 2;
  if (fixed + name.size() <= kMax || fixed + 9 >= kMax)
    return fmt::format("{}_{}_{}", ns, name, uid);
  uint32_t hash = 2166136261u;  // FNV-1a of the whole name
  for (unsigned char ch : name) hash = (hash ^ ch) * 16777619u;
  return fmt::format("{}_{}-{:08x}_{}", ns, name.substr(0, kMax - fixed - 9), hash, uid);
}

Result<LogRun> choose_log_run(const Json& pod, const fs::path& pods_dir,
                              const LogOptions& options) {
  const Json& meta = pod.at("metadata");
  const std::string name = meta.value("name", "");
  std::vector<std::string> names;
  if (pod.contains("spec") && pod["spec"].contains("containers"))
    for (const Json& c : pod["spec"]["containers"]) names.push_back(c.value("name", ""));
  std::string container = options.container;
  if (container.empty()) {
    if (names.size() != 1)
      return invalid(
          fmt::format("a container name must be specified for pod {}, choose one of: [{}]", name,
                      fmt::join(names, " ")));
    container = names[0];
  } else if (std::find(names.begin(), names.end(), container) == names.end()) {
    return invalid(fmt::format("container {} is not valid for pod {}", container, name));
  }

  const fs::path dir =
      pods_dir / pod_dir_name(meta.value("namespace", "default"), name, meta.value("uid", "")) /
      container;
  std::set<int> runs;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec))
    if (std::optional<int> n = run_number(it->path().filename().string())) runs.insert(*n);

  if (runs.empty()) {
    if (options.previous)
      return invalid(fmt::format("previous terminated container \"{}\" in pod \"{}\" not found",
                                 container, name));
    std::string reason = reasons::kContainerCreating;
    if (pod.contains("status") && pod["status"].contains("containerStatuses"))
      for (const Json& s : pod["status"]["containerStatuses"])
        if (s.value("name", "") == container && s.contains("state") &&
            s["state"].contains("waiting"))
          reason = s["state"]["waiting"].value("reason", reason);
    return invalid(fmt::format("container \"{}\" in pod \"{}\" is waiting to start: {}", container,
                               name, reason));
  }
  const int current = *runs.rbegin();
  LogRun run;
  run.container = container;
  run.pid_file = dir / "pid";
  if (options.previous) {
    if (!runs.count(current - 1))
      return invalid(fmt::format("previous terminated container \"{}\" in pod \"{}\" not found",
                                 container, name));
    run.live_file = dir / fmt::format("{}.log", current - 1);
    run.current = false;
    return run;
  }
  run.live_file = dir / fmt::format("{}.log", current);
  return run;
}

LogFormatter::LogFormatter(const LogOptions& options, int64_t now_ns)
    : since_ns_(options.since_time_ns),
      timestamps_(options.timestamps),
      remaining_(options.limit_bytes) {
  if (options.since_seconds) {
    const int64_t since = now_ns - *options.since_seconds * 1'000'000'000;
    since_ns_ = since_ns_ ? std::max(*since_ns_, since) : since;
  }
}

bool LogFormatter::add(std::string_view record, std::string& out) {
  if (full()) return false;
  const std::optional<LogLine> line = parse_log_line(record);
  if (!line) return true;  // not a CRI record: nothing the kubelet wrote
  const bool starts_line = at_line_start_;
  if (starts_line) {
    const std::optional<int64_t> at = since_ns_ ? rfc3339::parse_nanos(line->time) : std::nullopt;
    skipping_line_ = since_ns_ && at && *at < *since_ns_;
  }
  at_line_start_ = !line->partial;
  if (skipping_line_) return true;
  std::string piece;
  if (timestamps_ && starts_line) piece = line->time + " ";
  piece += line->text;
  if (!line->partial) piece += '\n';
  if (remaining_) {
    if (static_cast<int64_t>(piece.size()) >= *remaining_) {
      out.append(piece, 0, static_cast<size_t>(*remaining_));
      remaining_ = 0;
      return false;
    }
    *remaining_ -= static_cast<int64_t>(piece.size());
  }
  out += piece;
  return true;
}

LogReader::LogReader(LogRun run, const LogOptions& options, int64_t now_ns)
    : run_(std::move(run)), follow_(options.follow && run_.current), formatter_(options, now_ns) {
  for (const fs::path& p : run_files(run_.live_file)) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) fds_.push_back(fd);
  }
  if (options.tail_lines && *options.tail_lines >= 0) start_at_tail(*options.tail_lines);
}

LogReader::~LogReader() {
  for (int fd : fds_) ::close(fd);
}

// Finds the start of the last `lines` lines, reading files from the newest back. A line is its
// partial (P) records followed by the full (F) one; a trailing run of P records is a line too.
void LogReader::start_at_tail(int64_t lines) {
  if (fds_.empty()) return;
  if (lines == 0) {
    index_ = fds_.size() - 1;
    struct stat st {};
    offset_ = ::fstat(fds_[index_], &st) == 0 ? st.st_size : 0;
    return;
  }
  int64_t counted = 0;
  bool at_end = true;  // no record seen yet, walking backwards
  for (size_t i = fds_.size(); i-- > 0;) {
    const std::string text = read_whole(fds_[i]);
    // Records end at '\n'; an unterminated tail is still being written and is not counted.
    size_t end = text.rfind('\n');
    while (end != std::string::npos) {
      const size_t begin = end == 0 ? 0 : text.rfind('\n', end - 1);
      const size_t start = begin == std::string::npos || end == 0 ? 0 : begin + 1;
      const std::string_view record = std::string_view(text).substr(start, end - start);
      const std::optional<LogLine> parsed = parse_log_line(record);
      if (parsed && (!parsed->partial || at_end)) {
        if (counted == lines) {
          index_ = i;
          offset_ = static_cast<int64_t>(end + 1);
          return;
        }
        ++counted;
      }
      if (parsed) at_end = false;  // what is not a record is neither shown nor counted
      if (start == 0) break;
      end = start - 1;
    }
  }
  index_ = 0;
  offset_ = 0;
}

void LogReader::read_available(std::string& out) {
  char buf[kReadChunk];
  while (index_ < fds_.size()) {
    const ssize_t n = ::pread(fds_[index_], buf, sizeof buf, offset_);
    if (n > 0) {
      offset_ += n;
      pending_.append(buf, static_cast<size_t>(n));
      size_t start = 0;
      for (size_t eol; (eol = pending_.find('\n', start)) != std::string::npos; start = eol + 1) {
        if (!formatter_.add(std::string_view(pending_).substr(start, eol - start), out)) {
          finished_ = true;
          return;
        }
      }
      pending_.erase(0, start);
      continue;
    }
    if (index_ + 1 >= fds_.size()) return;  // the live file: more may come
    // A rotated piece always ends with a whole record; anything left is not one.
    pending_.clear();
    ++index_;
    offset_ = 0;
  }
}

// The live file was renamed to `.1` and a fresh one began: read on from the fresh one once the
// old one (still open) is finished.
bool LogReader::follow_rotation() {
  struct stat live {
  }, last{};
  if (::stat(run_.live_file.c_str(), &live) != 0) return false;
  if (!fds_.empty() && ::fstat(fds_.back(), &last) == 0 && last.st_ino == live.st_ino &&
      last.st_dev == live.st_dev)
    return false;
  const int fd = ::open(run_.live_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  fds_.push_back(fd);
  return true;
}

bool LogReader::run_ended() {
  std::error_code ec;
  const std::string stem = run_.live_file.stem().string();  // "3" of "3.log"
  if (std::optional<int64_t> n = parse_int(stem);
      n && fs::exists(run_.live_file.parent_path() / fmt::format("{}.log", *n + 1), ec))
    return true;
  const std::string pid = read_small_file(run_.pid_file);
  const auto now = std::chrono::steady_clock::now();
  if (pid.empty()) {
    if (!fs::exists(run_.pid_file, ec)) {
      if (!pid_gone_since_) pid_gone_since_ = now;
      if (now - *pid_gone_since_ >= kPidGoneGrace) return true;
      // Nothing written for a while: the run ended before this request began.
      const auto written = fs::last_write_time(run_.live_file, ec);
      return !ec && fs::file_time_type::clock::now() - written >= kPidGoneGrace;
    }
    return false;  // being written
  }
  pid_gone_since_.reset();
  if (pid.back() != '\n') return false;  // being written
  if (pid_.empty()) pid_ = pid;
  return pid != pid_;  // a restart wrote the next run's pid between two polls
}

void LogReader::poll(std::string& out) {
  if (finished_) return;
  if (!follow_) {
    read_available(out);
    finished_ = true;
    return;
  }
  // Whether the run had ended is decided before reading, so the last read sees all it wrote.
  const bool ended = run_ended();
  follow_rotation();
  read_available(out);
  if (ended) finished_ = true;
}

}  // namespace ticketctl::logs
