// `ticketctl tap` against a real control plane (`up -d` of two Node Services behind an Ingress
// in a temporary directory): a tap started in the background says on stderr when it is
// subscribed, then a request through the ingress becomes its line (method, path, status, the
// pod that answered); a tap of one Service sees only that Service's requests; bodies and masked
// secrets with --body; a bad target exits non-zero with the message, on the CLI and the API;
// Ctrl-C exits 0; and with no tap open the ingress publishes nothing (the API's tap status).

#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/background.h"
#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing::Result;
using namespace std::chrono_literals;

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

constexpr const char* kIngress =
    "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec:\n"
    "  rules:\n  - host: app.test\n    http:\n      paths:\n"
    "      - {path: /alpha, pathType: Prefix, backend: {service: {name: alpha-srv, port: "
    "{number: 80}}}}\n"
    "      - {path: /, pathType: Prefix, backend: {service: {name: beta-srv, port: {number: "
    "80}}}}\n";

// Its "tapping TARGET" line: the subscription is in place from then on.
bool subscribed(testing::Background& tap) {
  return testing::eventually([&] { return tap.err().find("tapping ") != std::string::npos; }, 20s);
}

class TapTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (std::system("command -v node >/dev/null 2>&1") != 0) return;
    std::string dir = (fs::temp_directory_path() / "ticketctl-tap-XXXXXX").string();
    ASSERT_NE(::mkdtemp(dir.data()), nullptr);
    root_ = new fs::path(dir);
    const fs::path project = *root_ / "project";
    fs::create_directories(project / "k8s");
    const fs::path programs = fs::path(TICKETCTL_SOURCE_DIR) / "tests/integration/programs";
    std::ofstream(project / "ticketctl.yaml")
        << "manifests: [k8s]\nimages:\n  test/echo: {context: " << programs
        << ", command: [node, net_echo.js]}\n";
    std::ofstream(project / "k8s/apps.yaml")
        << deployment("alpha") << deployment("beta") << kIngress;
    const Result up = testing::ticketctl(
        {"up", "-d", "--timeout", "60s", "--state-dir", (*root_ / "state").string()}, "",
        project.string());
    ASSERT_EQ(up.status, 0) << up.out << up.err;
    http_port_ = json::parse(testing::slurp(*root_ / "state/ingress.json"))["http"].get<int>();
  }
  static void TearDownTestSuite() {
    if (!root_) return;
    run({"down"});
    std::error_code ec;
    fs::remove_all(*root_, ec);
    delete root_;
    root_ = nullptr;
  }
  void SetUp() override {
    if (!root_) GTEST_SKIP() << "node is not installed: the pods of this test are Node programs";
  }
  static Result run(std::vector<std::string> args) {
    args.push_back("--state-dir");
    args.push_back((*root_ / "state").string());
    return testing::ticketctl(std::move(args));
  }
  static std::unique_ptr<testing::Background> tap(std::vector<std::string> args) {
    args.insert(args.begin(), "tap");
    args.push_back("--state-dir");
    args.push_back((*root_ / "state").string());
    static int n = 0;
    return std::make_unique<testing::Background>(testing::ticketctl_argv(std::move(args)),
                                                 *root_ / ("tap" + std::to_string(n++) + ".out"));
  }
  // A request through the ingress: its status.
  static int request(const std::string& method, const std::string& path,
                     const std::string& body = "") {
    httplib::Client client("127.0.0.1", http_port_);
    client.set_read_timeout(10, 0);
    const httplib::Headers headers = {{"Host", "app.test"},
                                      {"Authorization", "Bearer tap-test-secret"},
                                      {"Cookie", "session=tap-test-cookie"}};
    auto r = method == "POST" ? client.Post(path.c_str(), headers, body, "application/json")
                              : client.Get(path.c_str(), headers);
    return r ? r->status : 0;
  }
  // GET on the API with the state directory's token and CA: status and body.
  static std::pair<int, std::string> api_get(const std::string& path) {
    const fs::path state = *root_ / "state";
    const int port = json::parse(testing::slurp(state / "apiserver.json"))["port"].get<int>();
    std::string token = testing::slurp(state / "token");
    while (!token.empty() && token.back() == '\n') token.pop_back();
    httplib::SSLClient client("127.0.0.1", port);
    client.set_ca_cert_path((state / "pki/ca.crt").c_str());
    client.enable_server_certificate_verification(true);
    client.set_bearer_token_auth(token.c_str());
    client.set_read_timeout(10, 0);
    auto r = client.Get(path.c_str());
    return r ? std::pair{r->status, r->body} : std::pair{0, httplib::to_string(r.error())};
  }
  static json tap_status() {
    const auto [status, body] = api_get("/apis/ticketctl.dev/v1/taps");
    EXPECT_EQ(status, 200) << body;
    return json::parse(body, nullptr, false);
  }
  // The JSON lines of a tap's stdout.
  static std::vector<json> lines(const std::string& out) {
    std::vector<json> v;
    size_t at = 0;
    for (size_t eol; (eol = out.find('\n', at)) != std::string::npos; at = eol + 1)
      v.push_back(json::parse(out.substr(at, eol - at), nullptr, false));
    return v;
  }

  static inline fs::path* root_ = nullptr;
  static inline int http_port_ = 0;
};

TEST_F(TapTest, IngressJsonNamesMethodPathStatusAndThePodThatAnswered) {
  auto t = tap({"ingress", "-o", "json", "--max", "1"});
  ASSERT_TRUE(subscribed(*t)) << t->err();
  ASSERT_EQ(request("GET", "/alpha/x?q=1"), 200);
  ASSERT_EQ(t->wait(20s), 0) << t->err();
  const std::vector<json> got = lines(t->out());
  ASSERT_EQ(got.size(), 1u) << t->out();
  const json& e = got[0];
  EXPECT_EQ(e["via"], "ingress");
  EXPECT_EQ(e["kind"], "http");
  EXPECT_EQ(e["method"], "GET");
  EXPECT_EQ(e["path"], "/alpha/x?q=1");
  EXPECT_EQ(e["host"], "app.test");
  EXPECT_EQ(e["status"], 200);
  EXPECT_EQ(e["source"]["ip"], "127.0.0.1");
  EXPECT_GT(e["source"]["port"].get<int>(), 0);
  EXPECT_EQ(e["destination"]["service"], "default/alpha-srv");
  EXPECT_EQ(e["destination"]["pod"].get<std::string>().rfind("default/alpha-", 0), 0u) << e;
  EXPECT_EQ(e["destination"]["workload"], "default/alpha");
  EXPECT_EQ(e["destination"]["port"], 3000);
  EXPECT_GT(e["responseBytes"].get<int>(), 0);
  EXPECT_FALSE(e.contains("requestBody"));  // only with --body
  // Secrets masked without --show-secrets.
  bool masked = false;
  for (const json& h : e["requestHeaders"])
    if (h["name"] == "Authorization") masked = h["value"] == "***";
  EXPECT_TRUE(masked) << e["requestHeaders"];
  EXPECT_EQ(e.dump().find("tap-test-secret"), std::string::npos);
}

TEST_F(TapTest, AServiceTapSeesOnlyThatService) {
  auto t = tap({"svc/beta-srv", "-o", "json", "--max", "1"});
  ASSERT_TRUE(subscribed(*t)) << t->err();
  EXPECT_NE(t->err().find("tapping svc/default/beta-srv"), std::string::npos) << t->err();
  ASSERT_EQ(request("GET", "/alpha/first"), 200);  // alpha's: not this tap's
  ASSERT_EQ(request("GET", "/second"), 200);       // beta's
  ASSERT_EQ(t->wait(20s), 0) << t->err();
  const std::vector<json> got = lines(t->out());
  ASSERT_EQ(got.size(), 1u) << t->out();
  EXPECT_EQ(got[0]["path"], "/second");
  EXPECT_EQ(got[0]["destination"]["service"], "default/beta-srv");
}

TEST_F(TapTest, BodyAndShowSecretsAndThePersonsLine) {
  auto t = tap({"ingress", "--body", "--show-secrets", "-o", "json", "--max", "1"});
  ASSERT_TRUE(subscribed(*t)) << t->err();
  ASSERT_EQ(request("POST", "/alpha/create", R"({"type":"PostCreated"})"), 200);
  ASSERT_EQ(t->wait(20s), 0) << t->err();
  const std::vector<json> got = lines(t->out());
  ASSERT_EQ(got.size(), 1u) << t->out();
  EXPECT_EQ(got[0]["requestBody"], R"({"type":"PostCreated"})");
  EXPECT_EQ(got[0]["responseBody"].get<std::string>().rfind("alpha-", 0), 0u) << got[0];
  EXPECT_NE(got[0].dump().find("Bearer tap-test-secret"), std::string::npos);

  auto human = tap({"ingress", "--body", "--max", "1"});
  ASSERT_TRUE(subscribed(*human)) << human->err();
  ASSERT_EQ(request("POST", "/alpha/create", R"({"type":"PostCreated"})"), 200);
  ASSERT_EQ(human->wait(20s), 0) << human->err();
  const std::string out = human->out();
  EXPECT_NE(out.find("  ingress → alpha-srv/alpha-"), std::string::npos) << out;
  EXPECT_NE(out.find("  POST /alpha/create  200  "), std::string::npos) << out;
  EXPECT_NE(out.find("\n    > {\"type\":\"PostCreated\"}"), std::string::npos) << out;
  EXPECT_NE(out.find("\n    < alpha-"), std::string::npos) << out;
}

TEST_F(TapTest, ABadTargetExitsNonZeroWithTheMessage) {
  const Result kind = run({"tap", "queue/x"});
  EXPECT_EQ(kind.status, 1);
  EXPECT_NE(kind.err.find("unknown kind \"queue\""), std::string::npos) << kind.err;
  const Result name = run({"tap", "svc/Not_Valid"});
  EXPECT_EQ(name.status, 1);
  EXPECT_NE(name.err.find("svc/Not_Valid"), std::string::npos) << name.err;
  // The API refuses what the CLI would not send, with a Status naming it.
  auto [status, body] = api_get("/apis/ticketctl.dev/v1/namespaces/default/tap?target=svc/Bad_One");
  EXPECT_EQ(status, 400);
  EXPECT_NE(body.find("svc/Bad_One"), std::string::npos) << body;
  EXPECT_NE(body.find("\"kind\":\"Status\""), std::string::npos) << body;
  std::tie(status, body) = api_get("/apis/ticketctl.dev/v1/tap?target=svc/x");
  EXPECT_EQ(status, 400);
  EXPECT_NE(body.find("/namespaces/NS/tap"), std::string::npos) << body;
  std::tie(status, body) = api_get("/apis/ticketctl.dev/v1/tap?target=ingress&bodies=yes");
  EXPECT_EQ(status, 400);
  EXPECT_NE(body.find("bodies=\\\"yes\\\""), std::string::npos) << body;
}

TEST_F(TapTest, NoControlPlaneIsAnError) {
  testing::TempDir empty("ticketctl-tap-none");
  const Result r = testing::ticketctl({"tap", "--state-dir", (empty.path() / "state").string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_FALSE(r.err.empty());
}

TEST_F(TapTest, CtrlCExitsZeroAndTheSubscriptionGoes) {
  auto t = tap({});
  ASSERT_TRUE(subscribed(*t)) << t->err();
  EXPECT_NE(t->err().find("tapping all"), std::string::npos) << t->err();
  EXPECT_GE(tap_status()["subscriptions"].get<int>(), 1);
  t->signal(SIGINT);
  EXPECT_EQ(t->wait(20s), 0) << t->err();
  // The server notices the reader left within a few keep-alives (one every 2 s).
  EXPECT_TRUE(testing::eventually([] { return tap_status()["subscriptions"] == 0; }, 20s))
      << tap_status();
}

TEST_F(TapTest, WithNoTapOpenTheIngressPublishesNothing) {
  ASSERT_TRUE(testing::eventually([] { return tap_status()["subscriptions"] == 0; }, 20s));
  const uint64_t before = tap_status()["published"].get<uint64_t>();
  ASSERT_EQ(request("GET", "/alpha/unseen"), 200);
  ASSERT_EQ(request("GET", "/unseen"), 200);
  const json after = tap_status();
  EXPECT_EQ(after["published"].get<uint64_t>(), before) << after;
  EXPECT_EQ(after["targets"], json::array());
}

}  // namespace
}  // namespace ticketctl
