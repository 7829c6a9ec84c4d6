// The ingress inside a real control plane: Ingress objects applied with the CLI route real
// requests to pods (tests/integration/programs/net_echo.js answers with its pod's name), routes
// change live on apply and delete, a Service without ready pods answers 503, an Ingress of
// another class is ignored with a Warning event, HTTPS serves a certificate from the state
// directory's CA for the host, and pods reach the ingress by the name the course's code uses.

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "runtime/manifest/json.h"
#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using testing::Result;
using testing::ticketctl;

// These tests' patience: how long a condition may take to hold (the polling is shared).
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  return testing::eventually(condition, limit);
}

std::string deployment(const std::string& name) {
  return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + name +
         "}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: " + name +
         "}}\n  template:\n    metadata: {labels: {app: " + name +
         "}}\n    spec:\n      containers:\n      - name: echo\n        image: test/echo\n"
         "        ports: [{containerPort: 3000}]\n---\n"
         "apiVersion: v1\nkind: Service\nmetadata: {name: " +
         name + "-srv}\nspec:\n  selector: {app: " + name +
         "}\n  ports: [{name: http, port: 80, targetPort: 3000}]\n---\n";
}

std::string ingress(const std::string& alpha_backend) {
  // With a tls: entry ingress-nginx redirects plain HTTP to HTTPS unless told not to.
  return "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n"
         "  annotations: {nginx.ingress.kubernetes.io/ssl-redirect: \"false\"}\nspec:\n"
         "  tls: [{hosts: [app.test]}]\n"
         "  rules:\n  - host: app.test\n    http:\n      paths:\n"
         "      - {path: /alpha, pathType: Prefix, backend: {service: {name: " +
         alpha_backend +
         ", port: {name: http}}}}\n"
         "      - {path: /, pathType: Prefix, backend: {service: {name: beta-srv, port: "
         "{number: 80}}}}\n"
         "  - http:\n      paths:\n"
         "      - {path: /fallback, pathType: Prefix, backend: {service: {name: beta-srv, port: "
         "{number: 80}}}}\n";
}

class IngressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("command -v node >/dev/null 2>&1") != 0)
      GTEST_SKIP() << "node is not installed: the pods of this test are Node programs";
    fs::create_directories(project_ / "k8s");
    const fs::path programs = fs::path(TICKETCTL_SOURCE_DIR) / "tests/integration/programs";
    std::ofstream(project_ / "ticketctl.yaml")
        << "manifests: [k8s]\nimages:\n  test/echo: {context: " << programs
        << ", command: [node, net_echo.js]}\n";
    std::ofstream(project_ / "k8s/apps.yaml") << deployment("alpha") << deployment("beta");
    std::ofstream(project_ / "k8s/ingress.yaml") << ingress("alpha-srv");
    const Result up = run({"up", "-d", "--timeout", "60s"});
    ASSERT_EQ(up.status, 0) << up.out << up.err;
    const Json ports = Json::parse(testing::slurp(state_ / "ingress.json"));
    http_port_ = ports["http"].get<int>();
    https_port_ = ports["https"].get<int>();
  }
  void TearDown() override { run({"down"}); }
  Result run(std::vector<std::string> args, const std::string& input = "") {
    args.push_back("--state-dir");
    args.push_back(state_.string());
    return ticketctl(std::move(args), input, project_.string());
  }
  // status and body of GET `path` with Host: `host` through the ingress
  std::pair<int, std::string> get(const std::string& host, const std::string& path) {
    httplib::Client client("127.0.0.1", http_port_);
    client.set_connection_timeout(5, 0);
    client.set_read_timeout(10, 0);
    auto r = client.Get(path, {{"Host", host}});
    if (!r) return {0, httplib::to_string(r.error())};
    return {r->status, r->body};
  }
  bool body_starts(const std::string& host, const std::string& path, const std::string& prefix) {
    auto [status, body] = get(host, path);
    return status == 200 && body.rfind(prefix, 0) == 0;
  }
  ticketctl::testing::TempDir tmp_{"ticketctl-ingress"};
  const fs::path state_ = tmp_.path() / "state";
  const fs::path project_ = tmp_.path() / "project";
  int http_port_ = 0, https_port_ = 0;
};

TEST_F(IngressTest, RoutesToPodsAndChangesLiveOnApplyAndDelete) {
  EXPECT_TRUE(body_starts("app.test", "/alpha/x", "alpha-"));
  EXPECT_TRUE(body_starts("APP.test:80", "/", "beta-"));
  auto [status, body] = get("other.test", "/nothing");
  EXPECT_EQ(status, 404);
  EXPECT_NE(body.find("other.test"), std::string::npos) << body;

  // /alpha now goes to beta: no restart, the next request takes the new table.
  const Result applied = run({"apply", "-f", "-"}, ingress("beta-srv"));
  ASSERT_EQ(applied.status, 0) << applied.err;
  EXPECT_TRUE(eventually([&] { return body_starts("app.test", "/alpha/x", "beta-"); }));

  ASSERT_EQ(run({"delete", "ingress", "web"}).status, 0);
  EXPECT_TRUE(eventually([&] { return get("app.test", "/").first == 404; }));
}

TEST_F(IngressTest, AServiceWithoutReadyPodsAnswers503WithRetryAfter) {
  ASSERT_EQ(run({"scale", "deploy/alpha", "--replicas", "0"}).status, 0);
  httplib::Client client("127.0.0.1", http_port_);
  httplib::Response last;
  ASSERT_TRUE(eventually([&] {
    auto r = client.Get("/alpha", {{"Host", "app.test"}});
    if (r) last = *r;
    return r && r->status == 503;
  }));
  EXPECT_EQ(last.get_header_value("Retry-After"), "5");
  EXPECT_NE(last.body.find("alpha-srv"), std::string::npos) << last.body;
}

TEST_F(IngressTest, AnotherIngressClassIsIgnoredWithAWarningEvent) {
  const std::string other =
      "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: traefik-one}\nspec:\n"
      "  ingressClassName: traefik\n  rules:\n  - host: traefik.test\n    http:\n      paths:\n"
      "      - {path: /, pathType: Prefix, backend: {service: {name: beta-srv, port: {number: "
      "80}}}}\n";
  ASSERT_EQ(run({"apply", "-f", "-"}, other).status, 0);
  EXPECT_TRUE(eventually([&] {
    return run({"get", "events", "-o", "jsonpath={.items[?(@.type==\"Warning\")].message}"})
               .out.find("traefik") != std::string::npos;
  }));
  EXPECT_EQ(get("traefik.test", "/").first, 404);
}

TEST_F(IngressTest, HttpsServesACertificateFromTheLocalCaForTheHost) {
  if (std::system("command -v curl >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "curl is not installed: it is the TLS client of this test";
  const fs::path out = tmp_.path() / "curl.out";
  const std::string command =
      "curl -s --max-time 10 --cacert " + (state_ / "pki" / "ca.crt").string() +
      " --resolve app.test:" + std::to_string(https_port_) +
      ":127.0.0.1 https://app.test:" + std::to_string(https_port_) + "/alpha/x > " + out.string();
  // The certificate verifies for app.test against the CA only: curl fails otherwise.
  ASSERT_EQ(std::system(command.c_str()), 0);
  EXPECT_EQ(testing::slurp(out).rfind("alpha-", 0), 0u) << testing::slurp(out);
}

TEST_F(IngressTest, PodsReachTheIngressByTheNameCourseCodeUses) {
  // Rules without a host take requests for any host that has no rule of its own.
  const std::string url =
      "http://ingress-nginx-controller.ingress-nginx.svc.cluster.local/fallback";
  EXPECT_TRUE(eventually([&] {
    // "/" goes to beta, whose program calls `url` from inside its pod.
    auto [status, body] = get("app.test", "/call?url=" + url);
    return status == 200 && body.find("-> beta-") != std::string::npos;
  })) << get("app.test", "/call?url=" + url).second;
}

}  // namespace
}  // namespace ticketctl
