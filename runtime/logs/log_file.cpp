#include "runtime/logs/log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "runtime/core/files.h"
#include "runtime/core/rfc3339.h"

#include <chrono>
#include <ctime>

namespace ticketctl::logs {
namespace fs = std::filesystem;
namespace {
constexpr size_t kMaxLine = 16 * 1024;
}

LogFile::LogFile(fs::path file, uint64_t max_bytes, int max_files)
    : file_(std::move(file)), max_bytes_(max_bytes), max_files_(max_files) {
  (void)make_private_dirs(file_.parent_path());  // a failed open below says why
  fd_ = open_private_append(file_);
  struct stat st {};
  if (fd_ >= 0 && ::fstat(fd_, &st) == 0) size_ = static_cast<uint64_t>(st.st_size);
}

LogFile::~LogFile() {
  flush();
  if (fd_ >= 0) ::close(fd_);
}

void LogFile::emit(bool stderr_stream, std::string_view line, bool partial) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  // One timestamp per read: lines that arrived together were captured at the same moment.
  if (stamp_.empty()) stamp_ = rfc3339::now_nano();
  out_ += stamp_;
  out_ += stderr_stream ? " stderr " : " stdout ";
  out_ += partial ? "P " : "F ";
  out_.append(line);
  out_ += '\n';
}

void LogFile::commit() {
  stamp_.clear();
  if (out_.empty() || fd_ < 0) {
    out_.clear();
    return;
  }
  size_t done = 0;
  while (done < out_.size()) {
    const ssize_t n = ::write(fd_, out_.data() + done, out_.size() - done);
    if (n <= 0) break;  // a full disk loses log lines, never the pod
    done += static_cast<size_t>(n);
  }
  size_ += done;
  out_.clear();
  if (max_bytes_ > 0 && size_ >= max_bytes_) rotate();
}

void LogFile::write(bool stderr_stream, std::string_view bytes) {
  append(stderr_stream, bytes);
  commit();  // one write() per read from the pipe, however many lines it held
}

void LogFile::append(bool stderr_stream, std::string_view bytes) {
  std::string& pending = pending_[stderr_stream ? 1 : 0];
  while (!bytes.empty()) {
    const size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      pending.append(bytes);
      while (pending.size() >= kMaxLine) {
        emit(stderr_stream, std::string_view(pending).substr(0, kMaxLine), true);
        pending.erase(0, kMaxLine);
      }
      return;
    }
    std::string_view line = bytes.substr(0, nl);
    if (!pending.empty()) {
      pending.append(line);
      line = pending;
    }
    // A runtime splits lines longer than its buffer; the pieces carry "P", the last one "F".
    while (line.size() > kMaxLine) {
      emit(stderr_stream, line.substr(0, kMaxLine), true);
      line.remove_prefix(kMaxLine);
    }
    emit(stderr_stream, line, false);
    pending.clear();
    bytes.remove_prefix(nl + 1);
  }
}

void LogFile::flush() {
  for (int s = 0; s < 2; ++s) {
    if (pending_[s].empty()) continue;
    emit(s == 1, pending_[s], false);
    pending_[s].clear();
  }
  commit();
}

void LogFile::rotate() {
  if (max_files_ <= 1) {
    if (::ftruncate(fd_, 0) == 0) size_ = 0;
    return;
  }
  std::error_code ec;
  const std::string base = file_.string();
  fs::remove(base + "." + std::to_string(max_files_ - 1), ec);
  for (int i = max_files_ - 2; i >= 1; --i)
    fs::rename(base + "." + std::to_string(i), base + "." + std::to_string(i + 1), ec);
  fs::rename(file_, base + ".1", ec);
  ::close(fd_);
  fd_ = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  size_ = 0;
}

std::vector<fs::path> run_files(const fs::path& live_file) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (int i = 64; i >= 1; --i) {
    fs::path p = live_file.string() + "." + std::to_string(i);
    if (fs::exists(p, ec)) out.push_back(std::move(p));
  }
  if (fs::exists(live_file, ec)) out.push_back(live_file);
  return out;
}

std::optional<LogLine> parse_log_line(std::string_view line) {
  const size_t a = line.find(' ');
  if (a == std::string_view::npos) return std::nullopt;
  const size_t b = line.find(' ', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  const size_t c = line.find(' ', b + 1);
  LogLine out;
  out.time = std::string(line.substr(0, a));
  const std::string_view stream = line.substr(a + 1, b - a - 1);
  if (stream != "stdout" && stream != "stderr") return std::nullopt;
  out.stderr_stream = stream == "stderr";
  const std::string_view tag = line.substr(b + 1, c == std::string_view::npos ? 1 : c - b - 1);
  out.partial = tag == "P";
  out.text = c == std::string_view::npos ? std::string() : std::string(line.substr(c + 1));
  return out;
}

}  // namespace ticketctl::logs
