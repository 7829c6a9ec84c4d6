// Limits a cluster has, against the real binary and real control planes on loopback: two
// projects never share a nodePort, a Service port some other program holds fails `up` and
// stores nothing, as does a busy ingress port, and `apply` stops at the first lost connection.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "runtime/manifest/json.h"
#include "runtime/store/store.h"
#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using testing::eventually;
using testing::Result;
using testing::ticketctl;

// A socket listening on 127.0.0.1 at a free port of the nodePort range: "some other program".
class Squatter {
 public:
  Squatter() {
    std::mt19937 rng(static_cast<unsigned>(::getpid()) * 7919u);
    for (int attempt = 0; attempt < 500 && port_ == 0; ++attempt) {
      const int port = 30000 + static_cast<int>(rng() % 2768);
      fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(port));
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
          ::listen(fd_, 1) == 0) {
        port_ = port;
        break;
      }
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~Squatter() {
    if (fd_ >= 0) ::close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

bool connects(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string node_port_service(const std::string& name, int node_port = 0) {
  return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name +
         "}\nspec:\n  type: NodePort\n  selector: {app: " + name +
         "}\n  ports: [{port: 3000, targetPort: 3000" +
         (node_port ? ", nodePort: " + std::to_string(node_port) : std::string()) + "}]\n";
}

const std::string kConfigMap =
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {MODE: test}\n";

class ScaleTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const fs::path& dir : {a_, b_}) ticketctl({"down", "--state-dir", dir.string()});
  }
  Result run(const fs::path& state, std::vector<std::string> args) {
    args.push_back("--state-dir");
    args.push_back(state.string());
    return ticketctl(std::move(args));
  }
  fs::path write(const std::string& name, const std::string& text) {
    const fs::path p = tmp_.path() / name;
    std::ofstream(p) << text;
    return p;
  }
  int node_port(const fs::path& state, const std::string& service) {
    Result r = run(state, {"get", "svc", service, "-o", "json"});
    EXPECT_EQ(r.status, 0) << r.err;
    const Json s = Json::parse(r.out, nullptr, false);
    return s.is_object() ? s["spec"]["ports"][0].value("nodePort", 0) : 0;
  }
  // What a control plane that is not running left in its store.
  std::vector<std::string> stored(const fs::path& state, const std::string& resource) {
    auto s = store::Store::open(state / "state.db");
    EXPECT_TRUE(s.ok());
    std::vector<std::string> names;
    if (!s.ok()) return names;
    for (const Json& o : s.value()->list(resource, "default"))
      names.push_back(o["metadata"]["name"].get<std::string>());
    return names;
  }
  testing::TempDir tmp_{"ticketctl-scale"};
  const fs::path a_ = tmp_.path() / "a", b_ = tmp_.path() / "b";
};

TEST_F(ScaleTest, TwoProjectsWithTheSameNodePortServiceNeverShareANodePort) {
  // The same name in both projects: without a shared registry both would pick the same port.
  const fs::path manifest = write("web.yaml", node_port_service("web-srv"));
  Result up_a = run(a_, {"up", "-d", "-f", manifest.string()});
  ASSERT_EQ(up_a.status, 0) << up_a.out << up_a.err;
  Result up_b = run(b_, {"up", "-d", "-f", manifest.string()});
  ASSERT_EQ(up_b.status, 0) << up_b.out << up_b.err;
  const int port_a = node_port(a_, "web-srv"), port_b = node_port(b_, "web-srv");
  ASSERT_NE(port_a, 0);
  ASSERT_NE(port_b, 0);
  EXPECT_NE(port_a, port_b);
  // Each project serves its own port.
  EXPECT_TRUE(connects(port_a));
  EXPECT_TRUE(connects(port_b));

  // Once project a is down its port is free: b asking for it by number gets it.
  ASSERT_EQ(run(a_, {"down"}).status, 0);
  EXPECT_TRUE(eventually([&] { return !connects(port_a); }, std::chrono::seconds(10)));
  const fs::path asks = write("asks.yaml", node_port_service("other-srv", port_a));
  Result taken = run(b_, {"apply", "-f", asks.string()});
  EXPECT_EQ(taken.status, 0) << taken.err;
  EXPECT_EQ(node_port(b_, "other-srv"), port_a);

  // And a project that asks for a port another one holds is refused, naming that project.
  const fs::path asks_b = write("asks-b.yaml", node_port_service("third-srv", port_b));
  Result up_a_again = run(a_, {"up", "-d", "-f", asks_b.string()});
  EXPECT_EQ(up_a_again.status, 1) << up_a_again.out;
  EXPECT_NE((up_a_again.out + up_a_again.err).find("another ticketctl project"), std::string::npos)
      << up_a_again.out << up_a_again.err;
  EXPECT_NE((up_a_again.out + up_a_again.err).find(b_.string()), std::string::npos);
}

TEST_F(ScaleTest, AServicePortAnotherProgramHoldsFailsUpAndNothingIsStored) {
  Squatter squatter;
  ASSERT_NE(squatter.port(), 0) << "no free port in the nodePort range";
  const fs::path dir = tmp_.path() / "app";
  fs::create_directories(dir);
  std::ofstream(dir / "config.yaml") << kConfigMap;
  std::ofstream(dir / "web.yaml") << node_port_service("web-srv", squatter.port());
  Result up = run(a_, {"up", "-d", "-f", dir.string()});
  EXPECT_EQ(up.status, 1) << up.out << up.err;
  const std::string said = up.out + up.err;
  EXPECT_NE(said.find("service default/web-srv: cannot listen on 127.0.0.1:" +
                      std::to_string(squatter.port())),
            std::string::npos)
      << said;
  EXPECT_NE(said.find("nothing was applied"), std::string::npos) << said;
  EXPECT_EQ(said.find("configmap/settings created"), std::string::npos) << said;
  EXPECT_TRUE(stored(a_, "configmaps").empty());
  EXPECT_TRUE(stored(a_, "services").empty());
}

TEST_F(ScaleTest, ABusyIngressPortFailsUpAndNothingIsStored) {
  Squatter squatter;
  ASSERT_NE(squatter.port(), 0);
  const fs::path manifest = write("config.yaml", kConfigMap);
  ::setenv("TICKETCTL_INGRESS_HTTP", std::to_string(squatter.port()).c_str(), 1);
  Result up = run(a_, {"up", "-d", "-f", manifest.string()});
  ::setenv("TICKETCTL_INGRESS_HTTP", "0", 1);
  EXPECT_EQ(up.status, 1) << up.out << up.err;
  EXPECT_NE((up.out + up.err).find(std::to_string(squatter.port())), std::string::npos)
      << up.out << up.err;
  EXPECT_TRUE(stored(a_, "configmaps").empty());
  // The next `up` on the same directory starts clean.
  Result again = run(a_, {"up", "-d"});
  ASSERT_EQ(again.status, 0) << again.out << again.err;
  Result get = run(a_, {"get", "configmaps", "-o", "name"});
  EXPECT_EQ(get.out.find("settings"), std::string::npos) << get.out;
}

TEST_F(ScaleTest, ApplyStopsAtTheFirstLostConnectionWithOneErrorAndExitOne) {
  ASSERT_EQ(run(a_, {"up", "-d", "--empty"}).status, 0);
  std::string many;
  constexpr int kObjects = 3000;
  for (int i = 0; i < kObjects; ++i)
    many += "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-" + std::to_string(i) +
            "}\ndata: {KEY: v}\n---\n";
  const fs::path manifest = write("many.yaml", many);
  const fs::path out = tmp_.path() / "apply.out", err = tmp_.path() / "apply.err";
  const pid_t apply = ::fork();
  if (apply == 0) {
    ::dup2(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 1);
    ::dup2(::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 2);
    ::execl(TICKETCTL_BIN, TICKETCTL_BIN, "apply", "-f", manifest.c_str(), "--state-dir",
            a_.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Once the first objects are in, the control plane dies.
  ASSERT_TRUE(
      eventually([&] { return testing::slurp(out).find("cm-20 created") != std::string::npos; },
                 std::chrono::seconds(60)));
  const Json api = Json::parse(testing::slurp(a_ / "apiserver.json"));
  ASSERT_EQ(::kill(api["pid"].get<int>(), SIGKILL), 0);
  int ws = 0;
  ASSERT_TRUE(eventually([&] { return ::waitpid(apply, &ws, WNOHANG) == apply; },
                         std::chrono::seconds(30)));
  ASSERT_TRUE(WIFEXITED(ws));
  EXPECT_EQ(WEXITSTATUS(ws), 1);
  const std::string errors = testing::slurp(err), lines = testing::slurp(out);
  EXPECT_EQ(std::count(errors.begin(), errors.end(), '\n'), 1) << errors;
  EXPECT_NE(errors.find("cannot reach the control plane"), std::string::npos) << errors;
  EXPECT_NE(errors.find("the rest were not sent"), std::string::npos) << errors;
  EXPECT_LT(std::count(lines.begin(), lines.end(), '\n'), kObjects);
}

}  // namespace
}  // namespace ticketctl
