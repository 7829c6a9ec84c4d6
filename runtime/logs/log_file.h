#pragma once
// Container logs as the kubelet keeps them: one file per run of a container in CRI format,
// `<RFC3339Nano> stdout|stderr F|P <line>` ("P" marks a piece of a line longer than 16 KiB).
//   <root>/<ns>_<pod>_<uid>/<container>/<restartCount>.log
// Rotation: when a run's file passes `max_bytes` it is renamed to `<n>.log.1` (older pieces
// shift up to `max_files - 1`) and a fresh file begins, so a chatty pod cannot fill the disk.
// A LogFile is owned by the supervisor thread; the reader functions are for any thread.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ticketctl::logs {

class LogFile {
 public:
  LogFile(std::filesystem::path file, uint64_t max_bytes, int max_files);
  ~LogFile();
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;
  // Appends the bytes a stream produced; complete lines are written at once, a trailing partial
  // line waits for its end (or for flush()).
  void write(bool stderr_stream, std::string_view bytes);
  // Writes out partial lines, e.g. when the process has exited.
  void flush();
  const std::filesystem::path& path() const { return file_; }

 private:
  void append(bool stderr_stream, std::string_view bytes);
  void emit(bool stderr_stream, std::string_view line, bool partial);  // into out_
  void commit();                                                       // out_ to the file
  void rotate();

  std::filesystem::path file_;
  uint64_t max_bytes_;
  int max_files_;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string pending_[2];  // unterminated line per stream
  std::string out_;         // formatted lines not yet written
  std::string stamp_;       // the timestamp of the read being formatted
};

// One parsed CRI log line.
struct LogLine {
  std::string time;  // RFC3339Nano
  bool stderr_stream = false;
  bool partial = false;
  std::string text;
};
std::optional<LogLine> parse_log_line(std::string_view line);

// The files of one run, oldest first (rotated pieces, then the live file).
std::vector<std::filesystem::path> run_files(const std::filesystem::path& live_file);

}  // namespace ticketctl::logs
