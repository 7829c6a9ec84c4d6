// Pod networking end to end (DESIGN.md "Pod networking without containers", "Services"): a real
// control plane (`ticketctl up -d` in a temporary state directory) runs unmodified programs as
// pods, and the test observes what a developer would: pods calling each other by Service name,
// Services balancing over replicas and surviving a replaced pod, curl and python3 inside a pod
// (through `ticketctl exec`), a forking C program, NodePort and port-forward from the host, and a
// static binary that finds a Service through <SVC>_SERVICE_HOST/_PORT.
//
// Pods: Deployments alpha (1 replica), beta (3) and gamma (1) all run
// tests/integration/programs/net_echo.js (answers its pod name; /call?url= fetches a URL), behind
// the Services alpha-srv, beta-srv (targetPort by name) and gamma-srv (NodePort); the Pods forker
// (tests/integration/preload/preload_forker.c) and static-client (net_static_client.c) run once.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/background.h"
#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;
using testing::Result;

// These tests' patience: how long a condition may take to hold (the polling is shared).
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  return testing::eventually(condition, limit);
}

// One HTTP/1.0 GET over a new connection; `ok` only for a complete 200 answer.
struct Reply {
  bool ok = false;
  int status = 0;
  std::string body, error;
};

Reply http_get(const std::string& ip, int port, const std::string& path) {
  Reply r;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) {
    r.error = "bad address " + ip;
    return r;
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval five{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &five, sizeof five);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &five, sizeof five);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    r.error = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return r;
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: test\r\n\r\n";
  std::string response;
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    r.error = std::string("send: ") + std::strerror(errno);
    ::close(fd);
    return r;
  }
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) response.append(buf, static_cast<size_t>(n));
  if (n < 0) r.error = std::string("read: ") + std::strerror(errno);
  ::close(fd);
  const size_t head_end = response.find("\r\n\r\n");
  if (head_end == std::string::npos || response.compare(0, 9, "HTTP/1.1 ") != 0) {
    if (r.error.empty()) r.error = "no HTTP response";
    return r;
  }
  r.status = std::atoi(response.c_str() + 9);
  r.body = response.substr(head_end + 4);
  r.ok = r.error.empty() && r.status == 200;
  return r;
}

// A free port in the NodePort range on 127.0.0.1, so parallel control planes do not collide.
int free_node_port() {
  std::mt19937 rng(static_cast<unsigned>(::getpid()));
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int port = 30000 + static_cast<int>(rng() % 2768);
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (free) return port;
  }
  return 30080;
}

std::string deployment(const std::string& name, int replicas) {
  return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + name +
         "}\nspec:\n  replicas: " + std::to_string(replicas) +
         "\n  selector: {matchLabels: {app: " + name +
         "}}\n  template:\n    metadata: {labels: "
         "{app: " +
         name +
         "}}\n    spec:\n      terminationGracePeriodSeconds: 2\n      containers:\n"
         "      - name: main\n        image: test/echo\n"
         "        ports: [{name: http, containerPort: 3000}]\n---\n";
}

class NetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(project_ / "k8s");
    const fs::path programs = fs::path(TICKETCTL_SOURCE_DIR) / "tests/integration/programs";
    std::ofstream(project_ / "ticketctl.yaml")
        << "manifests: [k8s]\n"
           "restartBackoff: {initial: 200ms, max: 800ms}\n"
           "images:\n"
        << "  test/echo: {context: " << programs << ", command: [node, net_echo.js]}\n"
        << "  test/forker: {context: " << programs << ", command: [" << PRELOAD_FORKER
        << ", '4000', " << PRELOAD_CLIENT << ", beta-srv, '3000']}\n"
        << "  test/static: {context: " << programs << ", command: ["
        << (std::string(NET_STATIC_CLIENT).empty() ? "true" : NET_STATIC_CLIENT)
        << ", BETA_SRV]}\n";
    node_port_ = free_node_port();
    std::ofstream(project_ / "k8s/apps.yaml")
        << deployment("alpha", 1) << deployment("beta", 3) << deployment("gamma", 1)
        << "apiVersion: v1\nkind: Service\nmetadata: {name: alpha-srv}\nspec:\n"
           "  selector: {app: alpha}\n  ports: [{port: 3000, targetPort: 3000}]\n---\n"
           "apiVersion: v1\nkind: Service\nmetadata: {name: beta-srv}\nspec:\n"
           "  selector: {app: beta}\n  ports: [{name: web, port: 3000, targetPort: http}]\n---\n"
           "apiVersion: v1\nkind: Service\nmetadata: {name: gamma-srv}\nspec:\n"
           "  type: NodePort\n  selector: {app: gamma}\n"
           "  ports: [{port: 3000, targetPort: 3000, nodePort: "
        << node_port_ << "}]\n";
  }
  void TearDown() override { run({"down"}); }

  // `--state-dir` goes right after the verb: exec's command follows a `--`.
  Result run(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin() + 1, {"--state-dir", state_.string()});
    return testing::ticketctl(std::move(args), input, project_.string());
  }
  // Starts the control plane with the apps, waits until every Deployment's pods are ready and
  // listed in their Service's Endpoints, then applies `extra` (pods that call the apps once).
  void up(const std::string& extra = "") {
    const Result r = run({"up", "-d"});
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    ASSERT_TRUE(eventually([&] {
      return ready_pods("alpha").size() == 1 && ready_pods("beta").size() == 3 &&
             ready_pods("gamma").size() == 1 && endpoint_pods("beta-srv").size() == 3 &&
             endpoint_pods("alpha-srv").size() == 1 && endpoint_pods("gamma-srv").size() == 1;
    })) << run({"get", "pods"}).out
        << events();
    if (extra.empty()) return;
    std::ofstream(tmp_.path() / "extra.yaml") << extra;
    const Result applied = run({"apply", "-f", (tmp_.path() / "extra.yaml").string()});
    ASSERT_EQ(applied.status, 0) << applied.out << applied.err;
  }
  json get_json(const std::vector<std::string>& what) {
    std::vector<std::string> args = {"get"};
    args.insert(args.end(), what.begin(), what.end());
    args.insert(args.end(), {"-o", "json"});
    const json j = json::parse(run(args).out, nullptr, false);
    return j.is_discarded() ? json::object() : j;
  }
  // Names of the app's pods that are Ready and not being deleted.
  std::set<std::string> ready_pods(const std::string& app) {
    std::set<std::string> out;
    for (const json& p : get_json({"pods", "-l", "app=" + app}).value("items", json::array())) {
      if (p["metadata"].contains("deletionTimestamp")) continue;
      for (const json& c : p["status"].value("conditions", json::array()))
        if (c.value("type", "") == "Ready" && c.value("status", "") == "True")
          out.insert(p["metadata"].value("name", ""));
    }
    return out;
  }
  std::set<std::string> endpoint_pods(const std::string& service) {
    std::set<std::string> out;
    for (const json& s : get_json({"endpoints", service}).value("subsets", json::array()))
      for (const json& a : s.value("addresses", json::array()))
        out.insert(a["targetRef"].value("name", ""));
    return out;
  }
  std::string field(const std::string& kind, const std::string& name, const std::string& path) {
    return run({"get", kind, name, "-o", "jsonpath=" + path}).out;
  }
  // Whether the name table the pods read (runtime/net/net_table.h) mentions `text`.
  bool table_lists(const std::string& text) {
    return testing::slurp(state_ / "net" / "table").find(text) != std::string::npos;
  }
  std::string cluster_ip(const std::string& service) {
    return field("svc", service, "{.spec.clusterIP}");
  }
  std::string events() {
    return run({"get", "events", "-o",
                "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}"})
        .out;
  }
  // What `ticketctl port-forward` printed as its first "Forwarding from 127.0.0.1:PORT" line.
  static int forwarded_port(const testing::Background& pf) {
    static const std::regex line(R"(Forwarding from 127\.0\.0\.1:(\d+) -> (\d+))");
    std::smatch m;
    const std::string out = pf.out();
    return std::regex_search(out, m, line) ? std::stoi(m[1]) : 0;
  }

  testing::TempDir tmp_{"ticketctl-net"};
  const fs::path state_ = tmp_.path() / "state";
  const fs::path project_ = tmp_.path() / "project";
  int node_port_ = 0;
};

// The answer of `ip:port/call?url=...`: "<caller pod> -> <callee pod>".
std::pair<std::string, std::string> call_chain(const Reply& r) {
  const size_t arrow = r.body.find(" -> ");
  if (!r.ok || arrow == std::string::npos) return {};
  return {r.body.substr(0, arrow), r.body.substr(arrow + 4)};
}

TEST_F(NetworkTest, NodeProgramsCallEachOtherByServiceNameAcrossAllReplicas) {
  up();
  const std::set<std::string> alpha = ready_pods("alpha"), beta = ready_pods("beta"),
                              gamma = ready_pods("gamma");
  // Three Node servers (five processes) all listen on port 3000 side by side.
  const std::string alpha_ip = cluster_ip("alpha-srv"), beta_ip = cluster_ip("beta-srv"),
                    gamma_ip = cluster_ip("gamma-srv");

  // alpha -> beta by short name: 30 calls, each a new connection, reach all three replicas.
  std::map<std::string, int> answered_by;
  for (int i = 0; i < 30; ++i) {
    const Reply r = http_get(alpha_ip, 3000, "/call?url=http://beta-srv:3000/");
    const auto [caller, callee] = call_chain(r);
    ASSERT_TRUE(alpha.count(caller)) << r.status << " " << r.body << r.error;
    ASSERT_TRUE(beta.count(callee)) << r.body;
    ++answered_by[callee];
  }
  // Round-robin per connection gives each 10; a re-ordered endpoint list may shift a few.
  EXPECT_EQ(answered_by.size(), 3u);
  for (const auto& [pod, n] : answered_by) EXPECT_GE(n, 5) << pod;

  // beta -> gamma by its full name, gamma -> alpha by name.namespace.
  auto [b, g] = call_chain(
      http_get(beta_ip, 3000, "/call?url=http://gamma-srv.default.svc.cluster.local:3000/"));
  EXPECT_TRUE(beta.count(b)) << b;
  EXPECT_TRUE(gamma.count(g)) << g;
  auto [g2, a] = call_chain(http_get(gamma_ip, 3000, "/call?url=http://alpha-srv.default:3000/"));
  EXPECT_TRUE(gamma.count(g2)) << g2;
  EXPECT_TRUE(alpha.count(a)) << a;
}

// The claim: while a client loop sends requests through beta-srv's ClusterIP (sequentially, each
// on a new connection), one of its three pods is deleted and the Deployment replaces it. From
// the moment the replacement is Ready and listed in the Service's Endpoints, every request
// succeeds (at least 90 of them), and they are answered by exactly the three current pods, the
// replacement included. Requests during the hand-over itself are counted, not asserted: one in
// flight on the deleted pod when it gets SIGTERM may fail, as on a real cluster.
TEST_F(NetworkTest, APodReplacedByItsDeploymentServesWithoutFailedRequestsOnceReady) {
  up();
  const std::string ip = cluster_ip("beta-srv");
  const std::set<std::string> before = ready_pods("beta");
  const std::string victim = *before.begin();

  struct Outcome {
    Clock::time_point started;
    Reply reply;
  };
  std::mutex mu;
  std::vector<Outcome> outcomes;
  std::atomic<bool> stop{false};
  std::thread client([&] {
    while (!stop) {
      const auto started = Clock::now();
      Reply r = http_get(ip, 3000, "/");
      std::lock_guard<std::mutex> l(mu);
      outcomes.push_back({started, std::move(r)});
    }
  });
  auto count = [&] {
    std::lock_guard<std::mutex> l(mu);
    return outcomes.size();
  };
  ASSERT_TRUE(eventually([&] { return count() >= 20; }));
  const Result del = run({"delete", "pod", victim});
  ASSERT_EQ(del.status, 0) << del.err;

  std::set<std::string> after;
  const bool replaced = eventually([&] {
    after = ready_pods("beta");
    return after.size() == 3 && !after.count(victim) && endpoint_pods("beta-srv") == after;
  });
  const auto ready_at = Clock::now();
  const size_t at_ready = count();
  const bool enough = eventually([&] { return count() >= at_ready + 90; });
  stop = true;
  client.join();
  ASSERT_TRUE(replaced) << run({"get", "pods"}).out << events();
  ASSERT_TRUE(enough);

  size_t failed_during = 0, after_ready = 0;
  std::set<std::string> served;
  for (const Outcome& o : outcomes) {
    if (o.started < ready_at) {
      failed_during += o.reply.ok ? 0 : 1;
      continue;
    }
    ++after_ready;
    EXPECT_TRUE(o.reply.ok) << "a request after the replacement was ready failed: "
                            << o.reply.status << " " << o.reply.error;
    if (o.reply.ok) served.insert(o.reply.body);
  }
  EXPECT_GE(after_ready, 90u);
  EXPECT_EQ(served, after) << "answered by other pods than the three current ones";
  std::cout << "[ info ] requests during the hand-over: " << outcomes.size() - after_ready
            << ", failed: " << failed_during << "; after Ready: " << after_ready << ", failed: 0\n";
}

// Inside a pod, the preload library balances a Service's connects itself (connect-time, like
// Cilium's socket-LB): one client process in the alpha pod (preload_client, fed `peer` commands
// through `exec -i`) connects to beta-srv by name 40 times; each connection reaches a beta pod
// directly (the pod sees the client socket's own port, not a relay's) and
// getpeername() answers the ClusterIP. A pod taken out of the Service while it keeps running
// (relabelled), and a deleted one, are never reached once gone from the Endpoints.
TEST_F(NetworkTest, APodsConnectsToAServiceGoStraightToItsReadyEndpoints) {
  up("apiVersion: v1\nkind: Pod\nmetadata: {name: straggler, labels: {app: beta}}\nspec:\n"
     "  terminationGracePeriodSeconds: 2\n"
     "  containers:\n  - name: main\n    image: test/echo\n"
     "    ports: [{name: http, containerPort: 3000}]\n");
  ASSERT_TRUE(eventually([&] { return endpoint_pods("beta-srv").size() == 4; }))
      << run({"get", "pods"}).out;
  const std::string client = *ready_pods("alpha").begin();
  const std::string beta_ip = cluster_ip("beta-srv");
  // Per connection "got <pod> <client port it saw> peer <ip> <port> dup <ip> <port> local <ip>
  // <port>", counted by pod when the pod saw the client's own port (a relay connects from its own).
  const auto connect_many = [&](int n) {
    std::string commands;
    for (int i = 0; i < n; ++i)
      commands +=
          i % 2 ? "peer beta-srv 3000 block /client\n" : "peer beta-srv 3000 nonblock /client\n";
    const Result r = run({"exec", "-i", client, "--", PRELOAD_CLIENT}, commands);
    std::map<std::string, int> reached;
    std::istringstream lines(r.out);
    std::string line;
    const std::regex answer("got (\\S+) (\\d+) peer " + beta_ip + " 3000 dup " + beta_ip +
                            " 3000 local \\S+ (\\d+)");
    std::smatch m;
    while (std::getline(lines, line))
      if (line != "ready")
        ++reached[std::regex_match(line, m, answer) && m[2] == m[3] ? m[1].str() : line];
    EXPECT_EQ(r.status, 0) << r.err;
    return reached;
  };
  std::map<std::string, int> reached = connect_many(40);
  std::set<std::string> expected = ready_pods("beta");
  expected.insert("straggler");
  EXPECT_EQ(expected.size(), 4u);
  for (const std::string& pod : expected) EXPECT_EQ(reached[pod], 10) << pod;  // round-robin
  EXPECT_EQ(reached.size(), 4u);

  // Out of the Service but still answering on its IP: never chosen once the Endpoints drop it.
  std::ofstream(tmp_.path() / "relabel.yaml")
      << "apiVersion: v1\nkind: Pod\nmetadata: {name: straggler, labels: {app: gone}}\nspec:\n"
         "  terminationGracePeriodSeconds: 2\n"
         "  containers:\n  - name: main\n    image: test/echo\n"
         "    ports: [{name: http, containerPort: 3000}]\n";
  const std::string straggler_ip = field("pod", "straggler", "{.status.podIP}");
  const Result relabelled = run({"apply", "-f", (tmp_.path() / "relabel.yaml").string()});
  ASSERT_EQ(relabelled.status, 0) << relabelled.out << relabelled.err;
  ASSERT_TRUE(eventually([&] { return endpoint_pods("beta-srv") == ready_pods("beta"); }));
  // The control plane writes the pods' table right after the round that changed the Endpoints;
  // wait for it too, so the claim does not depend on how fast `get` and `exec` are.
  ASSERT_TRUE(eventually([&] { return !table_lists(straggler_ip + ":3000"); }));
  reached = connect_many(30);
  EXPECT_EQ(reached.count("straggler"), 0u);
  for (const std::string& pod : ready_pods("beta")) EXPECT_EQ(reached[pod], 10) << pod;
  EXPECT_EQ(http_get(field("pod", "straggler", "{.status.podIP}"), 3000, "/").body, "straggler");

  // A deleted replica: every connect after the Endpoints dropped it reaches a current one.
  const std::string victim = *ready_pods("beta").begin();
  const std::string victim_ip = field("pod", victim, "{.status.podIP}");
  ASSERT_EQ(run({"delete", "pod", victim}).status, 0);
  ASSERT_TRUE(eventually([&] { return !endpoint_pods("beta-srv").count(victim); }));
  ASSERT_TRUE(eventually([&] { return !table_lists(victim_ip + ":3000"); }));
  reached = connect_many(30);
  EXPECT_EQ(reached.count(victim), 0u);
  for (const auto& [pod, n] : reached)
    EXPECT_TRUE(pod.starts_with("beta-")) << pod << " x" << n << " (a failed connect?)";

  // Without the preload (the host), the relay on the ClusterIP still serves the Service.
  const Reply relayed = http_get(beta_ip, 3000, "/");
  EXPECT_TRUE(relayed.ok) << relayed.error;
  EXPECT_TRUE(endpoint_pods("beta-srv").count(relayed.body)) << relayed.body;
}

TEST_F(NetworkTest, CurlAndPythonInsideAPodResolveServiceNamesThroughExec) {
  up();
  const std::string pod = *ready_pods("alpha").begin();
  const std::set<std::string> beta = ready_pods("beta"), gamma = ready_pods("gamma");
  bool ran_any = false;
  if (std::system("command -v curl >/dev/null 2>&1") == 0) {
    ran_any = true;
    const Result curl =
        run({"exec", pod, "--", "curl", "-sS", "--max-time", "10", "http://beta-srv:3000/"});
    EXPECT_EQ(curl.status, 0) << curl.err;
    EXPECT_TRUE(beta.count(curl.out)) << curl.out;
    const Result fqdn = run({"exec", pod, "--", "curl", "-sS", "--max-time", "10",
                             "http://gamma-srv.default.svc.cluster.local:3000/"});
    EXPECT_TRUE(gamma.count(fqdn.out)) << fqdn.out << fqdn.err;
  }
  if (std::system("command -v python3 >/dev/null 2>&1") == 0) {
    ran_any = true;
    const Result py =
        run({"exec", pod, "--", "python3", "-c",
             "import urllib.request as u, socket;"
             "print(u.urlopen('http://beta-srv:3000/', timeout=10).read().decode());"
             "print(u.urlopen('http://gamma-srv.default.svc.cluster.local:3000/', timeout=10)"
             ".read().decode());"
             "print(socket.gethostbyname('alpha-srv.default.svc'))"});
    EXPECT_EQ(py.status, 0) << py.err;
    std::istringstream lines(py.out);
    std::string first, second, third;
    std::getline(lines, first);
    std::getline(lines, second);
    std::getline(lines, third);
    EXPECT_TRUE(beta.count(first)) << py.out << py.err;
    EXPECT_TRUE(gamma.count(second)) << py.out;
    EXPECT_EQ(third, cluster_ip("alpha-srv"));
  }
  if (!ran_any) GTEST_SKIP() << "neither curl nor python3 is installed";
}

TEST_F(NetworkTest, ExecRunsWithTheContainersEnvironmentAndPassesTheExitCodeThrough) {
  up("apiVersion: v1\nkind: Secret\nmetadata: {name: token}\nstringData: {TOKEN: s3cr3t}\n---\n"
     "apiVersion: v1\nkind: Pod\nmetadata: {name: with-secret}\nspec:\n"
     "  containers:\n  - name: main\n    image: test/echo\n"
     "    ports: [{containerPort: 3000}]\n"
     "    env: [{name: TOKEN, valueFrom: {secretKeyRef: {name: token, key: TOKEN}}}]\n"
     "---\napiVersion: v1\nkind: Pod\nmetadata: {name: done}\nspec:\n"
     "  restartPolicy: Never\n  containers:\n  - name: main\n    image: test/static\n");
  ASSERT_TRUE(
      eventually([&] { return field("pod", "with-secret", "{.status.phase}") == "Running"; }));
  const std::string pod_ip = field("pod", "with-secret", "{.status.podIP}");
  const Result r = run({"exec", "with-secret", "--", "sh", "-c",
                        "echo \"$TOKEN $HOSTNAME $TICKETCTL_POD_IP $BETA_SRV_SERVICE_PORT\"; pwd; "
                        "exit 7"});
  EXPECT_EQ(r.status, 7);
  EXPECT_EQ(r.out, "s3cr3t with-secret " + pod_ip + " 3000\n" +
                       (fs::path(TICKETCTL_SOURCE_DIR) / "tests/integration/programs").string() +
                       "\n");
  EXPECT_EQ(r.err, "command terminated with exit code 7\n");

  // The record exec reads holds secret values: only its owner may read it.
  bool found = false;
  for (const auto& e : fs::recursive_directory_iterator(state_ / "pods"))
    if (e.path().filename() == "exec.json" &&
        e.path().parent_path().parent_path().filename().string().starts_with(
            "default_with-secret_")) {
      found = true;
      struct stat st {};
      ASSERT_EQ(::stat(e.path().c_str(), &st), 0);
      EXPECT_EQ(st.st_mode & 0777, 0600u);
    }
  EXPECT_TRUE(found);

  const Result missing = run({"exec", "with-secret", "--", "no-such-program"});
  EXPECT_EQ(missing.status, 127);
  EXPECT_EQ(missing.err, "error: exec: \"no-such-program\": executable file not found in $PATH\n");
  // The kubelet's spawner starts it (cli/cmd_exec): no descriptor of ticketctl's leaks in, stdin
  // is /dev/null without -i, and without a terminal it leads a process group of its own, which
  // signals sent to ticketctl exec are passed to.
  const Result fds =
      run({"exec", "with-secret", "--", "sh", "-c", "ls /proc/$$/fd; cat"}, "typed\n");
  EXPECT_EQ(fds.status, 0) << fds.err;
  EXPECT_EQ(fds.out, "0\n1\n2\n");
  const Result with_stdin = run({"exec", "-i", "with-secret", "--", "cat"}, "typed\n");
  EXPECT_EQ(with_stdin.out, "typed\n");
  const Result group =
      run({"exec", "with-secret", "--", "sh", "-c", "echo $$; cut -d' ' -f5 /proc/$$/stat"});
  std::istringstream ids(group.out);
  std::string shell_pid, shell_group;
  ids >> shell_pid >> shell_group;
  EXPECT_FALSE(shell_pid.empty()) << group.out << group.err;
  EXPECT_EQ(shell_pid, shell_group);
  // Found, but the kernel cannot run it: 126, as a shell says (127 is for "not found").
  const fs::path junk = state_ / "not-a-program";
  std::ofstream(junk) << "no interpreter line\n";
  fs::permissions(junk, fs::perms::owner_all);
  const Result not_runnable = run({"exec", "with-secret", "--", junk.string()});
  EXPECT_EQ(not_runnable.status, 126);
  EXPECT_EQ(not_runnable.err, "error: exec: \"" + junk.string() + "\": Exec format error\n");
  const Result bad_container = run({"exec", "with-secret", "-c", "other", "--", "true"});
  EXPECT_EQ(bad_container.status, 1);
  EXPECT_EQ(bad_container.err, "error: container other is not valid for pod with-secret\n");

  ASSERT_TRUE(eventually([&] {
    return field("pod", "done", "{.status.phase}") == "Succeeded" ||
           field("pod", "done", "{.status.phase}") == "Failed";
  }));
  const Result stopped = run({"exec", "done", "--", "true"});
  EXPECT_EQ(stopped.status, 1);
  EXPECT_EQ(stopped.err, "error: container main is not running\n");
}

TEST_F(NetworkTest, AForkingCProgramBindsItsPodIpAndItsChildrenResolveServiceNames) {
  up("apiVersion: v1\nkind: Pod\nmetadata: {name: forker}\nspec:\n"
     "  restartPolicy: Never\n  containers:\n  - name: main\n    image: test/forker\n");
  std::string logs;
  ASSERT_TRUE(eventually([&] {
    logs = run({"logs", "forker"}).out;
    return logs.find("done") != std::string::npos;
  })) << logs;
  const std::string pod_ip = field("pod", "forker", "{.status.podIP}");
  const std::set<std::string> beta = ready_pods("beta");
  // bind(0.0.0.0:4000) became the pod's IP; a fork()ed child and a fork()+exec()ed program both
  // resolved beta-srv through the inherited preload library.
  EXPECT_NE(logs.find("listening " + pod_ip + " 4000\n"), std::string::npos) << logs;
  std::smatch m;
  const std::regex child(R"(child got (\S+))"), exec(R"(exec got (\S+))");
  ASSERT_TRUE(std::regex_search(logs, m, child)) << logs;
  EXPECT_TRUE(beta.count(m[1])) << logs;
  ASSERT_TRUE(std::regex_search(logs, m, exec)) << logs;
  EXPECT_TRUE(beta.count(m[1])) << logs;
}

TEST_F(NetworkTest, AStaticBinaryReachesAServiceThroughServiceVariables) {
  if (std::string(NET_STATIC_CLIENT).empty() || !fs::exists(NET_STATIC_CLIENT))
    GTEST_SKIP() << "no static C library to link net_static_client with";
  up("apiVersion: v1\nkind: Pod\nmetadata: {name: static-client}\nspec:\n"
     "  restartPolicy: Never\n  containers:\n  - name: main\n    image: test/static\n");
  std::string logs;
  ASSERT_TRUE(eventually([&] {
    logs = run({"logs", "static-client"}).out;
    return logs.find("static ") != std::string::npos;
  })) << logs;
  const std::set<std::string> beta = ready_pods("beta");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(logs, m, std::regex(R"(static got (\S+))"))) << logs;
  EXPECT_TRUE(beta.count(m[1])) << logs;
  EXPECT_EQ(field("pod", "static-client", "{.status.phase}"), "Succeeded");
}

TEST_F(NetworkTest, NodePortAndPortForwardReachPodsFromTheHost) {
  up();
  const std::set<std::string> beta = ready_pods("beta"), gamma = ready_pods("gamma");
  // NodePort: 127.0.0.1:<nodePort>.
  const Reply np = http_get("127.0.0.1", node_port_, "/");
  EXPECT_TRUE(np.ok) << np.error;
  EXPECT_TRUE(gamma.count(np.body)) << np.body;

  // svc/NAME: the Service port (named targetPort) resolved against its pods; any free local port.
  testing::Background svc(testing::ticketctl_argv({"port-forward", "svc/beta-srv", ":3000",
                                                   "--state-dir", state_.string()}),
                          tmp_.path() / "pf-svc");
  int svc_port = 0;
  ASSERT_TRUE(eventually([&] { return (svc_port = forwarded_port(svc)) > 0; }))
      << svc.out() << svc.err();
  EXPECT_NE(svc.out().find(" -> 3000\n"), std::string::npos) << svc.out();
  const Reply via_svc = http_get("127.0.0.1", svc_port, "/");
  EXPECT_TRUE(via_svc.ok) << via_svc.error;
  EXPECT_TRUE(beta.count(via_svc.body)) << via_svc.body;

  // pod/NAME with a named container port, on an explicit address.
  const std::string gamma_pod = *gamma.begin();
  testing::Background pod(
      testing::ticketctl_argv({"port-forward", "pod/" + gamma_pod, "0:http", "--address",
                               "127.0.0.1", "--state-dir", state_.string()}),
      tmp_.path() / "pf-pod");
  int pod_port = 0;
  ASSERT_TRUE(eventually([&] { return (pod_port = forwarded_port(pod)) > 0; }))
      << pod.out() << pod.err();
  EXPECT_EQ(http_get("127.0.0.1", pod_port, "/").body, gamma_pod);

  // deploy/NAME survives its pod being replaced: once the replacement answers, every request
  // through the same local port succeeds.
  testing::Background deploy(testing::ticketctl_argv({"port-forward", "deploy/alpha", "0:3000",
                                                      "--state-dir", state_.string()}),
                             tmp_.path() / "pf-deploy");
  int deploy_port = 0;
  ASSERT_TRUE(eventually([&] { return (deploy_port = forwarded_port(deploy)) > 0; }))
      << deploy.out() << deploy.err();
  const std::string first = http_get("127.0.0.1", deploy_port, "/").body;
  ASSERT_EQ(ready_pods("alpha"), std::set<std::string>{first});
  ASSERT_EQ(run({"delete", "pod", first}).status, 0);
  std::string second;
  ASSERT_TRUE(eventually([&] {
    const Reply r = http_get("127.0.0.1", deploy_port, "/");
    second = r.ok ? r.body : "";
    return !second.empty() && second != first;
  })) << deploy.err();
  for (int i = 0; i < 20; ++i) {
    const Reply r = http_get("127.0.0.1", deploy_port, "/");
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.body, second);
  }
  EXPECT_EQ(ready_pods("alpha"), std::set<std::string>{second});

  // Ctrl-C ends a port-forward with status 0, and its port is free again.
  EXPECT_EQ(deploy.stop(SIGINT), 0) << deploy.err();
  EXPECT_EQ(svc.stop(SIGINT), 0) << svc.err();
  EXPECT_EQ(pod.stop(SIGTERM), 0) << pod.err();
  EXPECT_FALSE(http_get("127.0.0.1", deploy_port, "/").ok);
}

TEST_F(NetworkTest, PortForwardRejectsWhatItCannotServe) {
  up();
  const Result no_port = run({"port-forward", "svc/beta-srv", "8080:4000"});
  EXPECT_EQ(no_port.status, 1);
  EXPECT_EQ(no_port.err, "error: Service beta-srv does not have a service port 4000\n");
  const Result missing = run({"port-forward", "pod/nope", "3000"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.err, "Error from server (NotFound): pods \"nope\" not found\n");
  const Result bad = run({"port-forward", "deploy/alpha", "x:3000"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("Error parsing local port"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace ticketctl
