#include "runtime/core/rfc3339.h"

#include <fmt/format.h>

#include <ctime>
#include <limits>

namespace ticketctl::rfc3339 {
namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;

bool digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Fractional seconds after the '.', as Go reads them: any number of digits, nanoseconds kept.
bool fraction(std::string_view s, size_t* pos, int64_t* nanos) {
  const size_t start = *pos;
  int64_t scale = 100'000'000;
  for (; *pos < s.size() && s[*pos] >= '0' && s[*pos] <= '9'; ++*pos) {
    *nanos += (s[*pos] - '0') * scale;
    scale /= 10;
  }
  return *pos > start;
}

// "Z" or "+hh:mm"/"-hh:mm", as seconds east of UTC.
bool zone(std::string_view s, size_t* pos, int64_t* offset) {
  if (*pos < s.size() && s[*pos] == 'Z') {
    ++*pos;
    return true;
  }
  int h = 0, m = 0;
  if (*pos >= s.size() || (s[*pos] != '+' && s[*pos] != '-') || !digits(s, *pos + 1, 2, &h) ||
      *pos + 3 >= s.size() || s[*pos + 3] != ':' || !digits(s, *pos + 4, 2, &m) || h > 23 || m > 59)
    return false;
  *offset = (s[*pos] == '-' ? -1 : 1) * (h * 3600 + m * 60);
  *pos += 6;
  return true;
}

struct Civil {
  int64_t year, month, day, hour, minute, second;
};

Civil civil(int64_t unix_seconds) {
  const auto days = std::chrono::floor<std::chrono::days>(
      std::chrono::sys_seconds{std::chrono::seconds{unix_seconds}});
  const std::chrono::year_month_day date{days};
  const int64_t rem = unix_seconds - days.time_since_epoch().count() * 86400;
  return {static_cast<int>(date.year()),
          static_cast<unsigned>(date.month()),
          static_cast<unsigned>(date.day()),
          rem / 3600,
          rem / 60 % 60,
          rem % 60};
}

}  // namespace

std::optional<int64_t> Time::unix_nanos() const {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  if (seconds > (kMax - nanos) / kNanosPerSecond || seconds < kMin / kNanosPerSecond)
    return std::nullopt;
  return seconds * kNanosPerSecond + nanos;
}

std::chrono::system_clock::time_point Time::time_point() const {
  return std::chrono::system_clock::time_point{
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds{seconds} + std::chrono::nanoseconds{nanos})};
}

Time Time::from(std::chrono::system_clock::time_point at) {
  const auto since = at.time_since_epoch();
  const auto whole = std::chrono::floor<std::chrono::seconds>(since);
  return {whole.count(),
          std::chrono::duration_cast<std::chrono::nanoseconds>(since - whole).count()};
}

std::optional<Time> parse(std::string_view s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!digits(s, 0, 4, &y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, &mo) ||
      s[7] != '-' || !digits(s, 8, 2, &d) || s[10] != 'T' || !digits(s, 11, 2, &h) ||
      s[13] != ':' || !digits(s, 14, 2, &mi) || s[16] != ':' || !digits(s, 17, 2, &sec))
    return std::nullopt;
  size_t pos = 19;
  int64_t nanos = 0, offset = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    if (!fraction(s, &pos, &nanos)) return std::nullopt;
  }
  if (!zone(s, &pos, &offset) || pos != s.size()) return std::nullopt;
  if (h > 23 || mi > 59 || sec > 59) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year{y},
                                         std::chrono::month{static_cast<unsigned>(mo)},
                                         std::chrono::day{static_cast<unsigned>(d)}};
  if (!date.ok()) return std::nullopt;
  const int64_t days = std::chrono::sys_days{date}.time_since_epoch().count();
  return Time{days * 86400 + h * 3600 + mi * 60 + sec - offset, nanos};
}

std::optional<int64_t> parse_nanos(std::string_view text) {
  const std::optional<Time> t = parse(text);
  return t ? t->unix_nanos() : std::nullopt;
}

std::string format_seconds(int64_t unix_seconds) {
  const Civil c = civil(unix_seconds);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", c.year, c.month, c.day, c.hour,
                     c.minute, c.second);
}

std::string format_micro(Time t) {
  const Civil c = civil(t.seconds);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", c.year, c.month, c.day, c.hour,
                     c.minute, c.second, t.nanos / 1000);
}

std::string format_nano(Time t) {
  const Civil c = civil(t.seconds);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", c.year, c.month, c.day, c.hour,
                     c.minute, c.second, t.nanos);
}

Time now() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return {ts.tv_sec, ts.tv_nsec};
}

std::string now_seconds() {
  return format_seconds(now().seconds);
}

std::string seconds_after(std::chrono::seconds from_now) {
  return format_seconds(now().seconds + from_now.count());
}

std::string now_micro() {
  return format_micro(now());
}

std::string now_nano() {
  return format_nano(now());
}

std::string now_local() {
  // now(), not std::time(): glibc's time() reads the coarse clock, which lags CLOCK_REALTIME by
  // up to a tick, so near a second's edge the local stamp would fall a second behind the others.
  const std::time_t t = static_cast<std::time_t>(now().seconds);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  const long offset = tm.tm_gmtoff / 60;
  if (offset == 0) return std::string(buf) + "Z";
  return fmt::format("{}{}{:02}:{:02}", buf, offset < 0 ? '-' : '+', std::labs(offset) / 60,
                     std::labs(offset) % 60);
}

}  // namespace ticketctl::rfc3339
