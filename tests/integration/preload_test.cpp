// libticketctl_net.so preloaded into real programs (small C programs, node, curl): what a pod
// process observes about binds, names and connects. Every "pod" gets a random 127.80.x.y IP and
// every Service a random 127.96.x.y one, so parallel test processes do not collide.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "runtime/net/net_table.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ticketctl::net::BalancedPort;
using ticketctl::net::format_net_table;
using ticketctl::net::Redirect;
using ticketctl::net::ServiceEntry;
using Env = std::map<std::string, std::string>;

std::mt19937& rng() {
  static std::mt19937 gen(static_cast<unsigned>(::getpid()) ^
                          static_cast<unsigned>(std::random_device{}()));
  return gen;
}

std::string random_ip(const std::string& prefix) {
  std::uniform_int_distribution<int> octet(1, 254);
  return prefix + "." + std::to_string(octet(rng())) + "." + std::to_string(octet(rng()));
}

uint16_t random_port() {
  return std::uniform_int_distribution<int>(20000, 59999)(rng());
}

// A port nobody listens on, on any address: we could bind the wildcard to it just now.
uint16_t free_port() {
  for (;;) {
    const uint16_t port = random_port();
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&in), sizeof in) == 0;
    ::close(fd);
    if (ok) return port;
  }
}

std::optional<std::string> find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  for (size_t start = 0; start <= dirs.size();) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const fs::path candidate = fs::path(dirs.substr(start, end - start)) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  return std::nullopt;
}

// A child process with a pipe on stdin (closing it ends our helper programs) and one on stdout
// that the test reads line by line with a deadline.
class Child {
 public:
  Child(std::vector<std::string> argv, const Env& extra_env) {
    Env env;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string kv = *e;
      const std::string key = kv.substr(0, kv.find('='));
      if (key != "LD_PRELOAD" && key.rfind("TICKETCTL_", 0) != 0)
        env[key] = kv.substr(key.size() + 1);
    }
    for (const auto& [k, v] : extra_env) env[k] = v;
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp, args;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    for (auto& s : argv) args.push_back(s.data());
    args.push_back(nullptr);

    int in[2], out[2];
    EXPECT_EQ(::pipe2(in, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    const int err = ::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(err, 0) << "cannot start " << argv[0];
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
  }
  ~Child() {
    if (stdin_ >= 0) ::close(stdin_);
    ::close(stdout_);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // The next line of output, or "<timeout>" / "<eof>".
  std::string read_line(std::chrono::milliseconds timeout = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "<timeout>";
      pollfd p{stdout_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[4096];
      const ssize_t n = ::read(stdout_, chunk, sizeof chunk);
      if (n <= 0) return "<eof>";
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  // Sends one command line and returns the one line it answers.
  std::string ask(const std::string& command) {
    const std::string line = command + "\n";
    EXPECT_EQ(::write(stdin_, line.data(), line.size()), static_cast<ssize_t>(line.size()));
    return read_line();
  }

  int wait_exit() {
    ::close(stdin_);
    stdin_ = -1;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1, stdout_ = -1;
  std::string buffer_;
};

// One HTTP GET from the test process itself (no preload): the first line of the body.
std::string http_get(const std::string& ip, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &in.sin_addr);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&in), sizeof in) == 0) {
    const std::string request = "GET / HTTP/1.0\r\nHost: test\r\n\r\n";
    (void)!::write(fd, request.data(), request.size());
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) response.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (body == std::string::npos) return "<no response>";
  std::string text = response.substr(body + 4);
  return text.substr(0, text.find('\n'));
}

class Preload : public ::testing::Test {
 protected:
  Preload() : dir_("ticketctl-preload"), table_(dir_.path() / "net-table") { write_table({}, {}); }

  // Replaces the table as the control plane does: a new file renamed over the old one.
  void write_table(const std::vector<ServiceEntry>& services,
                   const std::vector<Redirect>& redirects = {},
                   const std::vector<BalancedPort>& balanced = {},
                   const std::vector<std::string>& tapped = {}) {
    const fs::path tmp = table_.string() + ".tmp";
    std::ofstream(tmp) << format_net_table(services, redirects, balanced, tapped);
    fs::rename(tmp, table_);
  }

  Env pod(const std::string& ip, const std::string& ns = "default",
          const std::string& ports = "") const {
    return {{"LD_PRELOAD", PRELOAD_LIBRARY},
            {"TICKETCTL_POD_IP", ip},
            {"TICKETCTL_POD_NAMESPACE", ns},
            {"TICKETCTL_POD_PORTS", ports},
            {"TICKETCTL_NET_TABLE", table_.string()}};
  }

  ticketctl::testing::TempDir dir_;
  fs::path table_;
};

TEST(NetTableFormat, WritesServicesAndRedirectsOnePerLine) {
  EXPECT_EQ(format_net_table({{"auth-srv", "default", {"127.96.0.5"}},
                              {"db", "shop", {"127.80.0.7", "127.80.0.9"}},
                              {"idle", "shop", {}}},
                             {{"127.96.0.5", 80, "127.96.0.5", 31000}}),
            "# ticketctl net table v1\n"
            "svc auth-srv default 127.96.0.5\n"
            "svc db shop 127.80.0.7,127.80.0.9\n"
            "svc idle shop -\n"
            "redirect 127.96.0.5 80 127.96.0.5 31000\n");
}

TEST(NetTableFormat, LeavesOutEntriesThatWouldBreakTheLineFormat) {
  EXPECT_EQ(format_net_table({{"bad name", "default", {"127.96.0.5"}},
                              {"ok", "default", {"127.96.0.6"}},
                              {"comma", "default", {"1.2.3.4,5.6.7.8"}}},
                             {{"127.96.0.5", 0, "127.96.0.5", 31000}}),
            "# ticketctl net table v1\nsvc ok default 127.96.0.6\n");
}

TEST(NetTableFormat, WritesBalancedPortsWithTheirEndpoints) {
  EXPECT_EQ(
      format_net_table({}, {},
                       {{"127.96.0.5", 80, false, {{"127.80.0.7", 3000}, {"127.80.0.9", 3001}}},
                        {"127.96.0.6", 4000, true, {}},
                        {"127.96.0.7", 5000, false, {{"bad ip", 1}, {"127.80.0.2", 0}}}}),
      "# ticketctl net table v1\n"
      "backends 127.96.0.5 80 none 127.80.0.7:3000,127.80.0.9:3001\n"
      "backends 127.96.0.6 4000 clientip -\n"
      "backends 127.96.0.7 5000 none -\n");
}

TEST(NetTableFormat, WritesTappedPodsLast) {
  EXPECT_EQ(format_net_table({}, {}, {{"127.96.0.5", 80, false, {{"127.80.0.7", 3000}}}},
                             {"127.80.0.9", "bad ip", "127.80.0.3"}),
            "# ticketctl net table v1\n"
            "backends 127.96.0.5 80 none 127.80.0.7:3000\n"
            "tapped 127.80.0.9\n"
            "tapped 127.80.0.3\n");
}

TEST_F(Preload, WildcardAndLocalhostBindsGoToThePodIp) {
  const std::string ip = random_ip("127.80");
  const uint16_t p1 = free_port(), p2 = free_port(), p3 = free_port(), p4 = free_port();
  Child server({PRELOAD_SERVER, "a", "0.0.0.0", std::to_string(p1), "::", std::to_string(p2),
                "127.0.0.1", std::to_string(p3), "::1", std::to_string(p4)},
               pod(ip));
  EXPECT_EQ(server.read_line(), "listening " + ip + " " + std::to_string(p1));
  EXPECT_EQ(server.read_line(), "listening ::ffff:" + ip + " " + std::to_string(p2));
  EXPECT_EQ(server.read_line(), "listening " + ip + " " + std::to_string(p3));
  EXPECT_EQ(server.read_line(), "listening ::ffff:" + ip + " " + std::to_string(p4));
  EXPECT_EQ(server.read_line(), "ready");
  EXPECT_EQ(http_get(ip, p2), "a");  // the dual-stack listener takes IPv4 on the pod IP
}

TEST_F(Preload, WithoutAPodIpNothingIsRewritten) {
  const uint16_t port = free_port();
  Env env = pod("");
  env.erase("TICKETCTL_POD_IP");
  Child server({PRELOAD_SERVER, "a", "0.0.0.0", std::to_string(port)}, env);
  EXPECT_EQ(server.read_line(), "listening 0.0.0.0 " + std::to_string(port));
}

TEST_F(Preload, TwoPodsListenOnTheSamePort) {
  const std::string ip_a = random_ip("127.80"), ip_b = random_ip("127.80");
  ASSERT_NE(ip_a, ip_b);
  for (int attempt = 0; attempt < 5; ++attempt) {
    const std::string port = std::to_string(random_port());
    Child a({PRELOAD_SERVER, "pod a", "0.0.0.0", port}, pod(ip_a));
    Child b({PRELOAD_SERVER, "pod b", "::", port}, pod(ip_b));
    const std::string line_a = a.read_line(), line_b = b.read_line();
    if (line_a.rfind("bind-error", 0) == 0 || line_b.rfind("bind-error", 0) == 0) continue;
    EXPECT_EQ(line_a, "listening " + ip_a + " " + port);
    EXPECT_EQ(line_b, "listening ::ffff:" + ip_b + " " + port);
    EXPECT_EQ(http_get(ip_a, static_cast<uint16_t>(std::stoi(port))), "pod a");
    EXPECT_EQ(http_get(ip_b, static_cast<uint16_t>(std::stoi(port))), "pod b");
    return;
  }
  FAIL() << "no free shared port found in 5 attempts";
}

TEST_F(Preload, ServiceNamesResolveInEveryFormOfTheSearchPath) {
  const std::string orders = random_ip("127.96"), auth = random_ip("127.96");
  const std::string h1 = random_ip("127.80"), h2 = random_ip("127.80");
  write_table({{"orders", "shop", {orders}},
               {"auth", "default", {auth}},
               {"pods", "shop", {h1, h2}},
               {"idle", "shop", {}}});
  Child client({PRELOAD_CLIENT}, pod(random_ip("127.80"), "shop"));
  ASSERT_EQ(client.read_line(), "ready");
  const std::string stream = orders + "/80/1/6";
  for (const std::string name :
       {"orders", "orders.shop", "orders.shop.svc", "orders.shop.svc.cluster.local",
        "ORDERS.Shop.Svc.Cluster.Local.", "orders.shop.svc.cluster.local."})
    EXPECT_EQ(client.ask("gai " + name + " inet - http stream"), "ok " + stream) << name;
  // Without a socktype glibc returns one entry per socktype; so must we.
  EXPECT_EQ(client.ask("gai orders unspec canon - 0"), "ok canon=orders.shop.svc.cluster.local " +
                                                           orders + "/0/1/6 " + orders +
                                                           "/0/2/17 " + orders + "/0/3/0");
  EXPECT_EQ(client.ask("gai orders unspec - 8080 dgram"), "ok " + orders + "/8080/2/17");
  EXPECT_EQ(client.ask("gai orders inet6 - 80 stream"), "err EAI_NONAME");
  EXPECT_EQ(client.ask("gai orders inet6 v4mapped 80 stream"), "ok ::ffff:" + orders + "/80/1/6");
  EXPECT_EQ(client.ask("gai orders unspec - no-such-service stream"), "err EAI_SERVICE");
  EXPECT_EQ(client.ask("gai auth.default unspec - 80 stream"), "ok " + auth + "/80/1/6");
  EXPECT_EQ(client.ask("gai pods unspec - 80 stream"), "ok " + h1 + "/80/1/6 " + h2 + "/80/1/6");
  EXPECT_EQ(client.ask("gai idle unspec - 80 stream"), "err EAI_NONAME");
  // "auth" lives in namespace default, not in the pod's namespace shop: not ours to answer.
  EXPECT_NE(client.ask("gai auth unspec - 80 stream").find("err"), std::string::npos);
  // An absolute name skips the search path.
  EXPECT_NE(client.ask("gai orders. unspec - 80 stream").find("err"), std::string::npos);

  EXPECT_EQ(client.ask("ghbn orders"), "ok orders.shop.svc.cluster.local " + orders);
  EXPECT_EQ(client.ask("ghbn2 orders.shop inet"), "ok orders.shop.svc.cluster.local " + orders);
  EXPECT_EQ(client.ask("ghbn2 orders inet6"), "err herr=1");  // HOST_NOT_FOUND
  EXPECT_EQ(client.ask("ghbnr pods 1024"), "ok pods.shop.svc.cluster.local " + h1 + " " + h2);
  EXPECT_EQ(client.ask("ghbnr orders 16"), "err ret=34 herr=-1");  // ERANGE, NETDB_INTERNAL
  EXPECT_EQ(client.ask("ghbnr idle 1024"), "notfound herr=1");
  EXPECT_EQ(client.ask("ghbn2r orders.shop.svc inet 1024"),
            "ok orders.shop.svc.cluster.local " + orders);
}

TEST_F(Preload, NamesNotInTheTableFallThroughUnchanged) {
  write_table({{"localhost-svc", "default", {random_ip("127.96")}}});
  Child with({PRELOAD_CLIENT}, pod(random_ip("127.80")));
  Child without({PRELOAD_CLIENT}, {});
  ASSERT_EQ(with.read_line(), "ready");
  ASSERT_EQ(without.read_line(), "ready");
  for (const std::string command :
       {"gai localhost unspec canon 80 0", "gai localhost inet6 v4mapped - 0",
        "gai 127.0.0.1 unspec - http stream", "gai ::1 unspec - 80 stream", "ghbn localhost",
        "ghbn2 localhost inet6", "ghbnr localhost 1024",
        "gai not-a-service.default.svc.cluster.local unspec - 80 stream"}) {
    const std::string expected = without.ask(command);
    EXPECT_EQ(with.ask(command), expected) << command;
  }
}

TEST_F(Preload, ARunningProcessSeesTheTableReplaced) {
  Child client({PRELOAD_CLIENT}, pod(random_ip("127.80")));
  ASSERT_EQ(client.read_line(), "ready");
  EXPECT_NE(client.ask("gai tickets unspec - 80 stream").find("err"), std::string::npos);
  const std::string first = random_ip("127.96"), second = random_ip("127.96");
  write_table({{"tickets", "default", {first}}});
  EXPECT_EQ(client.ask("gai tickets unspec - 80 stream"), "ok " + first + "/80/1/6");
  write_table({{"tickets", "default", {second}}});
  EXPECT_EQ(client.ask("ghbn tickets"), "ok tickets.default.svc.cluster.local " + second);
  write_table({});
  EXPECT_NE(client.ask("gai tickets unspec - 80 stream").find("err"), std::string::npos);
}

TEST_F(Preload, ConnectToAClusterIpPrivilegedPortGoesToTheProxyListener) {
  const std::string cluster_ip = random_ip("127.96");
  const uint16_t proxy_port = free_port();
  // The Service proxy cannot bind port 80 unprivileged; it listens on a high port instead.
  Child proxy({PRELOAD_SERVER, "proxy", cluster_ip, std::to_string(proxy_port)}, {});
  ASSERT_EQ(proxy.read_line(), "listening " + cluster_ip + " " + std::to_string(proxy_port));
  write_table({{"web", "default", {cluster_ip}}}, {{cluster_ip, 80, cluster_ip, proxy_port}});
  Child client({PRELOAD_CLIENT}, pod(random_ip("127.80")));
  ASSERT_EQ(client.read_line(), "ready");
  EXPECT_EQ(client.ask("get web 80"), "got proxy");
  EXPECT_EQ(client.ask("getaddr " + cluster_ip + " 80"), "got proxy");
  EXPECT_EQ(client.ask("getaddr ::ffff:" + cluster_ip + " 80"), "got proxy");
  EXPECT_EQ(client.ask("get web " + std::to_string(proxy_port)), "got proxy");
}

// Three "replicas" of a Service, each a server on its own pod IP and port (named targetPorts may
// differ per pod). Nothing listens on the ClusterIP: a connect that reaches a replica went there
// directly.
class Balanced : public Preload {
 protected:
  void SetUp() override {
    for (const std::string name : {"one", "two", "three"}) {
      const std::string ip = random_ip("127.80");
      const uint16_t port = free_port();
      servers_.push_back(std::make_unique<Child>(
          std::vector<std::string>{PRELOAD_SERVER, name, ip, std::to_string(port)}, Env{}));
      ASSERT_EQ(servers_.back()->read_line(), "listening " + ip + " " + std::to_string(port));
      endpoints_.push_back({ip, port});
    }
  }
  void publish(std::vector<BalancedPort::Endpoint> endpoints, bool affinity = false) {
    write_table({{"web", "default", {cluster_ip_}}}, {},
                {{cluster_ip_, 80, affinity, std::move(endpoints)}});
  }
  // "peer web 80 <mode>" answered as expected for a balanced socket: the replica's greeting.
  std::string ask_replica(Child& client, const std::string& mode = "block") {
    const std::string line = client.ask("peer web 80 " + mode);
    std::smatch m;
    if (!std::regex_match(line, m,
                          std::regex("got (\\S+) peer " + cluster_ip_ + " 80 dup " + cluster_ip_ +
                                     " 80 local \\S+ \\d+")))
      return "unexpected: " + line;
    return m[1];
  }

  const std::string cluster_ip_ = random_ip("127.96");
  std::vector<std::unique_ptr<Child>> servers_;
  std::vector<BalancedPort::Endpoint> endpoints_;
};

TEST_F(Balanced, AConnectByServiceNameGoesStraightToEachReadyEndpoint) {
  publish(endpoints_);
  Child client({PRELOAD_CLIENT}, pod(random_ip("127.80")));
  ASSERT_EQ(client.read_line(), "ready");
  std::map<std::string, int> answered;
  for (int i = 0; i < 30; ++i) ++answered[ask_replica(client, i % 2 ? "block" : "nonblock")];
  // Round-robin within one process: 10 each.
  EXPECT_EQ(answered, (std::map<std::string, int>{{"one", 10}, {"two", 10}, {"three", 10}}));
}

TEST_F(Balanced, AnEndpointGoneFromTheTableIsNeverChosenOnceTheProcessCouldSeeIt) {
  publish(endpoints_);
  Child client({PRELOAD_CLIENT}, pod(random_ip("127.80")));
  ASSERT_EQ(client.read_line(), "ready");
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(ask_replica(client).rfind("unexpected", 0), std::string::npos);
  // "two" stays up, so a connect that still chose it would be answered by it.
  publish({endpoints_[0], endpoints_[2]});
  const auto removed = std::chrono::steady_clock::now();
  // Connects asked for from 100 ms after the rename on (a running process looks at the table at
  // most 100 ms apart), at least 10 of them, over 400 ms at least; a slow machine only waits more.
  std::map<std::string, int> late;
  int n_late = 0;
  for (auto elapsed = 0ms; elapsed < 400ms || n_late < 10;) {
    const auto asked = std::chrono::steady_clock::now();
    const std::string replica = ask_replica(client);
    if (asked - removed >= 100ms) {
      ++late[replica];
      ++n_late;
    }
    elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - removed);
    ASSERT_LT(elapsed, 60s) << "connects too slow";
  }
  EXPECT_EQ(late.count("two"), 0u);
  EXPECT_GT(late["one"], 0);
  EXPECT_GT(late["three"], 0);
  EXPECT_EQ(late.size(), 2u) << late.begin()->first;
}

TEST_F(Balanced, AnEndpointThatRefusesIsSkippedBeforeTheProgramSeesAnError) {
  // Two listed endpoints nobody listens on, around a live one: every connect, blocking or not,
  // ends on the live one.
  const BalancedPort::Endpoint dead_a{random_ip("127.80"), free_port()};
  const BalancedPort::Endpoint dead_b{random_ip("127.80"), free_port()};
  publish({dead_a, endpoints_[1], dead_b});
  Child client({PRELOAD_CLIENT}, pod(random_ip("127.80")));
  ASSERT_EQ(client.read_line(), "ready");
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(ask_replica(client, "block"), "two");
    EXPECT_EQ(ask_replica(client, "nonblock"), "two");
  }
  // When every endpoint refuses, the program sees the refusal; with none listed, too.
  publish({dead_a, dead_b});
  EXPECT_EQ(client.ask("peer web 80 block"), "err connect ECONNREFUSED");
  EXPECT_EQ(client.ask("peer web 80 nonblock"), "err connect ECONNREFUSED");
  publish({});
  EXPECT_EQ(client.ask("peer web 80 block"), "err connect ECONNREFUSED");
}

// While a tap follows a pod, the table names it `tapped`: its ClusterIP connects skip
// connect-time balancing and reach the relay (here a server on the ClusterIP's redirect target),
// while another pod keeps going straight to the replicas; when the line goes, so does the relay.
TEST_F(Balanced, ATappedPodsConnectsGoToTheRelayOthersStayBalanced) {
  const uint16_t relay_port = free_port();
  Child relay({PRELOAD_SERVER, "relay", cluster_ip_, std::to_string(relay_port)}, {});
  ASSERT_EQ(relay.read_line(), "listening " + cluster_ip_ + " " + std::to_string(relay_port));
  const std::string tapped_ip = random_ip("127.80"), other_ip = random_ip("127.80");
  const auto table = [&](std::vector<std::string> tapped) {
    write_table({{"web", "default", {cluster_ip_}}}, {{cluster_ip_, 80, cluster_ip_, relay_port}},
                {{cluster_ip_, 80, false, endpoints_}}, tapped);
  };
  table({tapped_ip});
  Child tapped({PRELOAD_CLIENT}, pod(tapped_ip));
  Child other({PRELOAD_CLIENT}, pod(other_ip));
  ASSERT_EQ(tapped.read_line(), "ready");
  ASSERT_EQ(other.read_line(), "ready");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(tapped.ask("get web 80"), "got relay");
    EXPECT_NE(other.ask("get web 80"), "got relay");
  }
  table({});
  Child untapped({PRELOAD_CLIENT}, pod(tapped_ip));  // a new process reads the table at once
  ASSERT_EQ(untapped.read_line(), "ready");
  for (int i = 0; i < 3; ++i) EXPECT_NE(untapped.ask("get web 80"), "got relay");
}

TEST_F(Balanced, ClientIpAffinityKeepsEveryProcessOfAPodOnOneEndpoint) {
  publish(endpoints_, true);
  const std::string pod_ip = random_ip("127.80");
  Child first({PRELOAD_CLIENT}, pod(pod_ip));
  Child second({PRELOAD_CLIENT}, pod(pod_ip));
  ASSERT_EQ(first.read_line(), "ready");
  ASSERT_EQ(second.read_line(), "ready");
  const std::string chosen = ask_replica(first);
  ASSERT_EQ(chosen.rfind("unexpected", 0), std::string::npos) << chosen;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(ask_replica(first), chosen);
    EXPECT_EQ(ask_replica(second), chosen);
  }
  // Removing another endpoint does not move the pod; removing its own does.
  std::vector<BalancedPort::Endpoint> others, without_chosen;
  const size_t index = chosen == "one" ? 0 : chosen == "two" ? 1 : 2;
  for (size_t i = 0; i < 3; ++i) {
    if (i != index) without_chosen.push_back(endpoints_[i]);
    if (i != (index + 1) % 3) others.push_back(endpoints_[i]);
  }
  publish(others, true);
  Child third({PRELOAD_CLIENT}, pod(pod_ip));  // a new process reads the new table at once
  ASSERT_EQ(third.read_line(), "ready");
  EXPECT_EQ(ask_replica(third), chosen);
  publish(without_chosen, true);
  Child fourth({PRELOAD_CLIENT}, pod(pod_ip));
  ASSERT_EQ(fourth.read_line(), "ready");
  const std::string moved = ask_replica(fourth);
  EXPECT_NE(moved, chosen);
  EXPECT_EQ(moved.rfind("unexpected", 0), std::string::npos) << moved;
}

TEST_F(Balanced, NodeSeesTheClusterIpAsItsPeerAndSurvivesARefusingEndpoint) {
  const auto node = find_in_path("node");
  if (!node) GTEST_SKIP() << "node is not installed; the Node.js check needs it";
  const BalancedPort::Endpoint dead{random_ip("127.80"), free_port()};
  publish({endpoints_[0], dead, endpoints_[2]});
  // libuv connects non-blocking and reads SO_ERROR after epoll; 12 requests, one connection each.
  const std::string client_js =
      "const get = () => new Promise((ok, bad) => { const s = require('net').connect(80, 'web');"
      "  let d = ''; s.on('connect', () => { d = s.remoteAddress + ':' + s.remotePort + ' ';"
      "    s.write('GET / HTTP/1.0\\r\\n\\r\\n'); });"
      "  s.on('data', (c) => d += c); s.on('end', () => ok(d)); s.on('error', bad); });"
      "(async () => { for (let i = 0; i < 12; ++i) { const r = await get();"
      "  console.log(r.split(' ')[0] + ' ' + r.trim().split('\\n').pop()); } })()"
      ".catch((e) => console.log('error ' + e.message));";
  Child client({*node, "-e", client_js}, pod(random_ip("127.80")));
  std::map<std::string, int> answered;
  for (int i = 0; i < 12; ++i) {
    const std::string line = client.read_line();
    const std::string prefix = cluster_ip_ + ":80 ";
    ASSERT_EQ(line.rfind(prefix, 0), 0u) << line;
    ++answered[line.substr(prefix.size())];
  }
  EXPECT_EQ(answered.size(), 2u);
  EXPECT_GT(answered["one"], 0);
  EXPECT_GT(answered["three"], 0);
}

TEST_F(Preload, LocalhostReachesTheOwnPodOnDeclaredPortsAndTheHostOtherwise) {
  const std::string ip = random_ip("127.80");
  const uint16_t pod_port = free_port(), host_port = free_port();
  const std::string ports = "9229," + std::to_string(pod_port);
  Child app({PRELOAD_SERVER, "pod", "127.0.0.1", std::to_string(pod_port)},
            pod(ip, "default", ports));
  ASSERT_EQ(app.read_line(), "listening " + ip + " " + std::to_string(pod_port));
  Child host({PRELOAD_SERVER, "host", "127.0.0.1", std::to_string(host_port)}, {});
  ASSERT_EQ(host.read_line(), "listening 127.0.0.1 " + std::to_string(host_port));

  Child sidecar({PRELOAD_CLIENT}, pod(ip, "default", ports));  // another container, same pod
  ASSERT_EQ(sidecar.read_line(), "ready");
  EXPECT_EQ(sidecar.ask("getaddr 127.0.0.1 " + std::to_string(pod_port)), "got pod");
  EXPECT_EQ(sidecar.ask("getaddr ::1 " + std::to_string(pod_port)), "got pod");
  EXPECT_EQ(sidecar.ask("get localhost " + std::to_string(pod_port)), "got pod");
  EXPECT_EQ(sidecar.ask("getaddr 127.0.0.1 " + std::to_string(host_port)), "got host");
}

TEST_F(Preload, ForkedAndExecedChildrenKeepTheLibrary) {
  const std::string cluster_ip = random_ip("127.96"), ip = random_ip("127.80");
  const uint16_t proxy_port = free_port(), own_port = free_port();
  Child proxy({PRELOAD_SERVER, "proxy", cluster_ip, std::to_string(proxy_port)}, {});
  ASSERT_EQ(proxy.read_line(), "listening " + cluster_ip + " " + std::to_string(proxy_port));
  write_table({{"api", "default", {cluster_ip}}}, {{cluster_ip, 80, cluster_ip, proxy_port}});
  Child forker({PRELOAD_FORKER, std::to_string(own_port), PRELOAD_CLIENT, "api.default", "80"},
               pod(ip));
  EXPECT_EQ(forker.read_line(), "listening " + ip + " " + std::to_string(own_port));
  EXPECT_EQ(forker.read_line(), "child got proxy");
  EXPECT_EQ(forker.read_line(), "exec got proxy");
  EXPECT_EQ(forker.read_line(), "done");
  EXPECT_EQ(forker.wait_exit(), 0);
}

TEST_F(Preload, FreeaddrinfoReleasesOurResults) {
  const auto valgrind = find_in_path("valgrind");
  if (!valgrind) GTEST_SKIP() << "valgrind is not installed; cannot check freeaddrinfo";
  write_table({{"pods", "default", {random_ip("127.80"), random_ip("127.80")}}});
  Child checked(
      {*valgrind, "-q", "--leak-check=full", "--errors-for-leak-kinds=definite",
       "--error-exitcode=99", PRELOAD_CLIENT, "gai", "pods", "unspec", "canon", "http", "0"},
      pod(random_ip("127.80")));
  EXPECT_EQ(checked.read_line(60s).rfind("ok canon=pods.default.svc.cluster.local", 0), 0u);
  EXPECT_EQ(checked.wait_exit(), 0) << "valgrind found errors or leaks";
}

TEST_F(Preload, NodeServersShareAPortAndReachEachOtherByServiceName) {
  const auto node = find_in_path("node");
  if (!node) GTEST_SKIP() << "node is not installed; the Node.js check needs it";
  const std::string ip_a = random_ip("127.80"), ip_b = random_ip("127.80");
  const std::string cluster_ip = random_ip("127.96");
  const std::string server_js =
      "const s = require('http').createServer((q, r) => r.end(process.argv[1] + '\\n'));"
      "s.listen(Number(process.argv[2]), () => console.log('listening ' + s.address().address));"
      "process.stdin.on('end', () => process.exit(0)); process.stdin.resume();";
  for (int attempt = 0; attempt < 5; ++attempt) {
    const std::string port = std::to_string(random_port());
    Child a({*node, "-e", server_js, "auth", port}, pod(ip_a));
    Child b({*node, "-e", server_js, "orders", port}, pod(ip_b));
    const std::string line_a = a.read_line(), line_b = b.read_line();
    if (line_a.find("EADDRINUSE") != std::string::npos ||
        line_b.find("EADDRINUSE") != std::string::npos || line_a == "<eof>" || line_b == "<eof>")
      continue;
    EXPECT_EQ(line_a, "listening ::ffff:" + ip_a);
    EXPECT_EQ(line_b, "listening ::ffff:" + ip_b);
    // auth-srv is a Service whose ClusterIP:80 the proxy would serve; here it redirects straight
    // to pod a. orders is reached by name on its own port.
    write_table({{"auth-srv", "default", {cluster_ip}}, {"orders-srv", "default", {ip_b}}},
                {{cluster_ip, 80, ip_a, static_cast<uint16_t>(std::stoi(port))}});
    const std::string client_js =
        "const get = (u) => new Promise((ok, bad) => require('http').get(u, (r) => {"
        "  let d = ''; r.on('data', (c) => d += c); r.on('end', () => ok(d.trim())); "
        "}).on('error', bad));"
        "(async () => { console.log(await get('http://auth-srv/'));"
        "  console.log(await get('http://orders-srv.default.svc.cluster.local:" +
        port +
        "/')); })()"
        ".catch((e) => console.log('error ' + e.message));";
    Child client({*node, "-e", client_js}, pod(random_ip("127.80")));
    EXPECT_EQ(client.read_line(), "auth");
    EXPECT_EQ(client.read_line(), "orders");
    return;
  }
  FAIL() << "no free shared port found in 5 attempts";
}

TEST_F(Preload, CurlReachesAServiceByName) {
  const auto curl = find_in_path("curl");
  if (!curl) GTEST_SKIP() << "curl is not installed";
  const std::string cluster_ip = random_ip("127.96");
  const uint16_t proxy_port = free_port();
  Child proxy({PRELOAD_SERVER, "via curl", cluster_ip, std::to_string(proxy_port)}, {});
  ASSERT_EQ(proxy.read_line(), "listening " + cluster_ip + " " + std::to_string(proxy_port));
  write_table({{"web", "default", {cluster_ip}}}, {{cluster_ip, 80, cluster_ip, proxy_port}});
  Child curl_run({*curl, "-sS", "--max-time", "20", "http://web.default/"},
                 pod(random_ip("127.80")));
  EXPECT_EQ(curl_run.read_line(), "via curl");
  EXPECT_EQ(curl_run.wait_exit(), 0);
}

}  // namespace
