#include "runtime/logs/log_file.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/temp_dir.h"

namespace ticketctl::logs {
namespace {

std::vector<LogLine> read_all(const std::filesystem::path& file) {
  std::vector<LogLine> out;
  for (const auto& f : run_files(file)) {
    std::ifstream in(f);
    for (std::string line; std::getline(in, line);) {
      auto parsed = parse_log_line(line);
      EXPECT_TRUE(parsed) << line;
      if (parsed) out.push_back(*parsed);
    }
  }
  return out;
}

TEST(LogFile, WritesCriLinesPerStreamAndJoinsPiecesOfALine) {
  testing::TempDir dir("logfile");
  const auto file = dir.path() / "c" / "0.log";
  {
    LogFile log(file, 0, 1);
    log.write(false, "hel");
    log.write(true, "oops\n");
    log.write(false, "lo\r\nworld\n");
    log.write(false, "no newline at exit");
  }
  const auto lines = read_all(file);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_TRUE(lines[0].stderr_stream);
  EXPECT_EQ(lines[0].text, "oops");
  EXPECT_EQ(lines[1].text, "hello");
  EXPECT_EQ(lines[2].text, "world");
  EXPECT_EQ(lines[3].text, "no newline at exit");
  EXPECT_FALSE(lines[3].partial);
  EXPECT_EQ(lines[1].time.size(), std::string("2026-11-25T22:06:16.123456789Z").size());
}

TEST(LogFile, RotatesBySizeKeepingOrderAndNoLineLost) {
  testing::TempDir dir("logfile");
  const auto file = dir.path() / "0.log";
  {
    LogFile log(file, 4096, 3);
    for (int i = 0; i < 1000; ++i) log.write(false, "line " + std::to_string(i) + "\n");
  }
  const auto files = run_files(file);
  EXPECT_EQ(files.size(), 3u);  // the live file and two rotated pieces: older ones are dropped
  const auto lines = read_all(file);
  ASSERT_FALSE(lines.empty());
  // What is kept is the newest, contiguous, ending with the last line written.
  EXPECT_EQ(lines.back().text, "line 999");
  const int first = std::stoi(lines.front().text.substr(5));
  for (size_t i = 0; i < lines.size(); ++i)
    EXPECT_EQ(lines[i].text, "line " + std::to_string(first + static_cast<int>(i)));
}

TEST(LogFile, VeryLongLinesAreSplitIntoPartials) {
  testing::TempDir dir("logfile");
  const auto file = dir.path() / "0.log";
  {
    LogFile log(file, 0, 1);
    log.write(false, std::string(40000, 'x') + "\n");
  }
  const auto lines = read_all(file);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(lines[0].partial);
  EXPECT_TRUE(lines[1].partial);
  EXPECT_FALSE(lines[2].partial);
  EXPECT_EQ(lines[0].text.size() + lines[1].text.size() + lines[2].text.size(), 40000u);
}

}  // namespace
}  // namespace ticketctl::logs
