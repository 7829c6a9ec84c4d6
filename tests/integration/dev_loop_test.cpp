// The dev loop as a learner lives in it: `ticketctl dev` (a real process, in its own process group
// as a terminal runs it) on a temporary project of one Node service with a readiness probe behind
// a Service and an Ingress. A save rolls the pod with no failed request through the ingress; a
// crash is a line of its own; Ctrl-C ends within the grace period; `dev` attaches to an app
// already `up -d` without replaying its old output; a changed ticketctl.yaml starts the loop over;
// a manifest saved with a new selector replaces the Deployment.

#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <thread>

#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using testing::Result;
using testing::slurp;
using testing::ticketctl;

bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  return testing::eventually(condition, limit);
}

// Answers its version (and argv[2] when given), logs each request, exits 3 on /crash, and on
// SIGTERM stops once its connections are done, as a well-behaved service does.
std::string server_js(const std::string& version) {
  return "const http = require('http');\n"
         "const extra = process.argv[2] ? ' ' + process.argv[2] : '';\n"
         "const server = http.createServer((req, res) => {\n"
         "  console.log('request ' + req.url);\n"
         "  if (req.url === '/crash') process.exit(3);\n"
         "  res.end('" +
         version +
         "' + extra);\n"
         "});\n"
         "server.listen(8080, () => console.log('listening'));\n"
         "process.on('SIGTERM', () => server.close(() => process.exit(0)));\n";
}

constexpr int kGraceSeconds = 3;

class DevLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("command -v node >/dev/null 2>&1") != 0)
      GTEST_SKIP() << "node is not installed: the pod of this test is a Node program";
    fs::create_directories(project_ / "k8s");
    fs::create_directories(project_ / "web");
    write_settings("[node, server.js]");
    std::ofstream(project_ / "web" / "server.js") << server_js("v1");
    std::ofstream(project_ / "k8s" / "app.yaml")
        << "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
           "  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n"
           "    metadata: {labels: {app: web}}\n    spec:\n"
           "      terminationGracePeriodSeconds: "
        << kGraceSeconds
        << "\n      containers:\n"
           "        - name: web\n          image: test/web\n"
           "          readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}\n"
           "---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n"
           "  selector: {app: web}\n  ports: [{port: 80, targetPort: 8080}]\n"
           "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec:\n"
           "  ingressClassName: nginx\n  rules:\n    - http:\n        paths:\n"
           "          - {path: /, pathType: Prefix, backend: {service: {name: web, port: "
           "{number: 80}}}}\n";
  }
  void TearDown() override {
    if (dev_ > 0) {
      ::kill(-dev_, SIGKILL);
      ::waitpid(dev_, nullptr, 0);
    }
    run({"down"});
  }
  void write_settings(const std::string& command) {
    std::ofstream(project_ / "ticketctl.yaml")
        << "manifests: [k8s]\nrestartBackoff: {initial: 200ms, max: 1s}\n"
           "images:\n  test/web: {context: web, command: "
        << command << "}\n";
  }
  Result run(std::vector<std::string> args) {
    args.push_back("--state-dir");
    args.push_back(state_.string());
    return ticketctl(std::move(args), "", project_.string());
  }
  void start_dev() {
    dev_ = ::fork();
    ASSERT_GE(dev_, 0);
    if (dev_ == 0) {
      ::setpgid(0, 0);
      ::setenv("TICKETCTL_INGRESS_HTTP", "0", 1);
      ::setenv("TICKETCTL_INGRESS_HTTPS", "0", 1);
      if (::chdir(project_.c_str()) != 0) ::_exit(126);
      const int out = ::open(dev_log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(out, 1);
      ::dup2(out, 2);
      ::execl(TICKETCTL_BIN, TICKETCTL_BIN, "dev", "--state-dir", state_.c_str(), nullptr);
      ::_exit(127);
    }
    ::setpgid(dev_, dev_);
  }
  // start_dev(), then until the ingress it printed answers "v1": that ingress's port, or 0 when
  // it never did.
  int start_dev_until_v1_answers() {
    start_dev();
    int port = 0;
    const bool answered = eventually([&] {
      port = ingress_port(output());
      return port > 0 && get(port, "/").second == "v1";
    });
    return answered ? port : 0;
  }
  std::string output() { return slurp(dev_log_); }
  size_t count(const std::string& needle) {
    const std::string out = output();
    size_t n = 0;
    for (size_t at = out.find(needle); at != std::string::npos; at = out.find(needle, at + 1)) ++n;
    return n;
  }
  // The port of the last "ingress: http://127.0.0.1:PORT" line of `text`, or 0.
  static int ingress_port(const std::string& text) {
    static const std::regex line(R"(ingress: http://127\.0\.0\.1:(\d+))");
    int port = 0;
    for (std::sregex_iterator it(text.begin(), text.end(), line), end; it != end; ++it)
      port = std::stoi((*it)[1]);
    return port;
  }
  // Status and body of GET `path` through the ingress, on a new connection (0: no response).
  static std::pair<int, std::string> get(int port, const std::string& path) {
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(5, 0);
    client.set_read_timeout(10, 0);
    auto r = client.Get(path);
    if (!r) return {0, httplib::to_string(r.error())};
    return {r->status, r->body};
  }
  // Ctrl-C as a terminal sends it (to the process group); returns dev's exit status.
  int interrupt(Clock::duration& took) {
    const auto start = Clock::now();
    EXPECT_EQ(::kill(-dev_, SIGINT), 0);
    int status = 0;
    EXPECT_TRUE(eventually([&] { return ::waitpid(dev_, &status, WNOHANG) == dev_; })) << output();
    took = Clock::now() - start;
    dev_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  ticketctl::testing::TempDir tmp_{"ticketctl-devloop"};
  const fs::path project_ = tmp_.path() / "project";
  const fs::path state_ = tmp_.path() / "state";
  const fs::path dev_log_ = tmp_.path() / "dev.log";
  pid_t dev_ = -1;
};

TEST_F(DevLoopTest, SaveRollsWithoutAFailedRequestACrashIsALineAndCtrlCEndsWithinGrace) {
  const int port = start_dev_until_v1_answers();
  ASSERT_GT(port, 0) << output();

  // Requests through the ingress all along the replacement, each on a new connection.
  std::atomic<bool> stop{false}, saw_v2{false};
  std::map<int, int> statuses;  // status -> count (0: no response)
  std::thread client([&] {
    while (!stop) {
      auto [status, body] = get(port, "/");
      ++statuses[status];
      if (status == 200 && body == "v2") saw_v2 = true;
    }
  });
  std::ofstream(project_ / "web" / "server.js") << server_js("v2");
  // Done when the new version answers and the old pod is gone.
  const bool rolled = eventually([&] {
    const std::string pods = run({"get", "pods", "-o", "name"}).out;
    return saw_v2 && std::count(pods.begin(), pods.end(), '\n') == 1;
  });
  stop = true;
  client.join();
  ASSERT_TRUE(rolled) << output();
  EXPECT_EQ(statuses.size(), 1u) << "statuses other than 200 during the save: "
                                 << ::testing::PrintToString(statuses);
  EXPECT_GT(statuses[200], 0);
  EXPECT_EQ(count("Rolling deployment/web for test/web"), 1u) << output();

  // A crash: one line of dev's own, then the restarted run's output.
  get(port, "/crash");
  ASSERT_TRUE(eventually([&] { return get(port, "/").first == 200; })) << output();
  ASSERT_TRUE(eventually([&] { return count("crashed: exit code 3 (Error); restart 1") == 1; }))
      << output();
  EXPECT_EQ(count("crashed:"), 1u) << output();

  // Ctrl-C: pods that stop at once on SIGTERM do not make dev wait for their grace period.
  Clock::duration took{};
  EXPECT_EQ(interrupt(took), 130) << output();
  EXPECT_LT(took, std::chrono::seconds(kGraceSeconds)) << output();
  EXPECT_NE(output().find("control plane (pid "), std::string::npos) << output();
  EXPECT_EQ(run({"get", "pods"}).status, 1);
}

TEST_F(DevLoopTest, AttachesToAnAppAlreadyUpWithoutReplayingItsOutput) {
  Result up = run({"up", "-d"});
  ASSERT_EQ(up.status, 0) << up.out << up.err;
  const int port = ingress_port(up.out);
  ASSERT_GT(port, 0) << up.out;
  ASSERT_TRUE(eventually([&] { return get(port, "/before").first == 200; }));
  ASSERT_TRUE(eventually([&] {
    return run({"logs", "deploy/web"}).out.find("request /before") != std::string::npos;
  }));

  start_dev();
  ASSERT_TRUE(eventually([&] { return count("Watching for changes...") == 1; })) << output();
  EXPECT_NE(output().find("Attached to the control plane already running for "), std::string::npos)
      << output();
  EXPECT_NE(output().find("deployment.apps/web unchanged"), std::string::npos) << output();
  ASSERT_TRUE(eventually([&] {
    get(port, "/after");
    return count("] request /after") > 0;
  })) << output();
  // What the pod printed before dev started is not shown again.
  EXPECT_EQ(count("request /before"), 0u) << output();
  EXPECT_EQ(count("listening"), 0u) << output();

  // Ctrl-C leaves the app it did not start running.
  Clock::duration took{};
  EXPECT_EQ(interrupt(took), 130) << output();
  EXPECT_NE(output().find("Leaving the control plane running"), std::string::npos) << output();
  EXPECT_EQ(get(port, "/").first, 200);
}

TEST_F(DevLoopTest, ChangedSettingsStartTheLoopOver) {
  const int port = start_dev_until_v1_answers();
  ASSERT_GT(port, 0) << output();

  // A broken ticketctl.yaml is reported and the running app kept.
  std::ofstream(project_ / "ticketctl.yaml") << "images: [\n";
  ASSERT_TRUE(eventually([&] { return count("has errors: the running app is kept") == 1; }))
      << output();
  EXPECT_EQ(get(port, "/").second, "v1");

  // A valid change: the loop starts over with it (the same dev process, a new control plane).
  write_settings("[node, server.js, again]");
  ASSERT_TRUE(eventually([&] {
    const int now = ingress_port(output());
    return count("ticketctl.yaml changed: restarting the dev loop") == 1 && now > 0 &&
           get(now, "/").second == "v1 again";
  })) << output();
  EXPECT_EQ(::waitpid(dev_, nullptr, WNOHANG), 0) << output();
  Clock::duration took{};
  EXPECT_EQ(interrupt(took), 130) << output();
  EXPECT_EQ(run({"get", "pods"}).status, 1);
}

// Renaming the app's label in the manifest (selector, template and Service) while dev runs: the
// Deployment cannot take the new selector, so dev replaces it and says so; the old pod goes and
// the ingress reaches the new one.
TEST_F(DevLoopTest, ASavedManifestWithANewSelectorReplacesTheDeployment) {
  const int port = start_dev_until_v1_answers();
  ASSERT_GT(port, 0) << output();

  std::string manifest = slurp(project_ / "k8s" / "app.yaml");
  for (size_t at; (at = manifest.find("app: web}")) != std::string::npos;)
    manifest.replace(at, 9, "app: web2}");
  std::ofstream(project_ / "k8s" / "app.yaml") << manifest;
  ASSERT_TRUE(eventually([&] {
    return count(
               "deployment.apps/web replaced (spec.selector changed, and it cannot be "
               "updated: deleted and created again)") == 1;
  })) << output();
  ASSERT_TRUE(eventually([&] {
    return run({"get", "pods", "-l", "app=web", "-o", "name"}).out.empty() &&
           !run({"get", "pods", "-l", "app=web2", "-o", "name"}).out.empty() &&
           get(port, "/").second == "v1";
  })) << output();
  EXPECT_EQ(run({"get", "deploy/web", "-o", "jsonpath={.spec.selector.matchLabels.app}"}).out,
            "web2");
}

}  // namespace
}  // namespace ticketctl
