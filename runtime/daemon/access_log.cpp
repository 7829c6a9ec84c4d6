#include "runtime/daemon/access_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "runtime/core/files.h"
#include "runtime/core/oplog.h"
#include "runtime/core/rfc3339.h"

namespace ticketctl::daemon {
namespace {

constexpr std::size_t kWakeBytes = 64 * 1024;  // a buffer this full wakes the writer early

void append_escaped(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20) {
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 15];
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    // A multi-byte UTF-8 sequence is copied when well-formed (no overlong forms, no
    // surrogates, nothing past U+10FFFF); anything else becomes U+FFFD, one per bad byte.
    std::size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    }
    bool ok = len > 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      ok = (cc & 0xC0) == 0x80;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (ok) {
      ok = !(len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) &&
           !(len == 4 && (cp < 0x10000 || cp > 0x10FFFF));
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  out += '"';
}

void append_key(std::string& out, std::string_view key) {
  out += key;  // keys are literals below: `,"name":`
}

void append_uint(std::string& out, uint64_t v) {
  char tmp[24];
  const auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
  out.append(tmp, r.ptr);
}

// A double as nlohmann's dump() prints it: the shortest digits that read back as the same
// value, fixed notation for decimal exponents -4 < n <= 15 (with ".0" when integral), else
// d.ddde+XX.
void append_double(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  if (v == 0) {
    out += std::signbit(v) ? "-0.0" : "0.0";
    return;
  }
  if (v < 0) {
    out += '-';
    v = -v;
  }
  char sci[40];
  const auto r = std::to_chars(sci, sci + sizeof sci, v, std::chars_format::scientific);
  const std::string_view text(sci, static_cast<std::size_t>(r.ptr - sci));
  const std::size_t e_at = text.find('e');
  char digits[20];
  int k = 0;  // number of significant digits
  for (char c : text.substr(0, e_at))
    if (c != '.') digits[k++] = c;
  int exp10 = 0;
  std::from_chars(text.data() + e_at + (text[e_at + 1] == '+' ? 2 : 1), text.data() + text.size(),
                  exp10);
  const int n = exp10 + 1;  // v = 0.d1d2...dk * 10^n
  if (k <= n && n <= 15) {
    out.append(digits, static_cast<std::size_t>(k));
    out.append(static_cast<std::size_t>(n - k), '0');
    out += ".0";
  } else if (0 < n && n <= 15) {
    out.append(digits, static_cast<std::size_t>(n));
    out += '.';
    out.append(digits + n, static_cast<std::size_t>(k - n));
  } else if (-4 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out.append(digits, static_cast<std::size_t>(k));
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out.append(digits + 1, static_cast<std::size_t>(k - 1));
    }
    out += 'e';
    const int e = n - 1;
    out += e < 0 ? '-' : '+';
    const int a = e < 0 ? -e : e;
    if (a < 10) out += '0';
    append_uint(out, static_cast<uint64_t>(a));
  }
}

// "2026-12-03T11:08:47Z"; the text changes once a second, so each thread keeps its last one.
void append_time(std::string& out, std::chrono::system_clock::time_point t) {
  thread_local std::time_t cached_second = -1;
  thread_local std::string cached;
  const std::time_t s = std::chrono::system_clock::to_time_t(t);
  if (s != cached_second) {
    cached = rfc3339::format_seconds(s);
    cached_second = s;
  }
  out += '"';
  out += cached;
  out += '"';
}

std::atomic<uint64_t> next_log_id{1};

}  // namespace

void append_access_log_line(std::string& out, const ingress::AccessLogEntry& e) {
  append_key(out, "{\"time\":");
  append_time(out, e.time);
  append_key(out, ",\"client\":");
  append_escaped(out, e.client);
  append_key(out, ",\"scheme\":");
  append_escaped(out, e.scheme);
  append_key(out, ",\"host\":");
  append_escaped(out, e.host);
  append_key(out, ",\"method\":");
  append_escaped(out, e.method);
  append_key(out, ",\"path\":");
  append_escaped(out, e.path);
  append_key(out, ",\"rule\":");
  append_escaped(out, e.rule);
  append_key(out, ",\"upstream\":");
  append_escaped(out, e.upstream);
  append_key(out, ",\"pod\":");
  append_escaped(out, e.pod);
  append_key(out, ",\"status\":");
  append_uint(out, static_cast<uint64_t>(e.status > 0 ? e.status : 0));
  append_key(out, ",\"bytes_in\":");
  append_uint(out, e.bytes_in);
  append_key(out, ",\"bytes_out\":");
  append_uint(out, e.bytes_out);
  append_key(out, ",\"duration_ms\":");
  append_double(out, e.duration_ms);
  append_key(out, ",\"request_id\":");
  append_escaped(out, e.request_id);
  out += "}\n";
}

// One I/O thread's lines not yet written. `mu` is shared by that thread and the writer only.
struct AccessLog::Shard {
  std::mutex mu;
  std::string lines;
};

AccessLog::AccessLog(AccessLogOptions options)
    : opt_(std::move(options)), id_(next_log_id.fetch_add(1, std::memory_order_relaxed)) {
  if (!opt_.open) opt_.open = [](const std::filesystem::path& f) { return open_private_append(f); };
  if (opt_.max_files < 1) opt_.max_files = 1;
}

AccessLog::~AccessLog() {
  stop();
}

void AccessLog::start() {
  if (writer_.joinable()) return;
  stopping_ = false;
  ensure_open();
  writer_ = std::thread([this] { writer_loop(); });
}

AccessLog::Shard& AccessLog::shard() {
  // Per thread: which log the cached shard belongs to (logs come and go in tests).
  thread_local uint64_t owner = 0;
  thread_local Shard* cached = nullptr;
  if (owner == id_ && cached) return *cached;
  std::lock_guard lock(shards_mu_);
  shards_.push_back(std::make_unique<Shard>());
  owner = id_;
  cached = shards_.back().get();
  return *cached;
}

void AccessLog::write(const ingress::AccessLogEntry& e) {
  thread_local std::string line;
  line.clear();
  append_access_log_line(line, e);
  Shard& s = shard();
  bool wake = false;
  {
    std::lock_guard lock(s.mu);
    if (s.lines.size() + line.size() > opt_.max_pending_bytes) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const std::size_t before = s.lines.size();
    s.lines += line;
    wake = before < kWakeBytes && s.lines.size() >= kWakeBytes;
  }
  if (wake) {
    {
      std::lock_guard lock(wake_mu_);
      wake_ = true;
    }
    wake_cv_.notify_one();
  }
}

void AccessLog::writer_loop() {
  for (;;) {
    {
      std::unique_lock lock(wake_mu_);
      wake_cv_.wait_for(lock, opt_.flush_interval,
                        [this] { return wake_ || stopping_.load(std::memory_order_relaxed); });
      wake_ = false;
    }
    const bool last = stopping_.load(std::memory_order_acquire);
    flush_shards();
    if (last) break;
  }
}

void AccessLog::flush_shards() {
  std::vector<Shard*> shards;
  {
    std::lock_guard lock(shards_mu_);
    for (auto& s : shards_) shards.push_back(s.get());
  }
  for (Shard* s : shards) {
    {
      std::lock_guard lock(s->mu);
      if (s->lines.empty()) continue;
      // The thread keeps the writer's emptied buffer (and its capacity) for its next lines.
      spare_.clear();
      s->lines.swap(spare_);
    }
    write_batch(spare_);
  }
}

bool AccessLog::ensure_open() {
  if (fd_ >= 0) return true;
  const auto now = std::chrono::steady_clock::now();
  if (now < next_open_) return false;
  next_open_ = now + std::chrono::seconds(1);
  fd_ = opt_.open(opt_.file);
  if (fd_ < 0) {
    report("cannot open " + opt_.file.string(), errno);
    return false;
  }
  struct stat st {};
  size_ = ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0;
  return true;
}

void AccessLog::rotate() {
  ::close(fd_);
  fd_ = -1;
  const std::string base = opt_.file.string();
  std::error_code ec;
  if (opt_.max_files == 1) {
    std::filesystem::remove(opt_.file, ec);
  } else {
    for (int n = opt_.max_files - 1; n >= 1; --n) {
      const std::string from = n == 1 ? base : base + "." + std::to_string(n - 1);
      std::filesystem::rename(from, base + "." + std::to_string(n), ec);
    }
  }
  next_open_ = {};
  ensure_open();
}

void AccessLog::write_batch(std::string& batch) {
  if (fd_ >= 0 && size_ > 0 && size_ + batch.size() > opt_.max_bytes) rotate();
  std::size_t done = 0;
  if (ensure_open()) {
    while (done < batch.size()) {
      const ssize_t n = ::write(fd_, batch.data() + done, batch.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        report("cannot write " + opt_.file.string(), n < 0 ? errno : EIO);
        // Reopen later: the file may have been removed or its file system remounted.
        ::close(fd_);
        fd_ = -1;
        break;
      }
      done += static_cast<std::size_t>(n);
      size_ += static_cast<uint64_t>(n);
    }
  }
  if (done == batch.size()) {
    if (last_errno_ != 0) {
      oplog::info("ingress", "access log: writing {} again", opt_.file.string());
      last_errno_ = 0;
    }
    return;
  }
  // The lines not (wholly) written are dropped.
  uint64_t lost = 0;
  for (char c : std::string_view(batch).substr(done)) lost += c == '\n';
  dropped_.fetch_add(lost, std::memory_order_relaxed);
}

void AccessLog::report(const std::string& what, int err) {
  if (err == last_errno_) return;  // once per kind of failure, not once per batch
  last_errno_ = err;
  oplog::warn("ingress", "access log: {}: {}; lines are dropped until it works again", what,
              std::strerror(err));
}

void AccessLog::stop() {
  if (!writer_.joinable()) return;
  {
    std::lock_guard lock(wake_mu_);
    stopping_.store(true, std::memory_order_release);
  }
  wake_cv_.notify_one();
  writer_.join();
  flush_shards();  // lines logged while the writer was finishing
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace ticketctl::daemon
