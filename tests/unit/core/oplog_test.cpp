// The operator log: lines with time, level and component in a private file that rotates by
// size, and rate-limited messages that are held back, counted and said again, never silenced.

#include "runtime/core/oplog.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/eventually.h"
#include "tests/support/temp_dir.h"

namespace ticketctl::oplog {
namespace {
namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class OplogTest : public ::testing::Test {
 protected:
  void TearDown() override { shutdown(); }
  testing::TempDir tmp_{"ticketctl-oplog"};
  const fs::path file_ = tmp_.path() / "operator.log";
};

TEST_F(OplogTest, LinesHaveTimeLevelAndComponentAndDebugOnlyWhenVerbose) {
  ASSERT_TRUE(init({.file = file_, .level = level_for_verbosity(0)}).ok());
  info("kubelet", "pod {}: started", "posts");
  debug("kubelet", "not at -v 0");
  warn("dataplane", "port {} busy", 4000);
  shutdown();
  const std::string text = slurp(file_);
  EXPECT_NE(text.find(" info    [kubelet] pod posts: started\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" warning [dataplane] port 4000 busy\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("not at -v 0"), std::string::npos) << text;
  EXPECT_EQ(text.substr(0, 2), "20") << text;  // 2026-12-03T14:00:00.000+0000
  EXPECT_EQ(fs::status(file_).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);

  ASSERT_TRUE(init({.file = file_, .level = level_for_verbosity(4)}).ok());
  debug("kubelet", "now at -v 4");
  shutdown();
  EXPECT_NE(slurp(file_).find(" debug   [kubelet] now at -v 4\n"), std::string::npos);
}

TEST_F(OplogTest, RotatesBySizeKeepingPrivateFiles) {
  ASSERT_TRUE(init({.file = file_, .max_bytes = 4096, .max_files = 2}).ok());
  for (int i = 0; i < 200; ++i) info("test", "line {} {}", i, std::string(40, 'x'));
  shutdown();
  const fs::path first = tmp_.path() / "operator.1.log";
  ASSERT_TRUE(fs::exists(first));
  EXPECT_FALSE(fs::exists(tmp_.path() / "operator.3.log"));
  EXPECT_LE(fs::file_size(file_), 4096u);
  EXPECT_NE(slurp(file_).find("line 199 "), std::string::npos);
  for (const fs::path& p : {file_, first})
    EXPECT_EQ(fs::status(p).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write)
        << p;
}

TEST_F(OplogTest, ARepeatedMessageIsHeldBackCountedAndSaidAgain) {
  ASSERT_TRUE(init({.file = file_}).ok());
  RateLimited limited(std::chrono::milliseconds(200));
  EXPECT_TRUE(limited.write(Level::Warn, "dataplane", "service a: port 80 busy"));
  EXPECT_FALSE(limited.write(Level::Warn, "dataplane", "service a: port 80 busy"));
  EXPECT_FALSE(limited.write(Level::Warn, "dataplane", "service a: port 80 busy"));
  EXPECT_TRUE(limited.write(Level::Warn, "dataplane", "service b: other"));  // its own key
  ASSERT_TRUE(testing::eventually(
      [&] { return limited.write(Level::Warn, "dataplane", "service a: port 80 busy"); },
      std::chrono::seconds(5), std::chrono::milliseconds(1)));
  shutdown();
  const std::string text = slurp(file_);
  EXPECT_NE(text.find("[dataplane] service a: port 80 busy\n"), std::string::npos) << text;
  EXPECT_NE(text.find("[dataplane] service a: port 80 busy ("), std::string::npos) << text;
  EXPECT_NE(text.find(" more like it since it was last said)\n"), std::string::npos) << text;
}

TEST_F(OplogTest, AnUnwritableFileIsAnErrorNamingIt) {
  // A file where its directory must be.
  std::ofstream(tmp_.path() / "plain") << "";
  const Result<bool> bad = init({.file = tmp_.path() / "plain" / "operator.log"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("plain/operator.log"), std::string::npos)
      << bad.error().message;
}

}  // namespace
}  // namespace ticketctl::oplog
