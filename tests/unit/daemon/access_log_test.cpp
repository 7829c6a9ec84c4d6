// The ingress access log: the line format (what nlohmann's dump() printed before, byte for
// byte), every line from many threads in the file after stop(), rotation by size, and a full
// disk or an unopenable file costing lines, never a blocked caller.

#include "runtime/daemon/access_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "runtime/manifest/json.h"
#include "tests/support/eventually.h"

namespace ticketctl::daemon {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path =
      fs::temp_directory_path() / ("ticketctl-access-log-" + std::to_string(::getpid()) + "-" +
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
  TempDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

ingress::AccessLogEntry entry(int i) {
  ingress::AccessLogEntry e;
  e.time = std::chrono::system_clock::time_point(std::chrono::seconds(1764759000 + i));
  e.client = "127.0.0.1";
  e.scheme = "http";
  e.host = "posts.com";
  e.method = "GET";
  e.path = "/posts/" + std::to_string(i);
  e.rule = "default/ingress-srv posts.com /posts";
  e.upstream = "127.80.0.7:4000";
  e.pod = "default/posts-depl-7d4f8-abcde";
  e.status = 200;
  e.bytes_in = 120 + static_cast<uint64_t>(i);
  e.bytes_out = 4567;
  e.duration_ms = 0.125 * i;
  e.request_id = "id-" + std::to_string(i);
  return e;
}

// The line as the ingress wrote it with nlohmann::ordered_json before.
std::string dumped(const ingress::AccessLogEntry& e, const std::string& time) {
  const Json line = {{"time", time},
                     {"client", e.client},
                     {"scheme", e.scheme},
                     {"host", e.host},
                     {"method", e.method},
                     {"path", e.path},
                     {"rule", e.rule},
                     {"upstream", e.upstream},
                     {"pod", e.pod},
                     {"status", e.status},
                     {"bytes_in", e.bytes_in},
                     {"bytes_out", e.bytes_out},
                     {"duration_ms", e.duration_ms},
                     {"request_id", e.request_id}};
  return line.dump() + "\n";
}

std::vector<std::string> lines_of(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(AccessLogLine, SameBytesAsTheJsonDump) {
  for (int i : {0, 1, 3, 1000}) {
    ingress::AccessLogEntry e = entry(i);
    if (i == 3) {
      e.path = "/q?a=\"x\"&b=\\y\t\x01\x1f/\xc3\xa9t\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80";
      e.duration_ms = 1e-7;
    }
    if (i == 1000) e.duration_ms = 12345.0;
    std::string line;
    append_access_log_line(line, e);
    const std::time_t t = std::chrono::system_clock::to_time_t(e.time);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char time[32];
    std::strftime(time, sizeof time, "%Y-%m-%dT%H:%M:%SZ", &tm);
    EXPECT_EQ(line, dumped(e, time));
  }
}

TEST(AccessLogLine, DurationsPrintAsTheJsonDumpDoes) {
  for (double d : {0.0, 1.0, 0.5, 0.001, 0.0001, 0.00001, 1e-7, 3.14159, 12.345678901, 1e15, 1e16,
                   123456789012345678.0, 2.5e-5, 1.0 / 3, 99.99, 5e300}) {
    ingress::AccessLogEntry e = entry(0);
    e.duration_ms = d;
    std::string line;
    append_access_log_line(line, e);
    EXPECT_EQ(line, dumped(e, "2025-12-03T10:50:00Z")) << d;
  }
}

TEST(AccessLogLine, InvalidUtf8BecomesReplacementCharacters) {
  ingress::AccessLogEntry e = entry(0);
  e.path = "/a\xff\xc3(\xed\xa0\x80z";  // stray byte, truncated sequence, a surrogate
  std::string line;
  append_access_log_line(line, e);
  const Json parsed = Json::parse(line);
  EXPECT_EQ(parsed["path"], "/a\xEF\xBF\xBD\xEF\xBF\xBD(\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDz");
}

TEST(AccessLog, EveryLineFromManyThreadsIsInTheFileAfterStop) {
  TempDir dir;
  AccessLogOptions opt;
  opt.file = dir.path / "access.log";
  opt.max_bytes = 1 << 30;  // one file: nothing rotated away
  AccessLog log(opt);
  log.start();
  constexpr int kThreads = 4, kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&log, t] {
      for (int i = 0; i < kPerThread; ++i) {
        ingress::AccessLogEntry e = entry(i);
        e.request_id = std::to_string(t) + "-" + std::to_string(i);
        log.write(e);
      }
    });
  }
  for (auto& t : threads) t.join();
  log.stop();
  const std::vector<std::string> lines = lines_of(opt.file);
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kThreads * kPerThread));
  std::set<std::string> ids;
  for (const std::string& line : lines) ids.insert(Json::parse(line)["request_id"]);
  EXPECT_EQ(ids.size(), lines.size());
  EXPECT_EQ(log.lines_dropped(), 0u);
}

TEST(AccessLog, RotatesBySizeKeepingMaxFiles) {
  TempDir dir;
  AccessLogOptions opt;
  opt.file = dir.path / "access.log";
  opt.max_bytes = 4096;
  opt.max_files = 3;
  opt.flush_interval = std::chrono::milliseconds(5);
  AccessLog log(opt);
  log.start();
  std::string one;
  append_access_log_line(one, entry(10));
  // Batches of a few lines, each written before the next, so every file stays under the limit.
  for (int round = 0; round < 20; ++round) {
    const auto before = fs::exists(opt.file) ? fs::file_size(opt.file) : 0;
    for (int i = 0; i < 5; ++i) log.write(entry(10 + i));
    ASSERT_TRUE(testing::eventually(
        [&] { return fs::exists(opt.file) && fs::file_size(opt.file) != before; },
        std::chrono::seconds(5)));
  }
  log.stop();
  EXPECT_TRUE(fs::exists(dir.path / "access.log.1"));
  EXPECT_TRUE(fs::exists(dir.path / "access.log.2"));
  EXPECT_FALSE(fs::exists(dir.path / "access.log.3"));
  for (const char* name : {"access.log", "access.log.1", "access.log.2"}) {
    EXPECT_LE(fs::file_size(dir.path / name), opt.max_bytes) << name;
    for (const std::string& line : lines_of(dir.path / name)) EXPECT_NO_THROW(Json::parse(line));
  }
}

TEST(AccessLog, FullDiskDropsLinesAndNeverBlocks) {
  TempDir dir;
  AccessLogOptions opt;
  opt.file = dir.path / "access.log";
  // Every write(2) fails with ENOSPC, as on a full disk.
  opt.open = [](const fs::path&) { return ::open("/dev/full", O_WRONLY | O_CLOEXEC); };
  opt.max_pending_bytes = 64 * 1024;
  AccessLog log(opt);
  log.start();
  for (int i = 0; i < 50000; ++i) log.write(entry(i));
  log.stop();
  EXPECT_EQ(log.lines_dropped(), 50000u);
}

TEST(AccessLog, UnopenableFileDropsLines) {
  TempDir dir;
  AccessLogOptions opt;
  opt.file = dir.path / "access.log";
  fs::create_directories(opt.file);  // a directory where the file should be
  AccessLog log(opt);
  log.start();
  for (int i = 0; i < 100; ++i) log.write(entry(i));
  log.stop();
  EXPECT_EQ(log.lines_dropped(), 100u);
}

}  // namespace
}  // namespace ticketctl::daemon
