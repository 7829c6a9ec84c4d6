#include "runtime/logs/pod_logs.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/eventually.h"
#include "tests/support/temp_dir.h"

namespace ticketctl::logs {
namespace {
namespace fs = std::filesystem;

// 2026-01-02T03:04:05Z
constexpr int64_t kT0 = 1767323045LL * 1'000'000'000;

std::string record(int second, const std::string& text, char tag = 'F') {
  return "2026-01-02T03:04:" + std::string(second < 10 ? "0" : "") + std::to_string(second) +
         ".000000001Z stdout " + tag + " " + text + "\n";
}

void append(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::app) << text;
}

Json pod(std::vector<std::string> containers, Json statuses = Json::array()) {
  Json c = Json::array();
  for (const std::string& name : containers) c.push_back({{"name", name}, {"image", "x"}});
  return {{"metadata", {{"name", "web"}, {"namespace", "default"}, {"uid", "u1"}}},
          {"spec", {{"containers", c}}},
          {"status", {{"containerStatuses", statuses}}}};
}

std::string read_all(const LogRun& run, const LogOptions& o, int64_t now = kT0) {
  LogReader reader(run, o, now);
  std::string out;
  reader.poll(out);
  EXPECT_TRUE(reader.finished());
  return out;
}

TEST(PodLogs, ParsesTheQueryAsTheApiServerDoes) {
  Result<LogOptions> o = parse_log_options({{"container", "api"},
                                            {"follow", "true"},
                                            {"previous", "1"},
                                            {"timestamps", "False"},
                                            {"tailLines", "20"},
                                            {"limitBytes", "100"},
                                            {"sinceTime", "2026-01-02T03:04:05Z"}});
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o.value().container, "api");
  EXPECT_TRUE(o.value().follow);
  EXPECT_TRUE(o.value().previous);
  EXPECT_FALSE(o.value().timestamps);
  EXPECT_EQ(o.value().tail_lines, 20);
  EXPECT_EQ(o.value().limit_bytes, 100);
  EXPECT_EQ(o.value().since_time_ns, kT0);

  EXPECT_EQ(parse_log_options({{"follow", "yes"}}).error().message,
            "follow: Invalid value: \"yes\": must be a boolean");
  EXPECT_EQ(parse_log_options({{"tailLines", "ten"}}).error().message,
            "tailLines: Invalid value: \"ten\": must be an integer");
  EXPECT_EQ(parse_log_options({{"sinceSeconds", "0"}}).error().message,
            "sinceSeconds: Invalid value: 0: must be greater than 0");
  EXPECT_EQ(parse_log_options({{"sinceSeconds", "5"}, {"sinceTime", "2026-01-02T03:04:05Z"}})
                .error()
                .message,
            "at most one of `sinceTime` or `sinceSeconds` may be specified");
}

class PodLogFiles : public ::testing::Test {
 protected:
  fs::path container_dir(const std::string& c) {
    const fs::path d = tmp_.path() / "default_web_u1" / c;
    fs::create_directories(d);
    return d;
  }
  ticketctl::testing::TempDir tmp_{"ticketctl-pod-logs"};
};

TEST_F(PodLogFiles, ChoosesTheContainerAndRunWithTheApiServersErrors) {
  const fs::path app = container_dir("app");
  append(app / "0.log", record(1, "first run"));
  append(app / "1.log.1", record(2, "second run, rotated"));
  append(app / "1.log", record(3, "second run"));

  Result<LogRun> only = choose_log_run(pod({"app"}), tmp_.path(), {});
  ASSERT_TRUE(only.ok()) << only.error().message;
  EXPECT_EQ(only.value().container, "app");
  EXPECT_EQ(only.value().live_file, app / "1.log");
  EXPECT_EQ(only.value().pid_file, app / "pid");
  EXPECT_TRUE(only.value().current);

  LogOptions previous;
  previous.previous = true;
  Result<LogRun> before = choose_log_run(pod({"app"}), tmp_.path(), previous);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before.value().live_file, app / "0.log");
  EXPECT_FALSE(before.value().current);

  EXPECT_EQ(choose_log_run(pod({"app", "sidecar"}), tmp_.path(), {}).error().message,
            "a container name must be specified for pod web, choose one of: [app sidecar]");
  LogOptions other;
  other.container = "db";
  EXPECT_EQ(choose_log_run(pod({"app"}), tmp_.path(), other).error().message,
            "container db is not valid for pod web");

  LogOptions sidecar;
  sidecar.container = "sidecar";
  const Json waiting = {{{"name", "sidecar"},
                         {"restartCount", 0},
                         {"state", {{"waiting", {{"reason", "ErrImageNotMapped"}}}}}}};
  EXPECT_EQ(choose_log_run(pod({"app", "sidecar"}, waiting), tmp_.path(), sidecar).error().message,
            "container \"sidecar\" in pod \"web\" is waiting to start: ErrImageNotMapped");
  EXPECT_EQ(choose_log_run(pod({"app", "sidecar"}), tmp_.path(), sidecar).error().message,
            "container \"sidecar\" in pod \"web\" is waiting to start: ContainerCreating");

  const fs::path once = container_dir("once");
  append(once / "0.log", record(1, "only run"));
  LogOptions once_previous;
  once_previous.container = "once";
  once_previous.previous = true;
  EXPECT_EQ(choose_log_run(pod({"once"}), tmp_.path(), once_previous).error().message,
            "previous terminated container \"once\" in pod \"web\" not found");
}

TEST_F(PodLogFiles, ReadsRotatedPiecesInOrderWithTailTimestampsSinceAndLimit) {
  const fs::path app = container_dir("app");
  append(app / "0.log.2", record(1, "one") + record(2, "two"));
  append(app / "0.log.1", record(3, "three"));
  append(app / "0.log", record(4, "four") + "not a CRI record\n" + record(5, "five"));
  const LogRun run = choose_log_run(pod({"app"}), tmp_.path(), {}).value();

  EXPECT_EQ(read_all(run, {}), "one\ntwo\nthree\nfour\nfive\n");

  LogOptions tail;
  tail.tail_lines = 4;  // reaches back into the rotated pieces
  EXPECT_EQ(read_all(run, tail), "two\nthree\nfour\nfive\n");
  tail.tail_lines = 0;
  EXPECT_EQ(read_all(run, tail), "");
  tail.tail_lines = 100;
  EXPECT_EQ(read_all(run, tail), "one\ntwo\nthree\nfour\nfive\n");
  tail.tail_lines = -1;
  EXPECT_EQ(read_all(run, tail), "one\ntwo\nthree\nfour\nfive\n");

  LogOptions stamped;
  stamped.timestamps = true;
  stamped.tail_lines = 1;
  EXPECT_EQ(read_all(run, stamped), "2026-01-02T03:04:05.000000001Z five\n");

  LogOptions since;
  since.since_time_ns = kT0 - 1'000'000'000;  // 03:04:04: the last two lines are after it
  EXPECT_EQ(read_all(run, since), "four\nfive\n");
  LogOptions since_seconds;
  since_seconds.since_seconds = 2;  // "now" is 03:04:05.000000000, so 03:04:03 onwards
  EXPECT_EQ(read_all(run, since_seconds, kT0), "three\nfour\nfive\n");

  LogOptions limit;
  limit.limit_bytes = 6;
  EXPECT_EQ(read_all(run, limit), "one\ntw");
}

TEST_F(PodLogFiles, JoinsPartialRecordsIntoOneLine) {
  const fs::path app = container_dir("app");
  append(app / "0.log", record(1, "short") + record(2, "long ", 'P') + record(2, "line ", 'P') +
                            record(3, "ends") + record(4, "last"));
  const LogRun run = choose_log_run(pod({"app"}), tmp_.path(), {}).value();
  EXPECT_EQ(read_all(run, {}), "short\nlong line ends\nlast\n");
  LogOptions tail;
  tail.tail_lines = 2;  // the long line counts once
  EXPECT_EQ(read_all(run, tail), "long line ends\nlast\n");
  LogOptions stamped;
  stamped.timestamps = true;
  stamped.tail_lines = 2;
  EXPECT_EQ(read_all(run, stamped),
            "2026-01-02T03:04:02.000000001Z long line ends\n"
            "2026-01-02T03:04:04.000000001Z last\n");
}

// Polls until `want` has arrived or the reader finished, with a deadline.
std::string poll_until(LogReader& reader, std::string& seen, const std::string& want) {
  testing::eventually(
      [&] {
        reader.poll(seen);
        return seen.find(want) != std::string::npos || reader.finished();
      },
      std::chrono::seconds(10), std::chrono::milliseconds(1));
  return seen;
}

TEST_F(PodLogFiles, FollowsAppendsAndRotationsUntilTheRunEnds) {
  const fs::path app = container_dir("app");
  append(app / "pid", "4242 1000\n");
  append(app / "0.log", record(1, "before"));
  LogOptions follow;
  follow.follow = true;
  LogReader reader(choose_log_run(pod({"app"}), tmp_.path(), follow).value(), follow, kT0);
  std::string seen;
  reader.poll(seen);
  EXPECT_EQ(seen, "before\n");
  EXPECT_FALSE(reader.finished());

  append(app / "0.log", record(2, "appended"));
  // The kubelet rotates: the live file becomes .1 and a fresh one begins.
  append(app / "0.log", record(3, "last of the old file"));
  fs::rename(app / "0.log", app / "0.log.1");
  append(app / "0.log", record(4, "first of the new file"));
  EXPECT_EQ(poll_until(reader, seen, "first of the new file"),
            "before\nappended\nlast of the old file\nfirst of the new file\n");
  EXPECT_FALSE(reader.finished());

  // The pid file goes before the kubelet drains the pipes: what comes just after is still read.
  fs::remove(app / "pid");
  append(app / "0.log", record(5, "drained after exit"));
  EXPECT_TRUE(testing::eventually(
      [&] {
        reader.poll(seen);
        return reader.finished();
      },
      std::chrono::seconds(10), std::chrono::milliseconds(1)));
  EXPECT_EQ(seen,
            "before\nappended\nlast of the old file\nfirst of the new file\ndrained after exit\n");
}

TEST_F(PodLogFiles, AFollowedRunEndsWhenTheNextRunBegins) {
  const fs::path app = container_dir("app");
  append(app / "pid", "4242 1000\n");
  append(app / "0.log", record(1, "run 0"));
  LogOptions follow;
  follow.follow = true;
  LogReader reader(choose_log_run(pod({"app"}), tmp_.path(), follow).value(), follow, kT0);
  std::string seen;
  reader.poll(seen);
  EXPECT_FALSE(reader.finished());
  // A restart between two polls: a new pid and the next run's file.
  fs::remove(app / "pid");
  append(app / "pid", "4343 2000\n");
  append(app / "1.log", record(2, "run 1"));
  reader.poll(seen);
  EXPECT_TRUE(reader.finished());
  EXPECT_EQ(seen, "run 0\n");
}

TEST_F(PodLogFiles, ThePreviousRunIsReadOnceEvenWhenFollowed) {
  const fs::path app = container_dir("app");
  append(app / "pid", "4242 1000\n");
  append(app / "0.log", record(1, "run 0"));
  append(app / "1.log", record(2, "run 1"));
  LogOptions o;
  o.follow = true;
  o.previous = true;
  EXPECT_EQ(read_all(choose_log_run(pod({"app"}), tmp_.path(), o).value(), o), "run 0\n");
}

TEST(PodDirName, KeepsShortNamesAndBoundsLongOnes) {
  const std::string uid = "0f8fad5b-d9cb-469f-a165-70867728950e";
  EXPECT_EQ(pod_dir_name("default", "web", uid), "default_web_" + uid);
  // Every valid name (a 253-character DNS subdomain, a 63-character namespace) fits in one file
  // name, and two long names that differ only at the end stay apart.
  const std::string ns(63, 'n');
  const std::string a = std::string(252, 'a') + "x", b = std::string(252, 'a') + "y";
  const std::string dir_a = pod_dir_name(ns, a, uid), dir_b = pod_dir_name(ns, b, uid);
  EXPECT_EQ(dir_a.size(), 255u);
  EXPECT_NE(dir_a, dir_b);
  EXPECT_EQ(dir_a.rfind(ns + "_aaaa", 0), 0u) << dir_a;
  EXPECT_EQ(dir_a.substr(dir_a.size() - uid.size() - 1), "_" + uid);
  // The run layout's readers split at the first and last '_': the cut name holds none.
  EXPECT_EQ(dir_a.find('_', ns.size() + 1), dir_a.size() - uid.size() - 1);
  EXPECT_EQ(pod_dir_name(ns, a, uid), dir_a);  // the same every time
}

}  // namespace
}  // namespace ticketctl::logs
