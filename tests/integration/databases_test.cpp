// Well-known images run as their official images would (docs/images.md), with the Debian
// servers: a Node client pod (npm redis, pg, mysql2, nats; installed once into the build tree)
// reaches each server by Service name and reads back what it wrote; postgres initialised from
// POSTGRES_PASSWORD/POSTGRES_DB accepts exactly those credentials and keeps its data in a
// PersistentVolumeClaim across a new pod. Servers that are not installed are left out, and a test
// with none of them, or without npm, says it skipped. Prints the figures the issue asks for.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;
using testing::Result;
using testing::ticketctl;

bool installed(const std::string& program) {
  return ::system(("command -v " + program + " >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/" +
                   program + " >/dev/null 2>&1")
                      .c_str()) == 0;
}

// The npm clients, installed once per build tree; empty when npm cannot get them.
std::string client_dir() {
  static const std::string dir = [] {
    const fs::path dir = DB_CLIENT_DIR;
    const fs::path src = fs::path(TICKETCTL_SOURCE_DIR) / "tests/integration/programs/db_client";
    fs::create_directories(dir);
    for (const char* f : {"package.json", "client.js"})
      fs::copy_file(src / f, dir / f, fs::copy_options::overwrite_existing);
    if (!fs::exists(dir / "node_modules/.package-lock.json") &&
        ::system(("cd '" + dir.string() +
                  "' && npm install --no-audit --no-fund --loglevel=error >npm.log 2>&1")
                     .c_str()) != 0)
      return std::string();
    return dir.string();
  }();
  return dir;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string deployment(const std::string& name, const std::string& image, int port,
                       const std::string& extra) {
  return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + name +
         "}\nspec:\n  selector: {matchLabels: {app: " + name +
         "}}\n  template:\n    metadata: {labels: {app: " + name +
         "}}\n    spec:\n      terminationGracePeriodSeconds: 10\n      containers:\n"
         "      - name: main\n        image: " +
         image + "\n        ports: [{containerPort: " + std::to_string(port) +
         "}]\n        readinessProbe: {tcpSocket: {port: " + std::to_string(port) +
         "}, periodSeconds: 1}\n" + extra +
         "---\napiVersion: v1\nkind: Service\nmetadata: {name: " + name +
         "-srv}\nspec:\n  selector: {app: " + name + "}\n  ports: [{port: " + std::to_string(port) +
         "}]\n---\n";
}

class DatabasesTest : public ::testing::Test {
 protected:
  void TearDown() override { run({"down"}); }
  Result run(std::vector<std::string> args) {
    args.push_back("--state-dir");
    args.push_back(state_.string());
    return ticketctl(std::move(args), "", project_.string());
  }
  std::string ready_pod(const std::string& app) {
    std::string name;
    testing::eventually(
        [&] {
          const Result r = run({"get", "pods", "-l", "app=" + app, "-o", "json"});
          if (r.status != 0) return false;
          const json list = json::parse(r.out);
          for (const json& p : list["items"]) {
            if (p["metadata"].contains("deletionTimestamp")) continue;
            for (const json& c : p["status"].value("conditions", json::array()))
              if (c["type"] == "Ready" && c["status"] == "True") {
                name = p["metadata"]["name"];
                return true;
              }
          }
          return false;
        },
        std::chrono::seconds(120));
    return name;
  }
  // node client.js ARGS... in the client pod, until it succeeds (or a minute passed).
  Result client(std::vector<std::string> args, bool retry = true) {
    std::vector<std::string> cmd = {"exec", "client", "--state-dir", state_.string(),
                                    "--",   "node",   "client.js"};
    cmd.insert(cmd.end(), args.begin(), args.end());
    Result r;
    testing::eventually(
        [&] { return (r = ticketctl(cmd, "", project_.string())).status == 0 || !retry; },
        std::chrono::seconds(60));
    return r;
  }

  testing::TempDir tmp_{"ticketctl-db"};
  const fs::path state_ = tmp_.path() / "state";
  const fs::path project_ = tmp_.path() / "project";
};

TEST_F(DatabasesTest, ClientsReachEachServerByServiceNameAndReadBackWhatTheyWrote) {
  const bool redis = installed("redis-server"), postgres = installed("postgres"),
             mariadb = installed("mariadbd"), nats = installed("nats-server"),
             memcached = installed("memcached");
  if (!redis && !postgres && !mariadb && !nats && !memcached)
    GTEST_SKIP() << "none of redis-server, postgres, mariadbd, nats-server, memcached is installed";
  const std::string dir = client_dir();
  if (dir.empty())
    GTEST_SKIP() << "npm could not install the clients (see " << DB_CLIENT_DIR << "/npm.log)";
  fs::create_directories(project_ / "k8s");
  std::ofstream(project_ / "ticketctl.yaml")
      << "manifests: [k8s]\nrestartBackoff: {initial: 200ms, max: 1s}\nimages:\n"
      << "  test/client: {context: " << dir
      << ", command: [node, -e, 'setInterval(() => {}, 1 << 30)']}\n";
  std::ofstream m(project_ / "k8s/apps.yaml");
  m << "apiVersion: v1\nkind: Pod\nmetadata: {name: client}\nspec:\n  containers:\n"
       "  - {name: main, image: test/client}\n---\n";
  if (redis) m << deployment("redis", "redis:7", 6379, "");
  if (postgres)
    m << "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: pg-data}\nspec:\n"
         "  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n---\n"
      << deployment("postgres", "postgres:15", 5432,
                    "        env:\n"
                    "        - {name: POSTGRES_PASSWORD, value: s3cret}\n"
                    "        - {name: POSTGRES_DB, value: tickets}\n"
                    "        volumeMounts: [{name: data, mountPath: /var/lib/postgresql/data}]\n"
                    "      volumes: [{name: data, persistentVolumeClaim: {claimName: pg-data}}]\n");
  if (mariadb)
    m << deployment("mysql", "mariadb:11", 3306,
                    "        env:\n"
                    "        - {name: MYSQL_ROOT_PASSWORD, value: rootpw}\n"
                    "        - {name: MYSQL_DATABASE, value: shop}\n"
                    "        - {name: MYSQL_USER, value: app}\n"
                    "        - {name: MYSQL_PASSWORD, value: apppw}\n");
  if (nats) m << deployment("nats", "nats:2", 4222, "");
  if (memcached) m << deployment("memcached", "memcached:1.6", 11211, "");
  m.close();

  const auto start = Clock::now();
  const Result up = run({"up", "-d", "--timeout", "240s"});
  ASSERT_EQ(up.status, 0) << up.out << up.err;
  std::printf("figure: up -d until every server is Ready (postgres with initdb): %.2f s\n",
              seconds_since(start));
  const json info = json::parse(testing::slurp(state_ / "apiserver.json"));
  std::ifstream status("/proc/" + std::to_string(info["pid"].get<int>()) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0)
      std::printf("figure: control plane %s with %d server pods\n", line.c_str(),
                  redis + postgres + mariadb + nats + memcached);

  const std::regex round_trip("read (\\S+) wrote (\\S+)\n");
  auto read_back = [&](const Result& r) {
    std::smatch match;
    return std::regex_search(r.out, match, round_trip) && match[1] == match[2];
  };
  if (redis) {
    const Result r = client({"redis", "redis-srv"});
    EXPECT_TRUE(read_back(r)) << r.out << r.err;
    const std::string first = ready_pod("redis");
    const auto restart = Clock::now();
    ASSERT_EQ(run({"delete", "pod", first}).status, 0);
    std::string second;
    ASSERT_TRUE(testing::eventually(
        [&] { return !(second = ready_pod("redis")).empty() && second != first; },
        std::chrono::seconds(60)));
    std::printf("figure: redis pod deleted until its replacement is Ready: %.2f s\n",
                seconds_since(restart));
  }
  if (memcached) {
    const Result r = client({"memcached", "memcached-srv"});
    EXPECT_TRUE(read_back(r)) << r.out << r.err;
  }
  if (nats) {
    const Result r = client({"nats", "nats-srv"});
    EXPECT_TRUE(read_back(r)) << r.out << r.err;
  }
  if (mariadb) {
    const Result r = client({"mysql", "mysql-srv", "user=app", "password=apppw", "database=shop"});
    EXPECT_TRUE(read_back(r)) << r.out << r.err;
    const Result wrong = client({"mysql", "mysql-srv", "user=app", "password=nope"}, false);
    EXPECT_NE(wrong.status, 0);
    EXPECT_NE(wrong.err.find("Access denied"), std::string::npos) << wrong.out << wrong.err;
  }
  if (postgres) {
    Result r = client({"pg", "postgres-srv", "password=s3cret", "database=tickets", "insert=kept"});
    EXPECT_EQ(r.out, "db tickets rows 1\n") << r.err;
    const Result wrong = client({"pg", "postgres-srv", "password=nope", "database=tickets"}, false);
    EXPECT_NE(wrong.err.find("password authentication failed for user \"postgres\""),
              std::string::npos)
        << wrong.out << wrong.err;
    const Result other = client({"pg", "postgres-srv", "password=s3cret", "database=other"}, false);
    EXPECT_NE(other.err.find("database \"other\" does not exist"), std::string::npos)
        << other.out << other.err;

    // A new pod finds the claim initialised: no initdb, the row still there.
    const std::string first = ready_pod("postgres");
    const auto restart = Clock::now();
    ASSERT_EQ(run({"delete", "pod", first}).status, 0);
    std::string second;
    ASSERT_TRUE(testing::eventually(
        [&] { return !(second = ready_pod("postgres")).empty() && second != first; },
        std::chrono::seconds(120)));
    std::printf(
        "figure: postgres pod deleted until its replacement is Ready (existing data): "
        "%.2f s\n",
        seconds_since(restart));
    r = client({"pg", "postgres-srv", "password=s3cret", "database=tickets", "select=1"});
    EXPECT_EQ(r.out, "rows kept\n") << r.err;
    const Result logs = run({"logs", second});
    EXPECT_EQ(logs.out.find("init process complete"), std::string::npos) << logs.out;
  }
}

}  // namespace
}  // namespace ticketctl
