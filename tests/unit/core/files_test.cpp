#include "runtime/core/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "tests/support/temp_dir.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;

constexpr uid_t kNobody = 65534;

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

class PrivateFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    // The temp dir's own parent (/tmp) is sticky; the test's tree starts as the user's own.
    ::chmod(tmp_.path().c_str(), 0755);
  }
  testing::TempDir tmp_{"ticketctl-files"};
};

TEST_F(PrivateFiles, WriteIsPrivateWhateverTheUmask) {
  const mode_t old = ::umask(0);
  const Result<bool> w = write_private_file(tmp_.path() / "token", "secret\n");
  ::umask(old);
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(mode_of(tmp_.path() / "token"), 0600);
  std::ifstream in(tmp_.path() / "token");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "secret");
  // No temporary file is left beside it.
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp_.path()), fs::directory_iterator()), 1);
}

TEST_F(PrivateFiles, WriteReplacesAPlantedSymlinkInsteadOfFollowingIt) {
  const fs::path victim = tmp_.path() / "victim";
  std::ofstream(victim) << "untouched\n";
  fs::create_symlink(victim, tmp_.path() / "kubeconfig");
  ASSERT_TRUE(write_private_file(tmp_.path() / "kubeconfig", "new\n").ok());
  EXPECT_FALSE(fs::is_symlink(tmp_.path() / "kubeconfig"));
  std::ifstream in(victim);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "untouched");
}

TEST_F(PrivateFiles, AppendRefusesASymlinkAndTightensTheMode) {
  fs::create_symlink(tmp_.path() / "elsewhere", tmp_.path() / "access.log");
  EXPECT_LT(open_private_append(tmp_.path() / "access.log"), 0);
  EXPECT_FALSE(fs::exists(tmp_.path() / "elsewhere"));
  std::ofstream(tmp_.path() / "plain.log") << "x";
  ::chmod((tmp_.path() / "plain.log").c_str(), 0666);
  const int fd = open_private_append(tmp_.path() / "plain.log");
  ASSERT_GE(fd, 0);
  ::close(fd);
  EXPECT_EQ(mode_of(tmp_.path() / "plain.log"), 0600);
}

TEST_F(PrivateFiles, DirectoriesAre0700WhateverTheUmask) {
  const mode_t old = ::umask(0);
  const Result<bool> made = make_private_dirs(tmp_.path() / "a" / "b");
  ::umask(old);
  ASSERT_TRUE(made.ok()) << made.error().message;
  EXPECT_EQ(mode_of(tmp_.path() / "a"), 0700);
  EXPECT_EQ(mode_of(tmp_.path() / "a" / "b"), 0700);
  fs::create_symlink(tmp_.path() / "a", tmp_.path() / "link");
  EXPECT_FALSE(make_private_dirs(tmp_.path() / "link").ok());
}

TEST_F(PrivateFiles, TheUsersOwnTreePasses) {
  const fs::path root = tmp_.path() / "state";
  ASSERT_TRUE(make_private_dirs(root / "pods" / "p1").ok());
  ASSERT_TRUE(write_private_file(root / "token", "t").ok());
  ASSERT_TRUE(write_private_file(root / "pods" / "p1" / "exec.json", "{}").ok());
  const Result<bool> r = check_private_tree(root);
  EXPECT_TRUE(r.ok()) << r.error().message;
  // A directory still to be created passes when its ancestors do.
  EXPECT_TRUE(check_private_tree(tmp_.path() / "new" / "state").ok());
}

TEST_F(PrivateFiles, AFileWritableByOthersIsRefusedByPath) {
  const fs::path root = tmp_.path() / "state";
  ASSERT_TRUE(make_private_dirs(root / "pods").ok());
  std::ofstream(root / "pods" / "pid") << "1\n";
  ::chmod((root / "pods" / "pid").c_str(), 0666);
  const Result<bool> r = check_private_tree(root);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find((root / "pods" / "pid").string() +
                                   " is writable by other users (mode 0666)"),
            std::string::npos)
      << r.error().message;
}

TEST_F(PrivateFiles, GroupWriteIsFineOnlyForTheUsersOwnGroup) {
  const fs::path root = tmp_.path() / "state";
  ASSERT_TRUE(make_private_dirs(root / "kube-cache").ok());
  std::ofstream(root / "kube-cache" / "entry") << "x";
  ::chmod((root / "kube-cache" / "entry").c_str(), 0660);
  Result<bool> r = check_private_tree(root);
  EXPECT_TRUE(r.ok()) << r.error().message;
  if (::geteuid() != 0) GTEST_SKIP() << "skipped: needs root to change a file's group";
  ASSERT_EQ(::chown((root / "kube-cache" / "entry").c_str(), 0, kNobody), 0);
  r = check_private_tree(root);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("entry is writable by other users (mode 0660)"),
            std::string::npos)
      << r.error().message;
}

TEST_F(PrivateFiles, AWorldWritableStateDirectoryIsRefused) {
  const fs::path root = tmp_.path() / "state";
  ASSERT_TRUE(make_private_dirs(root).ok());
  ::chmod(root.c_str(), 0777);
  const Result<bool> r = check_private_tree(root);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("writable by other users"), std::string::npos);
}

TEST_F(PrivateFiles, AWorldWritableAncestorIsRefusedUnlessSticky) {
  const fs::path shared = tmp_.path() / "shared";
  ASSERT_TRUE(make_private_dirs(shared).ok());
  ::chmod(shared.c_str(), 0777);
  Result<bool> r = check_private_tree(shared / "ticketctl" / "app");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(shared.string()), std::string::npos) << r.error().message;
  // Like /tmp: others may create entries there, but not replace the user's.
  ::chmod(shared.c_str(), 01777);
  r = check_private_tree(shared / "ticketctl" / "app");
  EXPECT_TRUE(r.ok()) << r.error().message;
}

TEST_F(PrivateFiles, AnotherUsersDirectoryOrFileIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "skipped: needs root to give files to another user";
  const fs::path root = tmp_.path() / "state";
  ASSERT_TRUE(make_private_dirs(root).ok());
  ASSERT_TRUE(write_private_file(root / "token", "planted").ok());
  ASSERT_EQ(::chown((root / "token").c_str(), kNobody, kNobody), 0);
  Result<bool> r = check_private_tree(root);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find((root / "token").string() + " belongs to uid 65534"),
            std::string::npos)
      << r.error().message;

  // A planted directory: the attacker's own, with a token of their choosing.
  ASSERT_EQ(::chown((root / "token").c_str(), 0, 0), 0);
  ASSERT_EQ(::chown(root.c_str(), kNobody, kNobody), 0);
  r = check_private_tree(root);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(root.string() + " belongs to uid 65534"), std::string::npos);

  // An ancestor another user owns could be renamed away and replaced.
  const fs::path theirs = tmp_.path() / "theirs";
  ASSERT_TRUE(make_private_dirs(theirs).ok());
  ASSERT_EQ(::chown(theirs.c_str(), kNobody, kNobody), 0);
  r = check_private_tree(theirs / "state");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(theirs.string() + " belongs to uid 65534"), std::string::npos);
}

TEST_F(PrivateFiles, ASymlinkOnTheWayIsJudgedByItsOwnerAndItsTarget) {
  if (::geteuid() != 0) GTEST_SKIP() << "skipped: needs root to give files to another user";
  const fs::path target = tmp_.path() / "real";
  ASSERT_TRUE(make_private_dirs(target / "state").ok());
  const fs::path link = tmp_.path() / "link";
  fs::create_symlink(target, link);
  EXPECT_TRUE(check_private_tree(link / "state").ok());
  // Another user's symlink could be pointed elsewhere after the check.
  ASSERT_EQ(::lchown(link.c_str(), kNobody, kNobody), 0);
  const Result<bool> r = check_private_tree(link / "state");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(link.string() + " belongs to uid 65534"), std::string::npos);
}

TEST_F(PrivateFiles, PodDataIsLookedAtNotInto) {
  const fs::path root = tmp_.path() / "state";
  ASSERT_TRUE(make_private_dirs(root / "volumes" / "pvc-1").ok());
  std::ofstream(root / "volumes" / "pvc-1" / "data") << "x";
  ::chmod((root / "volumes" / "pvc-1" / "data").c_str(), 0666);
  EXPECT_FALSE(check_private_tree(root).ok());
  EXPECT_TRUE(check_private_tree(root, {"volumes"}).ok());
}

}  // namespace
}  // namespace ticketctl
