// A learner's course repository from a fresh clone (tests/fixtures/course-repo, copied to a
// temporary directory): three Node services with real npm dependencies from the registry and no
// node_modules, Dockerfiles `COPY package.json ./ / RUN npm install`, a legacy regex Ingress in
// infra/k8s, skaffold.yaml naming the manifests and artifacts, a ticketctl.yaml holding only
// `ingress:`, and a Secret one service needs. `up -d --timeout 180s` installs every service's
// dependencies before its pods start, the secret created the course's way unblocks the waiting
// pod, and the services answer through the ingress. A second `up` does not install again.
// Needs npm and the npm registry: skipped, saying so, without them. Labelled slow.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>

#include "runtime/manifest/json.h"
#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using testing::Result;
using testing::ticketctl;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// `ticketctl ARGS` started in `cwd` without waiting, its output going to files: the test creates
// the secret while `up --timeout` waits for it.
class Background {
 public:
  Background(std::vector<std::string> args, const fs::path& cwd, const fs::path& dir)
      : out_(dir / "bg.out"), err_(dir / "bg.err") {
    args.insert(args.begin(), TICKETCTL_BIN);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setenv("TICKETCTL_INGRESS_HTTP", "0", 0);
      ::setenv("TICKETCTL_INGRESS_HTTPS", "0", 0);
      if (::chdir(cwd.c_str()) != 0) ::_exit(126);
      ::dup2(::open("/dev/null", O_RDONLY), 0);
      ::dup2(::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 1);
      ::dup2(::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  Result wait() {
    int wstatus = 0;
    ::waitpid(pid_, &wstatus, 0);
    pid_ = -1;
    return {WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus),
            testing::slurp(out_), testing::slurp(err_)};
  }
  ~Background() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

 private:
  fs::path out_, err_;
  pid_t pid_ = -1;
};

class CourseRepoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("command -v npm >/dev/null 2>&1") != 0)
      GTEST_SKIP() << "npm is not installed; the course repository's installs need it; skipped";
    if (std::system("npm ping >/dev/null 2>&1") != 0)
      GTEST_SKIP() << "the npm registry does not answer (`npm ping` failed); skipped";
    fs::copy(fs::path(TICKETCTL_SOURCE_DIR) / "tests/fixtures/course-repo", repo_,
             fs::copy_options::recursive);
  }
  void TearDown() override {
    if (fs::exists(repo_)) ticketctl({"down", "--state-dir", state_.string()}, "", repo_.string());
  }
  Result run(std::vector<std::string> args) {
    args.push_back("--state-dir");
    args.push_back(state_.string());
    return ticketctl(std::move(args), "", repo_.string());
  }
  // The waiting reason of the first container of the pod whose name starts with `prefix`.
  std::string waiting_reason(const std::string& prefix) {
    const Result r = run({"get", "pods", "-o", "json"});
    if (r.status != 0) return "";
    const Json pods = Json::parse(r.out);
    for (const Json& pod : pods["items"])
      if (pod["metadata"]["name"].get<std::string>().starts_with(prefix))
        for (const Json& c : pod["status"].value("containerStatuses", Json::array()))
          if (c["state"].contains("waiting")) return c["state"]["waiting"].value("reason", "");
    return "";
  }
  httplib::Result get(const std::string& path) {
    const Json ports = Json::parse(testing::slurp(state_ / "ingress.json"));
    httplib::Client client("127.0.0.1", ports["http"].get<int>());
    client.set_read_timeout(10, 0);
    return client.Get(path, {{"Host", "ticketing.dev"}});
  }
  testing::TempDir tmp_{"ticketctl-course"};
  const fs::path repo_ = tmp_.path() / "repo";
  const fs::path state_ = tmp_.path() / "state";
};

TEST_F(CourseRepoTest, FreshCloneInstallsStartsAndServesThroughTheIngress) {
  ASSERT_FALSE(fs::exists(repo_ / "auth/node_modules"));
  const auto first_start = std::chrono::steady_clock::now();
  Background up({"up", "-d", "--timeout", "180s", "--state-dir", state_.string()}, repo_,
                tmp_.path());
  // Installed first (ContainerCreating), then the auth pod waits for its Secret.
  ASSERT_TRUE(testing::eventually(
      [&] { return waiting_reason("auth-depl") == "CreateContainerConfigError"; },
      std::chrono::seconds(180)))
      << run({"get", "pods"}).out << testing::slurp(tmp_.path() / "bg.out");
  EXPECT_TRUE(fs::exists(repo_ / "auth/node_modules/express/package.json"));
  const Result secret =
      run({"create", "secret", "generic", "jwt-secret", "--from-literal=JWT_KEY=asdf"});
  ASSERT_EQ(secret.status, 0) << secret.err;
  const Result first = up.wait();
  const double first_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - first_start).count();
  ASSERT_EQ(first.status, 0) << first.out << first.err;
  // skaffold.yaml still names the manifests beside a ticketctl.yaml that sets only `ingress:`.
  EXPECT_TRUE(has(first.out, "deployment.apps/auth-depl created")) << first.out;
  for (const char* svc : {"auth", "tickets", "client"}) {
    EXPECT_TRUE(has(first.out, fmt::format(" - image learner/{}: installing dependencies: npm "
                                           "install (in {})",
                                           svc, (repo_ / svc).string())))
        << first.out;
    EXPECT_TRUE(has(first.out, fmt::format(" - image learner/{}: dependencies installed in ", svc)))
        << first.out;
  }
  EXPECT_TRUE(has(first.out, "Deployments stabilized in")) << first.out;
  EXPECT_TRUE(fs::exists(repo_ / "tickets/node_modules/axios"));
  EXPECT_TRUE(fs::exists(repo_ / "client/node_modules/.bin/nodemon"));

  // The legacy regex Ingress routes to each service; tickets calls auth by its Service name.
  // Without a readiness probe a pod is ready once started, before node listens: retry briefly.
  auto answer = [&](const std::string& path) {
    std::string body;
    testing::eventually(
        [&] {
          auto r = get(path);
          if (!r || r->status != 200) return false;
          body = r->body;
          return true;
        },
        std::chrono::seconds(30));
    return body;
  };
  EXPECT_EQ(Json::parse(answer("/api/users/currentuser"))["jwtKeyLength"], 4);
  EXPECT_EQ(answer("/api/tickets"), R"({"service":"tickets","tickets":[],"auth":"auth"})");
  EXPECT_EQ(answer("/"), "<h1>client</h1>");

  // Again after `down`: package.json unchanged, nothing is installed (the build record of the
  // first run stays), and the services answer again.
  const std::string record = testing::slurp(state_ / "builds/learner_auth.json");
  ASSERT_EQ(run({"down"}).status, 0);
  const auto second_start = std::chrono::steady_clock::now();
  const Result second = run({"up", "-d", "--timeout", "180s"});
  ASSERT_EQ(second.status, 0) << second.out << second.err;
  EXPECT_EQ(answer("/api/tickets"), R"({"service":"tickets","tickets":[],"auth":"auth"})");
  const double second_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - second_start).count();
  EXPECT_FALSE(has(second.out, "installing dependencies")) << second.out;
  EXPECT_EQ(testing::slurp(state_ / "builds/learner_auth.json"), record);
  // Said on `up`'s output while it waits, else in the detached control plane's log.
  EXPECT_TRUE(has(second.out + testing::slurp(state_ / "controlplane.log"),
                  " - image learner/auth: up to date"))
      << second.out;
  std::cout << fmt::format(
      "[figures] fresh clone to all Ready: {:.1f}s (installs included); "
      "second up with the installs cached: {:.1f}s\n",
      first_s, second_s);
}

// A dependency the registry does not have fails the install: the image's pods wait with
// BuildFailed and npm's last lines; the whole output is kept in the state directory.
TEST_F(CourseRepoTest, AFailedInstallFailsThatImagesPodsWithItsLastLines) {
  std::ofstream(repo_ / "auth/package.json")
      << R"({"name": "auth", "scripts": {"start": "node index.js"},
             "dependencies": {"ticketctl-test-no-such-package-0": "1.0.0"}})";
  fs::remove(repo_ / "infra/k8s/tickets-depl.yaml");
  fs::remove(repo_ / "infra/k8s/client-depl.yaml");
  ASSERT_EQ(run({"up", "-d"}).status, 0);
  ASSERT_TRUE(testing::eventually([&] { return waiting_reason("auth-depl") == "BuildFailed"; },
                                  std::chrono::seconds(60)))
      << run({"get", "pods"}).out;
  const Result pods = run({"get", "pods", "-o", "json"});
  const std::string message =
      Json::parse(
          pods.out)["items"][0]["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
          .get<std::string>();
  EXPECT_TRUE(has(message, "the build of image learner/auth failed:")) << message;
  // npm's own explanation, and the whole output beside the build's records.
  EXPECT_TRUE(has(message, "ticketctl-test-no-such-package-0")) << message;
  EXPECT_TRUE(has(testing::slurp(state_ / "builds/learner_auth.log"), "404")) << message;
}

}  // namespace
}  // namespace ticketctl
