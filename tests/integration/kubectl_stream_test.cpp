// kubectl's streaming verbs against a real control plane: exec (exit code, stdin, a TTY and its
// size), cp, attach and port-forward (pod/, svc/, deploy/), as the course types them. Real
// kubectl is not in Debian's archive: without it on PATH every test says it skipped.
// One control plane serves the whole suite (pods: an HTTP server, a ticking logger).

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <utility>

#include "tests/support/eventually.h"
#include "tests/support/process.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using testing::ticketctl;

bool on_path(const char* tool) {
  return std::system((std::string("command -v ") + tool + " >/dev/null 2>&1").c_str()) == 0;
}

// Runs a shell command line; its exit status and stdout (stderr goes to `err` when given).
std::pair<int, std::string> shell(const std::string& command, std::string* err = nullptr) {
  const fs::path err_file =
      fs::temp_directory_path() / ("kubectl-stream-err-" + std::to_string(::getpid()));
  const std::string line = command + " 2>" + err_file.string();
  std::string out;
  FILE* p = ::popen(line.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  if (err) *err = testing::slurp(err_file);
  fs::remove(err_file);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out};
}

// A command in the background with its output in files (kubectl port-forward, attach).
class Background {
 public:
  Background(const std::string& command, const fs::path& out) : out_(out) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      ::dup2(::open("/dev/null", O_RDONLY), 0);
      ::dup2(::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 1);
      ::dup2(::open((out_.string() + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 2);
      ::execl("/bin/sh", "sh", "-c", command.c_str(), nullptr);
      ::_exit(127);
    }
  }
  ~Background() {
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  std::string out() const { return testing::slurp(out_); }
  std::string err() const { return testing::slurp(out_.string() + ".err"); }

 private:
  fs::path out_;
  pid_t pid_ = -1;
};

constexpr const char* kManifests = R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web-depl}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: demo/web
          env: [{name: PORT, value: "8080"}]
          ports: [{containerPort: 8080}]
          readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web-srv}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: ticker}
spec:
  containers:
    - name: ticker
      image: demo/ticker
)";

class KubectlStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!on_path("kubectl")) return;
    root_ = new fs::path(fs::temp_directory_path() /
                         ("ticketctl-kubectl-stream-" + std::to_string(::getpid())));
    const fs::path project = *root_ / "project";
    fs::create_directories(project / "k8s");
    fs::copy_file(fs::path(TICKETCTL_SOURCE_DIR) / "tests/integration/programs/http_ok.js",
                  project / "http_ok.js");
    std::ofstream(project / "ticketctl.yaml")
        << "manifests: [k8s]\nimages:\n"
           "  demo/web: {context: ., command: [node, http_ok.js]}\n"
           "  demo/ticker: {context: ., command: [sh, -c, 'while :; do echo tick; sleep 0.2; "
           "done']}\n";
    std::ofstream(project / "k8s/app.yaml") << kManifests;
    std::ofstream(project / "data.txt") << "copied out\nwith two lines\n";
    const testing::Result r = ticketctl(
        {"up", "-d", "--timeout", "90s", "--state-dir", state().string()}, "", project.string());
    ASSERT_EQ(r.status, 0) << r.out << r.err;
  }

  static void TearDownTestSuite() {
    if (!root_) return;
    ticketctl({"down", "--state-dir", state().string()});
    std::error_code ec;
    fs::remove_all(*root_, ec);
    delete root_;
    root_ = nullptr;
  }

  void SetUp() override {
    if (!on_path("kubectl"))
      GTEST_SKIP() << "kubectl is not on PATH (it is not packaged by Debian); skipped";
    ASSERT_TRUE(root_);
    auto [status, name] = kubectl("get pods -l app=web -o name");
    ASSERT_EQ(status, 0);
    ASSERT_NE(name.find("pod/"), std::string::npos) << name;
    pod_ = name.substr(name.find('/') + 1);
    pod_ = pod_.substr(0, pod_.find('\n'));
  }

  static fs::path state() { return *root_ / "state"; }
  static fs::path project() { return *root_ / "project"; }
  static std::string kubectl_cmd() {
    return "KUBECONFIG=" + (state() / "kubeconfig").string() + " timeout 60 kubectl ";
  }
  static std::pair<int, std::string> kubectl(const std::string& args, std::string* err = nullptr) {
    return shell(kubectl_cmd() + args, err);
  }

  // Starts `kubectl port-forward TARGET 0:PORT` and returns the local port it announces.
  int forward(Background& bg) {
    int port = 0;
    const std::regex announced(R"(Forwarding from 127\.0\.0\.1:(\d+))");
    testing::eventually(
        [&] {
          std::smatch m;
          const std::string out = bg.out();
          if (!std::regex_search(out, m, announced)) return false;
          port = std::stoi(m[1]);
          return true;
        },
        std::chrono::seconds(30));
    return port;
  }

  static fs::path* root_;
  std::string pod_;
};

fs::path* KubectlStreamTest::root_ = nullptr;

TEST_F(KubectlStreamTest, ExecPrintsAndReturnsTheExitCode) {
  std::string err;
  auto [status, out] =
      kubectl("exec " + pod_ + " -- node -e 'console.log(1); process.exit(3)'", &err);
  EXPECT_EQ(out, "1\n");
  EXPECT_EQ(status, 3) << err;
  EXPECT_NE(err.find("command terminated with exit code 3"), std::string::npos) << err;

  auto [ok_status, ok_out] = kubectl("exec " + pod_ + " -- true");
  EXPECT_EQ(ok_status, 0);
  EXPECT_EQ(ok_out, "");
}

TEST_F(KubectlStreamTest, ExecRunsInTheContainersContext) {
  // The container's env (PORT from the manifest), working directory and stderr apart.
  std::string err;
  auto [status, out] = kubectl("exec " + pod_ + " -- sh -c 'echo $PORT; pwd; echo oops >&2'", &err);
  EXPECT_EQ(status, 0) << err;
  EXPECT_EQ(out, "8080\n" + project().string() + "\n");
  EXPECT_NE(err.find("oops"), std::string::npos) << err;

  auto [missing, missing_out] = kubectl("exec " + pod_ + " -- no-such-program", &err);
  EXPECT_EQ(missing, 127) << err;
  EXPECT_NE((missing_out + err).find("executable file not found"), std::string::npos) << err;
}

TEST_F(KubectlStreamTest, ExecWithStdinReadsItToTheEnd) {
  auto [status, out] =
      shell("printf 'hello\\nworld\\n' | " + kubectl_cmd() + "exec -i " + pod_ + " -- cat");
  EXPECT_EQ(status, 0);
  EXPECT_EQ(out, "hello\nworld\n");
}

TEST_F(KubectlStreamTest, ExecWithATerminalGetsItsSize) {
  if (!on_path("script")) GTEST_SKIP() << "script(1) is not installed; skipped";
  // script(1) gives kubectl a terminal; its size reaches the command through the resize channel.
  // timeout(1) must leave kubectl in the terminal's foreground process group: elsewhere its
  // first read of the terminal stops it (SIGTTIN). SHELL is pinned because script(1) runs the
  // command with $SHELL, which CI may not set.
  const std::string inner = "stty cols 123 rows 45; KUBECONFIG=" +
                            (state() / "kubeconfig").string() +
                            " timeout --foreground 60 kubectl exec -it " + pod_ +
                            " -- sh -c 'tty >/dev/null && echo has-tty; stty size'";
  auto [status, out] =
      shell("SHELL=/bin/sh timeout 90 script -qec \"" + inner + "\" /dev/null </dev/null");
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("has-tty"), std::string::npos) << out;
  EXPECT_NE(out.find("45 123"), std::string::npos) << out;
}

TEST_F(KubectlStreamTest, CpCopiesAFileOut) {
  const fs::path dest = *root_ / "copied.txt";
  std::string err;
  auto [status, out] = shell("cd " + root_->string() + " && " + kubectl_cmd() + "cp " + pod_ + ":" +
                                 (project() / "data.txt").string() + " copied.txt",
                             &err);
  EXPECT_EQ(status, 0) << out << err;
  EXPECT_EQ(testing::slurp(dest), "copied out\nwith two lines\n");
}

TEST_F(KubectlStreamTest, AttachStreamsTheContainersOutput) {
  Background attach(kubectl_cmd() + "attach ticker", *root_ / "attach.out");
  EXPECT_TRUE(
      testing::eventually([&] { return attach.out().find("tick\ntick\n") != std::string::npos; },
                          std::chrono::seconds(30)))
      << attach.out() << attach.err();
}

TEST_F(KubectlStreamTest, PortForwardServesCurlForPodServiceAndDeployment) {
  for (const std::string& target : {"pod/" + pod_ + " 0:8080", std::string("svc/web-srv 0:80"),
                                    std::string("deploy/web-depl 0:8080")}) {
    Background pf(kubectl_cmd() + "port-forward " + target, *root_ / "pf.out");
    const int port = forward(pf);
    ASSERT_GT(port, 0) << target << ": " << pf.out() << pf.err();
    for (int i = 0; i < 3; ++i) {  // each request is a new connection, a new pair of streams
      auto [status, body] =
          shell("curl -sS --max-time 10 http://127.0.0.1:" + std::to_string(port) + "/");
      EXPECT_EQ(status, 0) << target;
      EXPECT_EQ(body, "ok\n") << target << ": " << pf.err();
    }
  }
}

TEST_F(KubectlStreamTest, NothingStreamsWithoutTheToken) {
  const std::string config = testing::slurp(state() / "kubeconfig");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(config, m, std::regex(R"(server: (https://[^\s]+))")));
  const std::string url =
      m[1].str() + "/api/v1/namespaces/default/pods/" + pod_ + "/exec?command=true&stdout=true";
  auto [status, code] = shell(
      "curl -sk -o /dev/null -w '%{http_code}' -H 'Connection: Upgrade' -H 'Upgrade: websocket' "
      "-H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "
      "-H 'Sec-WebSocket-Protocol: v5.channel.k8s.io' '" +
      url + "'");
  EXPECT_EQ(code, "401");
}

}  // namespace
}  // namespace ticketctl
