#pragma once
// RFC 3339 times as Kubernetes writes and reads them, in one place: parsed as Go's
// time.Parse(time.RFC3339, s) parses metav1.Time and metav1.MicroTime (fractions of any length,
// "Z" or a ±hh:mm offset), and written in the three shapes the API and the kubelet use.
// Pure functions apart from the *_now variants, which read the wall clock; any thread.

#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ticketctl::rfc3339 {

// A point in time as Go's time.Time keeps it: whole seconds since the epoch plus nanoseconds
// (0..999'999'999). Nanoseconds alone in 64 bits reach only the years 1677 to 2262, and
// kubectl reads every year RFC 3339 can spell (Go's zero time is year 1).
struct Time {
  int64_t seconds = 0;
  int64_t nanos = 0;
  auto operator<=>(const Time&) const = default;

  // Nanoseconds since the epoch; nullopt outside int64's range.
  std::optional<int64_t> unix_nanos() const;
  std::chrono::system_clock::time_point time_point() const;
  static Time from(std::chrono::system_clock::time_point at);
};

// 0001-01-01T00:00:00Z, Go's zero time.Time, which kubectl treats as unset.
inline constexpr Time kGoZeroTime{-62135596800, 0};

// "YYYY-MM-DDTHH:MM:SS[.fraction](Z|±hh:mm)"; nullopt for anything else (lower-case 't'/'z',
// second 60, a day the month does not have, trailing text, an empty fraction).
std::optional<Time> parse(std::string_view text);
// The same, as nanoseconds since the epoch; nullopt also outside int64's range.
std::optional<int64_t> parse_nanos(std::string_view text);

// metav1.Time: "2006-01-02T15:04:05Z", fractions dropped.
std::string format_seconds(int64_t unix_seconds);
// metav1.MicroTime: "2006-01-02T15:04:05.000000Z".
std::string format_micro(Time t);
// CRI log lines and sinceTime: "2006-01-02T15:04:05.000000000Z".
std::string format_nano(Time t);

Time now();
std::string now_seconds();
// metav1.Time `from_now` from now, e.g. a deletionTimestamp after the grace period.
std::string seconds_after(std::chrono::seconds from_now);
std::string now_micro();
std::string now_nano();
// Local time with its offset ("2006-01-02T15:04:05+01:00", "Z" in UTC), as kubectl writes
// kubectl.kubernetes.io/restartedAt.
std::string now_local();

}  // namespace ticketctl::rfc3339
