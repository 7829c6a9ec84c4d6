#include "runtime/core/rfc3339.h"

#include <gtest/gtest.h>

#include <regex>
#include <thread>

namespace ticketctl::rfc3339 {
namespace {

constexpr int64_t kT0 = 1767323045;  // 2026-01-02T03:04:05Z

TEST(Rfc3339, ParsesWholeSecondsFractionsAndOffsets) {
  EXPECT_EQ(parse("2026-01-02T03:04:05Z"), (Time{kT0, 0}));
  EXPECT_EQ(parse("2026-01-02T03:04:05.5Z"), (Time{kT0, 500'000'000}));
  EXPECT_EQ(parse("2026-01-02T03:04:05.000001Z"), (Time{kT0, 1000}));
  EXPECT_EQ(parse("2026-01-02T03:04:05.123456789Z"), (Time{kT0, 123'456'789}));
  // Go keeps nanoseconds and ignores digits past them.
  EXPECT_EQ(parse("2026-01-02T03:04:05.1234567899Z"), (Time{kT0, 123'456'789}));
  EXPECT_EQ(parse("2026-01-02T04:04:05+01:00"), (Time{kT0, 0}));
  EXPECT_EQ(parse("2026-01-01T21:34:05.25-05:30"), (Time{kT0, 250'000'000}));
  EXPECT_EQ(parse("1970-01-01T00:00:00Z"), (Time{0, 0}));
  EXPECT_EQ(parse("0001-01-01T00:00:00Z"), kGoZeroTime);
  EXPECT_EQ(parse("2024-02-29T00:00:00Z"), (Time{1709164800, 0}));
}

TEST(Rfc3339, RejectsMalformedText) {
  for (const char* bad : {"",
                          "yesterday",
                          "2026-01-02",
                          "2026-01-02 03:04:05Z",
                          "2026-01-02T03:04:05",
                          "2026-01-02t03:04:05Z",
                          "2026-01-02T03:04:05z",
                          "2026-02-30T03:04:05Z",
                          "2025-02-29T00:00:00Z",
                          "2026-13-01T00:00:00Z",
                          "2026-01-02T24:00:00Z",
                          "2026-01-02T03:60:00Z",
                          "2026-01-02T03:04:60Z",
                          "2026-01-02T03:04:05.Z",
                          "2026-01-02T03:04:05Zjunk",
                          "2026-01-02T03:04:05+0100",
                          "2026-01-02T03:04:05+24:00",
                          "2026-01-02T03:04:05+01:60",
                          "2026-01-02T03:04:05+01:00:00",
                          "26-01-02T03:04:05Z",
                          "+2026-01-02T03:04:05Z",
                          "2026-1-02T03:04:05Z",
                          "2026-01-02T03:04:5Z"}) {
    EXPECT_FALSE(parse(bad)) << bad;
    EXPECT_FALSE(parse_nanos(bad)) << bad;
  }
}

TEST(Rfc3339, NanosecondsOnlyWithinInt64) {
  EXPECT_EQ(parse_nanos("2026-01-02T03:04:05.123456789Z"), kT0 * 1'000'000'000 + 123'456'789);
  EXPECT_EQ(parse_nanos("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_nanos("1969-12-31T23:59:59.5Z"), -500'000'000);
  EXPECT_EQ(parse_nanos("2262-04-11T23:47:16.854775807Z"), INT64_MAX);
  EXPECT_FALSE(parse_nanos("2262-04-11T23:47:16.854775808Z"));
  EXPECT_FALSE(parse_nanos("0001-01-01T00:00:00Z"));
  EXPECT_TRUE(parse("0001-01-01T00:00:00Z"));  // still a time, just not in int64 nanoseconds
}

TEST(Rfc3339, FormatsTheThreeShapes) {
  const Time t{kT0, 123'456'789};
  EXPECT_EQ(format_seconds(t.seconds), "2026-01-02T03:04:05Z");
  EXPECT_EQ(format_micro(t), "2026-01-02T03:04:05.123456Z");
  EXPECT_EQ(format_nano(t), "2026-01-02T03:04:05.123456789Z");
  EXPECT_EQ(format_micro({kT0, 0}), "2026-01-02T03:04:05.000000Z");
  EXPECT_EQ(format_nano({kT0, 5}), "2026-01-02T03:04:05.000000005Z");
  // The whole range Go's protobuf Timestamp allows, before the epoch included.
  EXPECT_EQ(format_seconds(kGoZeroTime.seconds), "0001-01-01T00:00:00Z");
  EXPECT_EQ(format_seconds(253402300799), "9999-12-31T23:59:59Z");
  EXPECT_EQ(format_seconds(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(format_seconds(951782400), "2000-02-29T00:00:00Z");
}

TEST(Rfc3339, FormattedTimesParseBack) {
  for (const Time t : {Time{kT0, 123'456'789}, Time{-1, 999'999'999}, Time{0, 1}}) {
    EXPECT_EQ(parse(format_nano(t)), t);
    EXPECT_EQ(parse(format_micro(t)), (Time{t.seconds, t.nanos / 1000 * 1000}));
    EXPECT_EQ(parse(format_seconds(t.seconds)), (Time{t.seconds, 0}));
  }
}

TEST(Rfc3339, NowVariantsHaveTheirShapesAndAgree) {
  const Time before = now();
  const std::optional<Time> secs = parse(now_seconds());
  const std::optional<Time> micro = parse(now_micro());
  const std::optional<Time> nano = parse(now_nano());
  const std::optional<Time> local = parse(now_local());
  const std::optional<Time> later = parse(seconds_after(std::chrono::seconds(30)));
  const Time after = now();  // after every reading, or a second's tick in between fails the test
  ASSERT_TRUE(secs && micro && nano && local && later);
  EXPECT_TRUE(std::regex_match(now_seconds(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  EXPECT_TRUE(std::regex_match(now_micro(), std::regex(R"(.*T\d\d:\d\d:\d\d\.\d{6}Z)")));
  EXPECT_TRUE(std::regex_match(now_nano(), std::regex(R"(.*T\d\d:\d\d:\d\d\.\d{9}Z)")));
  for (const Time t : {*secs, *local}) {
    EXPECT_GE(t.seconds, before.seconds);
    EXPECT_LE(t.seconds, after.seconds);
  }
  EXPECT_LE(before, *nano);
  EXPECT_LE(*nano, after);
  EXPECT_GE(later->seconds, before.seconds + 30);
  EXPECT_LE(later->seconds, after.seconds + 30);
}

// glibc's time() reads the coarse clock, a tick behind CLOCK_REALTIME, so a local stamp built
// from it fell a second behind now() just after each second's edge. Spin across one edge.
TEST(Rfc3339, NowLocalNeverTrailsNowAcrossASecondsEdge) {
  const Time start = now();
  const int64_t to_edge = 1'000'000'000 - start.nanos;
  if (to_edge > 10'000'000)
    std::this_thread::sleep_for(std::chrono::nanoseconds(to_edge - 10'000'000));
  const Time until{start.seconds + 1, 20'000'000};
  size_t readings = 0;
  for (Time before = now(); before < until; before = now(), ++readings) {
    const std::optional<Time> local = parse(now_local());
    ASSERT_TRUE(local);
    ASSERT_GE(local->seconds, before.seconds) << "after " << readings << " readings";
  }
  EXPECT_GT(readings, 0u);
}

TEST(Rfc3339, ConvertsToAndFromTimePoints) {
  const Time t{kT0, 123'456'789};
  EXPECT_EQ(Time::from(t.time_point()), (Time{kT0, 123'456'789}));
  EXPECT_EQ(Time::from(std::chrono::system_clock::time_point{} - std::chrono::milliseconds(1)),
            (Time{-1, 999'000'000}));
}

}  // namespace
}  // namespace ticketctl::rfc3339
