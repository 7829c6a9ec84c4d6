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

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <regex>

#include "runtime/manifest/json.h"
#include "tests/support/background.h"
#include "tests/support/eventually.h"
#include "tests/support/kubectl.h"
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
  // `up -d --timeout 180s` from the fresh clone, the Secret created the course's way while `up`
  // waits for it (once the auth pod says it is missing); returns up's result.
  Result up_creating_the_secret() {
    testing::Background up(
        testing::ticketctl_argv({"up", "-d", "--timeout", "180s", "--state-dir", state_.string()}),
        tmp_.path() / "bg.out", repo_,
        {{"TICKETCTL_INGRESS_HTTP", "0"}, {"TICKETCTL_INGRESS_HTTPS", "0"}});
    EXPECT_TRUE(testing::eventually(
        [&] { return waiting_reason("auth-depl") == "CreateContainerConfigError"; },
        std::chrono::seconds(180)))
        << run({"get", "pods"}).out << testing::slurp(tmp_.path() / "bg.out");
    const Result secret =
        run({"create", "secret", "generic", "jwt-secret", "--from-literal=JWT_KEY=asdf"});
    EXPECT_EQ(secret.status, 0) << secret.err;
    // `up` gives up by itself after its 180 s timeout.
    const int status = up.wait(std::chrono::seconds(240));
    return {status, up.out(), up.err()};
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
  // Installed first (ContainerCreating), then the auth pod waits for its Secret.
  const Result first = up_creating_the_secret();
  EXPECT_TRUE(fs::exists(repo_ / "auth/node_modules/express/package.json"));
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

// The commands the course types, with real kubectl, against what `up` started from the fresh
// clone: its `kubectl apply -f infra/k8s` (legacy Ingress and all), a shell command in a pod,
// stdin, a copy out, a port-forward, what describe and get nodes show, and a rollout restart
// that a later `up` keeps.
TEST_F(CourseRepoTest, TheCoursesKubectlCommandsWorkAfterUp) {
  if (!testing::kubectl_installed())
    GTEST_SKIP() << "kubectl is not on PATH (it is not packaged by Debian); skipped";
  const Result up = up_creating_the_secret();
  ASSERT_EQ(up.status, 0) << up.out << up.err;
  auto kubectl = [&](const std::string& args) {
    return testing::kubectl(state_ / "kubeconfig", args, repo_, tmp_.path());
  };

  const Result apply = kubectl("apply -f infra/k8s");
  EXPECT_EQ(apply.status, 0) << apply.out << apply.err;
  EXPECT_TRUE(has(apply.out, "deployment.apps/auth-depl unchanged")) << apply.out;
  EXPECT_TRUE(has(apply.out, "ingress.networking.k8s.io/ingress-service")) << apply.out;
  // The only warning is the one naming the legacy Ingress's conversion.
  EXPECT_FALSE(has(apply.err, "last-applied-configuration")) << apply.err;
  EXPECT_TRUE(has(apply.err, "Warning: networking.k8s.io/v1beta1 Ingress")) << apply.err;

  const std::string pod =
      kubectl("get pods -l app=auth -o jsonpath='{.items[0].metadata.name}'").out;
  ASSERT_TRUE(pod.starts_with("auth-depl-")) << pod;
  const Result exec = kubectl(
      "exec " + pod + " -- node -e 'console.log(process.env.JWT_KEY.length); process.exit(3)'");
  EXPECT_EQ(exec.status, 3) << exec.err;
  EXPECT_EQ(exec.out, "4\n");
  std::ofstream(tmp_.path() / "stdin.txt") << "typed into the pod\n";
  const Result input =
      kubectl("exec -i " + pod + " -- node -e 'process.stdin.pipe(process.stdout)' < '" +
              (tmp_.path() / "stdin.txt").string() + "'");
  EXPECT_EQ(input.status, 0) << input.err;
  EXPECT_EQ(input.out, "typed into the pod\n");
  const Result cp =
      kubectl("cp " + pod + ":package.json '" + (tmp_.path() / "copied.json").string() + "'");
  EXPECT_EQ(cp.status, 0) << cp.err;
  EXPECT_EQ(testing::slurp(tmp_.path() / "copied.json"),
            testing::slurp(repo_ / "auth/package.json"));

  // port-forward to a local port kubectl picks, then a request through it.
  const fs::path forward = tmp_.path() / "forward.out";
  const std::string start =
      "cd '" + repo_.string() + "' && KUBECONFIG='" + (state_ / "kubeconfig").string() +
      "' timeout 60 kubectl port-forward svc/auth-srv :3000 >'" + forward.string() +
      "' 2>&1 & echo $! >'" + (tmp_.path() / "forward.pid").string() + "'";
  ASSERT_EQ(std::system(start.c_str()), 0);
  int local_port = 0;
  EXPECT_TRUE(testing::eventually(
      [&] {
        const std::string out = testing::slurp(forward);
        const size_t at = out.find("Forwarding from 127.0.0.1:");
        if (at == std::string::npos) return false;
        local_port = std::atoi(out.c_str() + at + 26);
        return local_port > 0;
      },
      std::chrono::seconds(20)))
      << testing::slurp(forward);
  if (local_port > 0) {
    httplib::Client client("127.0.0.1", local_port);
    client.set_read_timeout(10, 0);
    const httplib::Result r = client.Get("/api/users/currentuser");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(Json::parse(r->body)["jwtKeyLength"], 4);
  }
  ::kill(std::atoi(testing::slurp(tmp_.path() / "forward.pid").c_str()), SIGTERM);

  const Result svc = kubectl("describe svc auth-srv");
  EXPECT_TRUE(std::regex_search(svc.out, std::regex(R"(Endpoints:\s+127\.\d+\.\d+\.\d+:3000)")))
      << svc.out;
  const Result nodes = kubectl("get nodes --no-headers");
  EXPECT_EQ(std::count(nodes.out.begin(), nodes.out.end(), '\n'), 1) << nodes.out;
  EXPECT_TRUE(has(nodes.out, "localhost") && has(nodes.out, " Ready ")) << nodes.out;

  // A rollout restart, then `down` and `up` re-applying the manifests: the restart stays.
  const std::string restarted_at =
      "'{.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}'";
  ASSERT_EQ(kubectl("rollout restart deploy/auth-depl").status, 0);
  ASSERT_EQ(kubectl("rollout status deploy/auth-depl --timeout=120s").status, 0);
  const std::string stamp = kubectl("get deploy auth-depl -o jsonpath=" + restarted_at).out;
  ASSERT_FALSE(stamp.empty());
  const std::string replicasets = kubectl("get rs -o name").out;
  ASSERT_EQ(run({"down"}).status, 0);
  const Result again = run({"up", "-d", "--timeout", "180s"});
  ASSERT_EQ(again.status, 0) << again.out << again.err;
  EXPECT_EQ(kubectl("get deploy auth-depl -o jsonpath=" + restarted_at).out, stamp);
  EXPECT_EQ(kubectl("get rs -o name").out, replicasets);
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
