// The state directory as an attacker and a careless user meet it, through the real binary: a
// directory another user planted (with a token of their choosing) is refused before anything
// starts, no command falls back to a directory anyone could create first, and every file a
// running control plane writes is private whatever the umask.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using testing::Result;
using testing::ticketctl;

constexpr uid_t kNobody = 65534;

// Runs the binary through env(1) with `unset` removed from the environment and `umask` set.
Result run_with_env(const std::vector<std::string>& unset, std::vector<std::string> args,
                    const fs::path& cwd, mode_t umask_value = 022) {
  std::vector<std::string> argv = {"/usr/bin/env"};
  for (const std::string& name : unset) {
    argv.push_back("-u");
    argv.push_back(name);
  }
  argv.push_back(TICKETCTL_BIN);
  argv.insert(argv.end(), args.begin(), args.end());
  const fs::path out = cwd / ".out", err = cwd / ".err";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::umask(umask_value);
    ::setenv("TICKETCTL_INGRESS_HTTP", "0", 0);
    ::setenv("TICKETCTL_INGRESS_HTTPS", "0", 0);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::dup2(::open("/dev/null", O_RDONLY), 0);
    ::dup2(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 1);
    ::dup2(::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 2);
    std::vector<char*> c;
    for (std::string& a : argv) c.push_back(a.data());
    c.push_back(nullptr);
    ::execv(c[0], c.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  Result r;
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = testing::slurp(out);
  r.err = testing::slurp(err);
  fs::remove(out);
  fs::remove(err);
  return r;
}

class StateDirTest : public ::testing::Test {
 protected:
  void SetUp() override { ::chmod(tmp_.path().c_str(), 0755); }
  testing::TempDir tmp_{"ticketctl-statedir"};
};

TEST_F(StateDirTest, ADirectoryAnotherUserPlantedIsRefusedBeforeAnythingStarts) {
  if (::geteuid() != 0) GTEST_SKIP() << "skipped: needs root to create another user's directory";
  // User B made the directory first, with a token of B's choosing, and still owns it.
  const fs::path planted = tmp_.path() / "planted";
  fs::create_directories(planted);
  std::ofstream(planted / "token") << std::string(64, 'b') << "\n";
  ASSERT_EQ(::chown(planted.c_str(), kNobody, kNobody), 0);
  ASSERT_EQ(::chown((planted / "token").c_str(), kNobody, kNobody), 0);

  const fs::path project = tmp_.path() / "app";
  fs::create_directories(project);
  std::ofstream(project / "pod.yaml") << "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n";
  Result r = ticketctl({"up", "-d", "-f", "pod.yaml", "--state-dir", planted.string()}, "",
                       project.string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("refusing the state directory " + planted.string() + ": " +
                       planted.string() + " belongs to uid 65534"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("use another with --state-dir or TICKETCTL_HOME"), std::string::npos);
  // Nothing ran: no API, no kubeconfig written with B's token, no lock taken.
  EXPECT_FALSE(fs::exists(planted / "apiserver.json"));
  EXPECT_FALSE(fs::exists(planted / "kubeconfig"));
  EXPECT_FALSE(fs::exists(planted / "lock"));

  // The same through TICKETCTL_HOME, and for the verbs that only read the directory: `down`
  // would signal the pid B wrote into `lock`.
  std::ofstream(planted / "lock") << "1\n";
  ASSERT_EQ(::chown((planted / "lock").c_str(), kNobody, kNobody), 0);
  for (const std::vector<std::string>& verb :
       std::vector<std::vector<std::string>>{{"down"}, {"status"}, {"get", "pods"}}) {
    std::vector<std::string> args = verb;
    args.insert(args.end(), {"--state-dir", planted.string()});
    r = ticketctl(args, "", project.string());
    EXPECT_EQ(r.status, 1) << verb[0];
    EXPECT_NE(r.err.find("refusing the state directory"), std::string::npos) << verb[0] << r.err;
  }
}

TEST_F(StateDirTest, AStateDirectoryOthersCanWriteIsRefused) {
  const fs::path state = tmp_.path() / "state";
  fs::create_directories(state);
  ::chmod(state.c_str(), 0777);
  Result r = ticketctl({"status", "--state-dir", state.string()}, "", tmp_.path().string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(state.string() + " is writable by other users (mode 0777)"),
            std::string::npos)
      << r.err;
}

TEST_F(StateDirTest, WithoutHomeThereIsNoSharedFallback) {
  const fs::path project = tmp_.path() / "app";
  fs::create_directories(project);
  const Result r = run_with_env({"HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR", "TICKETCTL_HOME"},
                                {"status"}, project);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("no state directory: HOME, XDG_STATE_HOME and XDG_RUNTIME_DIR are all "
                       "unset; pass --state-dir DIR or set TICKETCTL_HOME"),
            std::string::npos)
      << r.err;
}

// Every file and directory of a running control plane with a pod, under umask 000.
TEST_F(StateDirTest, EveryFileTheControlPlaneWritesIsPrivateWhateverTheUmask) {
  const fs::path project = tmp_.path() / "app", state = tmp_.path() / "state";
  fs::create_directories(project / "k8s");
  const fs::path programs = fs::path(TICKETCTL_SOURCE_DIR) / "tests/integration/programs";
  std::ofstream(project / "ticketctl.yaml")
      << "manifests: [k8s]\nimages:\n  test/lines: {context: " << programs
      << ", command: [sh, say.sh]}\n";
  std::ofstream(project / "k8s/pod.yaml")
      << "apiVersion: v1\nkind: Pod\nmetadata: {name: talker}\nspec:\n  containers:\n"
         "  - {name: main, image: test/lines, env: [{name: WHO, value: a}]}\n"
         "---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n"
         "  selector: {app: web}\n  ports: [{port: 80, targetPort: 8080}]\n";
  Result r = run_with_env({}, {"up", "-d", "--state-dir", state.string()}, project, 0);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  // The pod has run: its log file exists, so the kubelet's files are there too.
  EXPECT_TRUE(testing::eventually(
      [&] {
        std::error_code ec;
        for (auto it = fs::recursive_directory_iterator(state / "pods", ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
          if (it->path().extension() == ".log") return true;
        return false;
      },
      std::chrono::seconds(20)));
  std::vector<std::string> loose;
  for (auto it = fs::recursive_directory_iterator(state); it != fs::recursive_directory_iterator();
       ++it) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || S_ISLNK(st.st_mode)) continue;
    if (st.st_mode & 077)
      loose.push_back(it->path().string() + " " + std::to_string(st.st_mode & 0777));
  }
  EXPECT_TRUE(loose.empty()) << ::testing::PrintToString(loose);
  ticketctl({"down", "--state-dir", state.string()}, "", project.string());
}

}  // namespace
}  // namespace ticketctl
