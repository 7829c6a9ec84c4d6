#include "runtime/supervisor/cgroup.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "tests/support/temp_dir.h"

namespace ticketctl::supervisor {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file) << text;
}

std::string slurp(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A fake /sys/fs/cgroup and /proc/self/cgroup: only the files detect() and create() look at.
class FakeCgroupTree {
 public:
  FakeCgroupTree() : dir_("cgroup") {}
  const fs::path& mounts() const { return dir_.path(); }
  fs::path self() const { return dir_.path() / "self-cgroup"; }
  void self_cgroup(const std::string& text) { write(self(), text); }
  // A v2 group at `unified`/`path` offering `controllers` to its children.
  void v2_group(const std::string& unified, const std::string& path,
                const std::string& controllers) {
    const fs::path dir = dir_.path() / unified / path;
    write(dir / "cgroup.controllers", controllers + "\n");
    write(dir / "cgroup.subtree_control", "");
    write(dir / "cgroup.procs", std::to_string(::getpid()) + "\n");
  }
  void v1_memory_group(const std::string& path) {
    write(dir_.path() / "memory" / path / "memory.limit_in_bytes", "9223372036854771712\n");
  }

 private:
  testing::TempDir dir_;
};

TEST(MemoryCgroupsDetect, PicksV2WhenMemoryIsDelegatedToOurGroup) {
  FakeCgroupTree tree;
  tree.v2_group("", "", "cpu memory pids");
  const std::string own = "user.slice/user-1000.slice/user@1000.service/app.slice/ticketctl.scope";
  tree.v2_group("", own, "cpu memory pids");
  tree.self_cgroup("0::/" + own + "\n");

  const MemoryCgroups cgroups = MemoryCgroups::detect(tree.mounts(), tree.self());
  ASSERT_TRUE(cgroups.available()) << cgroups.reason();
  EXPECT_EQ(cgroups.version(), 2);
  EXPECT_EQ(cgroups.reason(), "");
  EXPECT_EQ(cgroups.base(), tree.mounts() / own / "ticketctl-pods");
  // Children of our group and of the base get the memory controller.
  EXPECT_EQ(slurp(tree.mounts() / own / "cgroup.subtree_control"), "+memory");
  EXPECT_EQ(slurp(cgroups.base() / "cgroup.subtree_control"), "+memory");
}

TEST(MemoryCgroupsDetect, PicksV2InTheRootCgroup) {
  FakeCgroupTree tree;
  tree.v2_group("", "", "cpu io memory pids");
  tree.self_cgroup("0::/\n");

  const MemoryCgroups cgroups = MemoryCgroups::detect(tree.mounts(), tree.self());
  ASSERT_TRUE(cgroups.available()) << cgroups.reason();
  EXPECT_EQ(cgroups.version(), 2);
  EXPECT_EQ(cgroups.base(), tree.mounts() / "ticketctl-pods");
}

TEST(MemoryCgroupsDetect, ReusesAGroupWhoseMemoryIsAlreadyEnabled) {
  FakeCgroupTree tree;
  tree.v2_group("", "", "memory");
  tree.v2_group("", "svc", "memory");
  write(tree.mounts() / "svc" / "cgroup.subtree_control", "cpu memory\n");
  tree.self_cgroup("0::/svc/ticketctl-supervisor\n");  // where a first detect() moved us

  const MemoryCgroups cgroups = MemoryCgroups::detect(tree.mounts(), tree.self());
  ASSERT_TRUE(cgroups.available()) << cgroups.reason();
  EXPECT_EQ(cgroups.base(), tree.mounts() / "svc" / "ticketctl-pods");
  EXPECT_EQ(slurp(tree.mounts() / "svc" / "cgroup.subtree_control"), "cpu memory\n");
}

TEST(MemoryCgroupsDetect, FallsBackToV1WhenV2HasNoMemoryController) {
  // This machine's shape: a hybrid hierarchy whose unified part has no memory controller.
  FakeCgroupTree tree;
  tree.v2_group("unified", "", "hugetlb");
  tree.v1_memory_group("process_api/1cb7");
  tree.self_cgroup("5:devices:/\n4:memory:/process_api/1cb7\n1:cpu:/\n0::/\n");

  const MemoryCgroups cgroups = MemoryCgroups::detect(tree.mounts(), tree.self());
  ASSERT_TRUE(cgroups.available()) << cgroups.reason();
  EXPECT_EQ(cgroups.version(), 1);
  EXPECT_EQ(cgroups.base(), tree.mounts() / "memory" / "process_api" / "1cb7" / "ticketctl-pods");
  EXPECT_TRUE(fs::is_directory(cgroups.base()));
}

TEST(MemoryCgroupsDetect, FindsV1MemoryMountedWithOtherControllers) {
  FakeCgroupTree tree;
  tree.v1_memory_group("a");
  tree.self_cgroup("3:cpu,memory:/a\n");

  const MemoryCgroups cgroups = MemoryCgroups::detect(tree.mounts(), tree.self());
  ASSERT_TRUE(cgroups.available()) << cgroups.reason();
  EXPECT_EQ(cgroups.version(), 1);
}

TEST(MemoryCgroupsDetect, SaysWhyWhenNeitherVersionCanLimitMemory) {
  FakeCgroupTree tree;
  tree.v2_group("", "", "cpu memory pids");
  tree.v2_group("", "user.slice/user-1000.slice/session-2.scope", "cpu pids");
  tree.self_cgroup("0::/user.slice/user-1000.slice/session-2.scope\n");

  const MemoryCgroups cgroups = MemoryCgroups::detect(tree.mounts(), tree.self());
  EXPECT_FALSE(cgroups.available());
  EXPECT_EQ(cgroups.version(), 0);
  EXPECT_EQ(cgroups.reason(),
            "cgroup v2 has no memory controller delegated to "
            "/user.slice/user-1000.slice/session-2.scope; cgroup v1 memory is not mounted");
  EXPECT_FALSE(cgroups.create("uid_main", 1 << 20).ok());
}

TEST(MemoryCgroupsDetect, SaysWhyWhenNothingIsMounted) {
  FakeCgroupTree tree;
  tree.self_cgroup("0::/\n");
  const MemoryCgroups cgroups = MemoryCgroups::detect(tree.mounts(), tree.self());
  EXPECT_FALSE(cgroups.available());
  EXPECT_EQ(cgroups.reason(), "cgroup v2 is not mounted; cgroup v1 memory is not mounted");
}

TEST(MemoryCgroupsDetect, SaysWhyWhenOurV1GroupIsMissing) {
  FakeCgroupTree tree;
  tree.v1_memory_group("other");
  tree.self_cgroup("4:memory:/docker/abc\n");
  const MemoryCgroups cgroups = MemoryCgroups::detect(tree.mounts(), tree.self());
  EXPECT_FALSE(cgroups.available());
  EXPECT_EQ(cgroups.reason(),
            "cgroup v2 is not mounted; cgroup v1 memory group /docker/abc is not under " +
                (tree.mounts() / "memory").string());
}

TEST(MemoryCgroupsCreate, V2WritesTheLimitWithoutSwap) {
  FakeCgroupTree tree;
  tree.v2_group("", "", "memory");
  tree.self_cgroup("0::/\n");
  const MemoryCgroups cgroups = MemoryCgroups::detect(tree.mounts(), tree.self());
  ASSERT_TRUE(cgroups.available()) << cgroups.reason();
  // A group left by a previous run, with the files a kernel with swap accounting has.
  const fs::path left = cgroups.base() / "uid1_main";
  write(left / "memory.swap.max", "max\n");
  write(left / "memory.oom.group", "0\n");
  write(left / "cgroup.procs", "");

  const Result<fs::path> group = cgroups.create("uid1_main", 128 << 20);
  ASSERT_TRUE(group.ok()) << group.error().message;
  EXPECT_EQ(group.value(), left);
  EXPECT_EQ(slurp(left / "memory.max"), "134217728");
  EXPECT_EQ(slurp(left / "memory.swap.max"), "0");
  EXPECT_EQ(slurp(left / "memory.oom.group"), "1");

  // Without swap accounting there is no memory.swap.max, and none is made.
  const Result<fs::path> fresh = cgroups.create("uid2_main", 1000);
  ASSERT_TRUE(fresh.ok()) << fresh.error().message;
  EXPECT_EQ(slurp(fresh.value() / "memory.max"), "1000");
  EXPECT_FALSE(fs::exists(fresh.value() / "memory.swap.max"));
}

TEST(MemoryCgroupsCreate, V1WritesTheLimitToMemoryAndMemsw) {
  FakeCgroupTree tree;
  tree.v1_memory_group("a");
  tree.self_cgroup("4:memory:/a\n");
  const MemoryCgroups cgroups = MemoryCgroups::detect(tree.mounts(), tree.self());
  ASSERT_EQ(cgroups.version(), 1) << cgroups.reason();
  write(cgroups.base() / "uid_main" / "memory.memsw.limit_in_bytes", "9223372036854771712\n");

  const Result<fs::path> group = cgroups.create("uid_main", 32 << 20);
  ASSERT_TRUE(group.ok()) << group.error().message;
  EXPECT_EQ(slurp(group.value() / "memory.limit_in_bytes"), "33554432");
  EXPECT_EQ(slurp(group.value() / "memory.memsw.limit_in_bytes"), "33554432");
}

TEST(MemoryCgroupsCreate, RefusesUnsafeNamesLimitsAndGroupsInUse) {
  FakeCgroupTree tree;
  tree.v1_memory_group("a");
  tree.self_cgroup("4:memory:/a\n");
  const MemoryCgroups cgroups = MemoryCgroups::detect(tree.mounts(), tree.self());
  ASSERT_TRUE(cgroups.available()) << cgroups.reason();
  for (const std::string name : {"", ".", "..", "a/b", "../escape"}) {
    const Result<fs::path> r = cgroups.create(name, 1 << 20);
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.error().code, ErrorCode::Invalid) << name;
  }
  EXPECT_FALSE(cgroups.create("uid_main", 0).ok());
  write(cgroups.base() / "busy" / "cgroup.procs", "4242\n");
  const Result<fs::path> busy = cgroups.create("busy", 1 << 20);
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().code, ErrorCode::AlreadyExists);
}

TEST(MemoryCgroupsOomKills, ReadsV2MemoryEvents) {
  testing::TempDir dir("oom-v2");
  write(dir.path() / "memory.events",
        "low 0\nhigh 0\nmax 31\noom 2\noom_group_kill 0\noom_kill 3\n");
  EXPECT_EQ(MemoryCgroups::oom_kills(dir.path()), 3);
}

TEST(MemoryCgroupsOomKills, ReadsV1OomControl) {
  testing::TempDir dir("oom-v1");
  write(dir.path() / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
  EXPECT_EQ(MemoryCgroups::oom_kills(dir.path()), 1);
}

TEST(MemoryCgroupsOomKills, IsZeroWhenUnreadable) {
  testing::TempDir dir("oom-none");
  EXPECT_EQ(MemoryCgroups::oom_kills(dir.path()), 0);
  EXPECT_EQ(MemoryCgroups::oom_kills(dir.path() / "gone"), 0);
}

TEST(TrackingCgroupsDetect, UsesV2WithoutAnyControllerWhereOurGroupIsWritable) {
  FakeCgroupTree tree;
  tree.v2_group("unified", "", "");  // a hybrid system: v2 with no controllers at all
  tree.self_cgroup("4:memory:/x\n0::/\n");
  const TrackingCgroups cgroups = TrackingCgroups::detect(tree.mounts(), tree.self());
  ASSERT_TRUE(cgroups.available()) << cgroups.reason();
  EXPECT_EQ(cgroups.version(), 2);
  EXPECT_EQ(cgroups.base(), tree.mounts() / "unified" / "ticketctl-pods");
  Result<fs::path> group = cgroups.create("uid_main_0");
  ASSERT_TRUE(group.ok()) << group.error().message;
  EXPECT_TRUE(fs::is_directory(group.value()));
  // A previous run's group that still holds a process is not taken over.
  write(group.value() / "cgroup.procs", "4242\n");
  EXPECT_EQ(cgroups.create("uid_main_0").error().code, ErrorCode::AlreadyExists);
  EXPECT_EQ(cgroups.create("../escape").error().code, ErrorCode::Invalid);
}

TEST(TrackingCgroupsDetect, FallsBackToTheV1FreezerAndCanBeForced) {
  FakeCgroupTree tree;
  write(tree.mounts() / "freezer" / "cgroup.procs", "");
  tree.self_cgroup("6:freezer:/\n0::/\n");  // no v2 mounted
  const TrackingCgroups cgroups = TrackingCgroups::detect(tree.mounts(), tree.self());
  ASSERT_TRUE(cgroups.available()) << cgroups.reason();
  EXPECT_EQ(cgroups.version(), 1);
  EXPECT_EQ(cgroups.base(), tree.mounts() / "freezer" / "ticketctl-pods");

  const TrackingCgroups none = TrackingCgroups::detect(tree.mounts(), tree.self(), "none");
  EXPECT_FALSE(none.available());
  EXPECT_EQ(none.reason(), "TICKETCTL_PROCESS_TRACKING=none");
  const TrackingCgroups v2 = TrackingCgroups::detect(tree.mounts(), tree.self(), "cgroup2");
  EXPECT_FALSE(v2.available());
  EXPECT_EQ(v2.reason(), "cgroup v2 is not mounted");
}

TEST(TrackingCgroupsDetect, SaysWhyWhenNoneIsUsable) {
  FakeCgroupTree tree;
  tree.self_cgroup("0::/\n");
  const TrackingCgroups cgroups = TrackingCgroups::detect(tree.mounts(), tree.self());
  EXPECT_FALSE(cgroups.available());
  EXPECT_EQ(cgroups.reason(), "cgroup v2 is not mounted; cgroup v1 freezer is not mounted");
}

TEST(CgroupByteQuantity, ParsesKubernetesMemoryQuantities) {
  EXPECT_EQ(parse_byte_quantity("128Mi"), 134217728);
  EXPECT_EQ(parse_byte_quantity("1G"), 1000000000);
  EXPECT_EQ(parse_byte_quantity("500M"), 500000000);
  EXPECT_EQ(parse_byte_quantity("1.5Gi"), 1610612736);
  EXPECT_EQ(parse_byte_quantity("1e9"), 1000000000);
  EXPECT_EQ(parse_byte_quantity("1E3"), 1000);
  EXPECT_EQ(parse_byte_quantity("2"), 2);
  EXPECT_EQ(parse_byte_quantity("+1Ki"), 1024);
  EXPECT_EQ(parse_byte_quantity("0"), 0);
  EXPECT_EQ(parse_byte_quantity("1.000Mi"), 1048576);
  EXPECT_EQ(parse_byte_quantity("1E"), 1000000000000000000);
  EXPECT_EQ(parse_byte_quantity("7Ei"), 8070450532247928832);
}

TEST(CgroupByteQuantity, RoundsFractionsOfAByteUp) {
  EXPECT_EQ(parse_byte_quantity("100m"), 1);
  EXPECT_EQ(parse_byte_quantity("0.5"), 1);
  EXPECT_EQ(parse_byte_quantity("1500m"), 2);
  EXPECT_EQ(parse_byte_quantity("1n"), 1);
  EXPECT_EQ(parse_byte_quantity("1e-50"), 1);
  EXPECT_EQ(parse_byte_quantity("0.1Ki"), 103);  // 102.4
}

TEST(CgroupByteQuantity, RejectsWhatIsNotAByteCount) {
  for (const char* bad : {"", "Mi", "1MB", "1mi", "1.2.3", "abc", "1 Gi", "-1Gi", "8Ei", "1e19",
                          "99999999999999999999"})
    EXPECT_EQ(parse_byte_quantity(bad), std::nullopt) << bad;
}

// The kernel, not the fake: on a machine where memory cgroups are available, a child over its
// limit is OOM-killed and the kill is counted in its group.
TEST(MemoryCgroupsEnforcement, KernelOomKillsAChildOverItsLimit) {
  const MemoryCgroups cgroups = MemoryCgroups::detect();
  if (!cgroups.available()) GTEST_SKIP() << cgroups.reason();
  const std::string name = "cgroup-test-" + std::to_string(::getpid());
  const Result<fs::path> group = cgroups.create(name, 32 << 20);
  ASSERT_TRUE(group.ok()) << group.error().message;
  const Result<int> procs = MemoryCgroups::open_procs(group.value());
  ASSERT_TRUE(procs.ok()) << procs.error().message;

  constexpr size_t kTouch = size_t{256} << 20;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Only system calls between fork and _exit.
    if (::write(procs.value(), "0", 1) != 1) ::_exit(2);
    void* memory =
        ::mmap(nullptr, kTouch, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) ::_exit(3);
    auto* bytes = static_cast<volatile char*>(memory);
    for (size_t i = 0; i < kTouch; i += 4096) bytes[i] = 1;
    ::_exit(0);  // survived: the limit was not enforced
  }
  ::close(procs.value());
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "exit status " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  EXPECT_GE(MemoryCgroups::oom_kills(group.value()), 1);
  EXPECT_TRUE(MemoryCgroups::remove(group.value()));
  EXPECT_FALSE(fs::exists(group.value()));
}

}  // namespace
}  // namespace ticketctl::supervisor
