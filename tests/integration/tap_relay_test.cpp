// How the traffic tap sees traffic between pods, through a real control plane (`up -d` in a
// temporary state directory): with no tap a pod's connect by Service name goes straight to a
// replica (connect-time balancing: the replica sees the client's own port); while a tap follows
// the client's Deployment the same connects cross the observing relay (the replica sees the
// relay's port) and each request is published with its source pod, Service, path and status.
//
// The subscription is `ticketctl tap` itself, started and ended in the background within one
// control plane.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "tests/support/background.h"
#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing::Result;

std::string deployment(const std::string& name) {
  return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + name +
         "}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: " + name +
         "}}\n  template:\n    metadata: {labels: {app: " + name +
         "}}\n    spec:\n      terminationGracePeriodSeconds: 2\n      containers:\n"
         "      - name: main\n        image: test/echo\n"
         "        ports: [{name: http, containerPort: 3000}]\n---\n";
}

class TapRelay : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(project_ / "k8s");
    const fs::path programs = fs::path(TICKETCTL_SOURCE_DIR) / "tests/integration/programs";
    std::ofstream(project_ / "ticketctl.yaml")
        << "manifests: [k8s]\nimages:\n"
        << "  test/echo: {context: " << programs << ", command: [node, net_echo.js]}\n";
    std::ofstream(project_ / "k8s/apps.yaml")
        << deployment("client") << deployment("server")
        << "apiVersion: v1\nkind: Service\nmetadata: {name: server-srv}\nspec:\n"
           "  selector: {app: server}\n  ports: [{port: 3000, targetPort: http}]\n";
  }
  void TearDown() override { run({"down"}); }
  Result run(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin() + 1, {"--state-dir", state_.string()});
    return testing::ticketctl(std::move(args), input, project_.string());
  }
  std::string ready_pod(const std::string& app) {
    const json j =
        json::parse(run({"get", "pods", "-l", "app=" + app, "-o", "json"}).out, nullptr, false);
    if (j.is_discarded()) return "";
    for (const json& p : j.value("items", json::array()))
      for (const json& c : p["status"].value("conditions", json::array()))
        if (c.value("type", "") == "Ready" && c.value("status", "") == "True")
          return p["metadata"].value("name", "");
    return "";
  }
  void up() {
    const Result r = run({"up", "-d"});
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    ASSERT_TRUE(testing::eventually(
        [&] {
          return !ready_pod("client").empty() && !ready_pod("server").empty() &&
                 run({"get", "endpoints", "server-srv", "-o",
                      "jsonpath={.subsets[0].addresses[0].ip}"})
                         .out.size() > 0;
        },
        std::chrono::seconds(60)))
        << run({"get", "pods"}).out;
  }
  // `n` connects by Service name from inside the client pod: how many reached the server pod
  // directly (it saw the client's own port) and how many through a relay (another port).
  std::pair<int, int> direct_and_relayed(int n) {
    std::string commands;
    for (int i = 0; i < n; ++i) commands += "peer server-srv 3000 block /client\n";
    const Result r = run({"exec", "-i", ready_pod("client"), "--", PRELOAD_CLIENT}, commands);
    EXPECT_EQ(r.status, 0) << r.err;
    const std::regex answer("got (\\S+) (\\d+) peer \\S+ 3000 dup \\S+ 3000 local \\S+ (\\d+)");
    int direct = 0, relayed = 0;
    std::istringstream lines(r.out);
    std::string line;
    std::smatch m;
    while (std::getline(lines, line)) {
      if (line == "ready") continue;
      if (!std::regex_match(line, m, answer)) {
        ADD_FAILURE() << "unexpected answer: " << line;
        continue;
      }
      ++(m[2] == m[3] ? direct : relayed);
    }
    return {direct, relayed};
  }
  std::string cluster_ip_of() {
    return run({"get", "svc", "server-srv", "-o", "jsonpath={.spec.clusterIP}"}).out;
  }
  testing::TempDir tmp_{"ticketctl-tap"};
  const fs::path state_ = tmp_.path() / "state";
  const fs::path project_ = tmp_.path() / "project";
};

TEST_F(TapRelay, WithoutATapConnectsGoStraightToTheReplica) {
  up();
  EXPECT_EQ(direct_and_relayed(6), std::make_pair(6, 0));
  EXPECT_EQ(testing::slurp(state_ / "net" / "table").find("tapped "), std::string::npos);
}

// `ticketctl tap` within one control plane: untapped the connects are direct; while the tap
// runs they cross the relay and the tap prints them; once it ended they are direct again.
TEST_F(TapRelay, TicketctlTapRoutesThroughTheRelayOnlyWhileItRuns) {
  up();
  const std::string client = ready_pod("client"), server = ready_pod("server");
  const auto table_tapped = [&] {
    return testing::slurp(state_ / "net" / "table").find("tapped ") != std::string::npos;
  };
  EXPECT_EQ(direct_and_relayed(3), std::make_pair(3, 0));
  {
    testing::Background tap(
        testing::ticketctl_argv({"tap", "--state-dir", state_.string(), "deploy/client", "--body",
                                 "-o", "json", "--max", "3"}),
        tmp_.path() / "tap.out");
    ASSERT_TRUE(testing::eventually([&] { return tap.err().find("tapping ") != std::string::npos; },
                                    std::chrono::seconds(20)))
        << tap.err();
    // The network is re-planned as the subscription opens, not at the next controller round.
    ASSERT_TRUE(testing::eventually(table_tapped, std::chrono::seconds(2)));
    EXPECT_EQ(direct_and_relayed(3), std::make_pair(0, 3));
    ASSERT_EQ(tap.wait(std::chrono::seconds(20)), 0) << tap.err();
    std::istringstream lines(tap.out());
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) {
      const json e = json::parse(line, nullptr, false);
      ASSERT_FALSE(e.is_discarded()) << line;
      ++n;
      EXPECT_EQ(e.value("via", ""), "relay") << e;
      EXPECT_EQ(e.value("method", ""), "GET");
      EXPECT_EQ(e.value("path", ""), "/client");
      EXPECT_EQ(e.value("status", 0), 200);
      EXPECT_EQ(e["source"].value("pod", ""), "default/" + client) << e;
      EXPECT_EQ(e["destination"].value("service", ""), "default/server-srv") << e;
      EXPECT_EQ(e["destination"].value("pod", ""), "default/" + server) << e;
      EXPECT_EQ(e.value("responseBody", "").rfind(server + " ", 0), 0u) << e;
    }
    EXPECT_EQ(n, 3) << tap.out();
  }
  // The tap ended: the API notices its reader left, the table loses the line, connects are
  // balanced again.
  ASSERT_TRUE(testing::eventually([&] { return !table_tapped(); }, std::chrono::seconds(20)));
  EXPECT_EQ(direct_and_relayed(3), std::make_pair(3, 0));
}

// A tap on the Service: connects of the (untapped) client to it cross the relay, and what
// reaches the Service is published with the pod that sent it.
TEST_F(TapRelay, ATapOnAServiceSeesWhatReachesItFromWhichPod) {
  up();
  const std::string client = ready_pod("client");
  testing::Background tap(testing::ticketctl_argv({"tap", "--state-dir", state_.string(),
                                                   "svc/server-srv", "-o", "json", "--max", "3"}),
                          tmp_.path() / "tap.out");
  ASSERT_TRUE(testing::eventually([&] { return tap.err().find("tapping ") != std::string::npos; },
                                  std::chrono::seconds(20)))
      << tap.err();
  // The Service leaves the pods' balancing (no `backends` line), so the client reaches the relay.
  ASSERT_TRUE(testing::eventually(
      [&] {
        return testing::slurp(state_ / "net" / "table").find("backends " + cluster_ip_of()) ==
               std::string::npos;
      },
      std::chrono::seconds(2)));
  EXPECT_EQ(direct_and_relayed(3), std::make_pair(0, 3));
  ASSERT_EQ(tap.wait(std::chrono::seconds(20)), 0) << tap.err();
  std::istringstream lines(tap.out());
  int n = 0;
  for (std::string line; std::getline(lines, line);) {
    const json e = json::parse(line, nullptr, false);
    ASSERT_FALSE(e.is_discarded()) << line;
    ++n;
    EXPECT_EQ(e["destination"].value("service", ""), "default/server-srv") << e;
    EXPECT_EQ(e["source"].value("pod", ""), "default/" + client) << e;
    EXPECT_EQ(e.value("status", 0), 200) << e;
  }
  EXPECT_EQ(n, 3) << tap.out();
}

}  // namespace
}  // namespace ticketctl
