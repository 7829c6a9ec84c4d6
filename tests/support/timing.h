#pragma once
// Time bounds in tests are claims about speed, and they are the Release pass's. Under the
// sanitizers every allocation and access is checked and LeakSanitizer scans memory at exit, so
// code runs several times slower, and CI runs tests two at a time on two cores. There a bound
// only has to show that the work ends (linear, not quadratic; bounded, not hung), so it is
// stretched by kSanitizerSlowdown.

namespace ticketctl::testing {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr int kSanitizerSlowdown = 5;
#else
inline constexpr int kSanitizerSlowdown = 1;
#endif

// `bound` in the Release pass, kSanitizerSlowdown times it under the sanitizers.
template <class Duration>
constexpr Duration time_bound(Duration bound) {
  return bound * kSanitizerSlowdown;
}

}  // namespace ticketctl::testing
