#pragma once
// The ingress access log: one JSON object per line per request, written off the I/O threads.
//
// write() is called on the proxy's I/O threads for every request. It formats the line into a
// buffer of the calling thread's own (no allocation once the buffers have grown, no syscall, no
// lock another I/O thread takes: each thread's buffer has a mutex only the writer thread also
// takes, to swap it for an empty one). The writer thread wakes every 200 ms, or sooner when a
// buffer passes 64 KiB, and writes each batch with one write(2). The file rotates by size:
// <file> → <file>.1 → ... → <file>.<max_files-1>, oldest dropped.
//
// Failures never reach a request: when the file cannot be opened or written (full disk,
// removed directory) the batch is dropped and counted, the next batch tries again (reopening
// the file at most once a second), and one line on stderr says what happened. A thread whose
// buffer holds more than max_pending_bytes (the writer is stuck) drops lines rather than grow.
// stop() writes everything buffered, so a clean shutdown loses nothing.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/ingress/proxy.h"

namespace ticketctl::daemon {

struct AccessLogOptions {
  std::filesystem::path file;
  uint64_t max_bytes = 10 << 20;            // rotate when the live file would pass this
  int max_files = 5;                        // the live file and up to 4 rotated ones
  std::size_t max_pending_bytes = 8 << 20;  // per I/O thread, while the writer is behind
  std::chrono::milliseconds flush_interval{200};
  // Opens the file for appending: open_private_append unless a test substitutes, e.g., an
  // opener of /dev/full to see a full disk. -1 and errno on failure.
  std::function<int(const std::filesystem::path&)> open;
};

// Appends the access log line of `e` to `out`, newline included: the fields in the order
// time, client, scheme, host, method, path, rule, upstream, pod, status, bytes_in, bytes_out,
// duration_ms, request_id; strings JSON-escaped, invalid UTF-8 replaced by U+FFFD.
void append_access_log_line(std::string& out, const ingress::AccessLogEntry& e);

class AccessLog {
 public:
  explicit AccessLog(AccessLogOptions options);
  ~AccessLog();  // stop()s
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Opens the file (a failure is reported on stderr and retried later, never returned: the
  // ingress serves without its log) and starts the writer thread.
  void start();
  // Any thread, never blocks on I/O. Lines written before stop() returns are in the file
  // unless it could not be written.
  void write(const ingress::AccessLogEntry& e);
  // Writes what is buffered, closes the file, joins the writer. Idempotent.
  void stop();

  uint64_t lines_dropped() const { return dropped_.load(std::memory_order_relaxed); }

  struct Shard;

 private:
  Shard& shard();
  void writer_loop();
  void flush_shards();
  void write_batch(std::string& batch);
  bool ensure_open();
  void rotate();
  void report(const std::string& what, int err);

  AccessLogOptions opt_;
  const uint64_t id_;     // tells this log's per-thread shards from an earlier log's
  std::mutex shards_mu_;  // taken once per thread, when it first logs
  std::vector<std::unique_ptr<Shard>> shards_;
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool wake_ = false;
  std::atomic<bool> stopping_{false};
  std::thread writer_;
  std::atomic<uint64_t> dropped_{0};
  // Writer thread only:
  int fd_ = -1;
  uint64_t size_ = 0;
  std::chrono::steady_clock::time_point next_open_{};
  int last_errno_ = 0;
  std::string spare_;
};

}  // namespace ticketctl::daemon
