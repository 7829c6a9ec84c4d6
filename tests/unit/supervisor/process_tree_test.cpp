#include "runtime/supervisor/process_tree.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

namespace ticketctl::supervisor {
namespace {

TEST(Descendants, FollowsParentLinksFromTheRootOnly) {
  // 10 -> 11 -> 13, 10 -> 12; 20 is someone else's.
  const std::vector<ProcessEntry> all = {{10, 1, 5},  {11, 10, 6}, {12, 10, 7},
                                         {13, 11, 8}, {20, 1, 9},  {21, 20, 9}};
  std::vector<pid_t> found = descendants(10, all);
  std::sort(found.begin(), found.end());
  EXPECT_EQ(found, (std::vector<pid_t>{10, 11, 12, 13}));
  EXPECT_EQ(descendants(11, all), (std::vector<pid_t>{11, 13}));
  EXPECT_TRUE(descendants(99, all).empty());  // a root that is gone has no descendants
}

// A real child that leaves its session, with a grandchild: both are found, signalled and killed,
// and the caller never counts itself.
TEST(ContainerProcesses, FindsAndKillsASetsidChildAndItsChild) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t leader = ::fork();
  if (leader == 0) {
    if (::fork() == 0) {
      ::setsid();
      ::signal(SIGTERM, SIG_IGN);
      ::close(ready[1]);
      for (;;) ::pause();
    }
    ::signal(SIGTERM, SIG_IGN);
    ::close(ready[1]);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char byte;
  while (::read(ready[0], &byte, 1) > 0) {
  }
  ::close(ready[0]);
  unsigned long long start = 0;
  for (const ProcessEntry& e : list_processes())
    if (e.pid == leader) start = e.start_ticks;
  ContainerProcesses procs(leader, start, "", "/nonexistent");
  std::vector<pid_t> members = procs.members();
  EXPECT_EQ(members.size(), 2u);
  EXPECT_EQ(std::count(members.begin(), members.end(), ::getpid()), 0);
  EXPECT_EQ(procs.signal(SIGTERM), 2);  // both ignore it
  EXPECT_EQ(procs.kill(), 2);
  int status = 0;
  ASSERT_EQ(::waitpid(leader, &status, 0), leader);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  // The grandchild was reparented away; its pid is remembered no longer than it lives.
  procs.forget_run();
  for (int i = 0; i < 100 && procs.kill() > 0; ++i) ::usleep(10000);
  EXPECT_TRUE(procs.members().empty());
}

}  // namespace
}  // namespace ticketctl::supervisor
