// The dashboard's access rules without a browser: a real control plane (`up -d --empty` in a
// temporary state directory), `ticketctl dashboard` for the login link, and a plain HTTP client
// playing the browser and the attacker: no cookie, a spent or forged token, a foreign Host, a
// cross-site POST, a POST without the CSRF token; and what a signed-in page reads and changes
// (the state stream, a Secret's YAML masked, scale through the API).

#include <httplib.h>
#include <stdlib.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing::Result;

constexpr const char* kManifest = R"(apiVersion: v1
kind: Secret
metadata:
  name: jwt
stringData:
  JWT_KEY: very-secret-value
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 0
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: example/web
)";

class DashboardTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // One control plane for the suite (TempDir names itself after a test; there is none yet).
    std::string dir = (fs::temp_directory_path() / "ticketctl-dashboard-XXXXXX").string();
    ASSERT_NE(::mkdtemp(dir.data()), nullptr);
    state_ = new fs::path(dir);
    ASSERT_EQ(run({"up", "-d", "--empty"}).status, 0);
    const Result applied = run({"apply", "-f", "-"}, kManifest);
    ASSERT_EQ(applied.status, 0) << applied.out << applied.err;
  }
  static void TearDownTestSuite() {
    run({"down"});
    std::error_code ec;
    fs::remove_all(*state_, ec);
    delete state_;
  }
  static Result run(std::vector<std::string> args, const std::string& input = "") {
    args.push_back("--state-dir");
    args.push_back(state_->string());
    return testing::ticketctl(std::move(args), input);
  }
  // The URL `ticketctl dashboard` prints: its port and token.
  static std::pair<int, std::string> login_link() {
    const Result r = run({"dashboard"});
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    const std::string prefix = "http://127.0.0.1:";
    EXPECT_EQ(r.out.rfind(prefix, 0), 0u) << r.out;
    const size_t q = r.out.find("/?token=");
    if (q == std::string::npos) return {0, ""};
    std::string token = r.out.substr(q + 8);
    while (!token.empty() && token.back() == '\n') token.pop_back();
    return {std::stoi(r.out.substr(prefix.size(), q - prefix.size())), token};
  }
  static httplib::Client client(int port) {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(5);
    c.set_read_timeout(10);
    return c;
  }
  // A signed-in browser: the session cookie and the CSRF token the page reads.
  struct Browser {
    int port = 0;
    std::string cookie, csrf;
    httplib::Headers post_headers() const {
      return {{"Cookie", cookie},
              {"X-CSRF-Token", csrf},
              {"Origin", "http://127.0.0.1:" + std::to_string(port)},
              {"Sec-Fetch-Site", "same-origin"}};
    }
  };
  static Browser sign_in() {
    const auto [port, token] = login_link();
    Browser b{port, "", ""};
    auto c = client(port);
    const auto res = c.Get("/?token=" + token);
    EXPECT_TRUE(res);
    if (!res) return b;
    EXPECT_EQ(res->status, 303);
    const std::string set = res->get_header_value("Set-Cookie");
    b.cookie = set.substr(0, set.find(';'));
    const auto session = c.Get("/api/session", {{"Cookie", b.cookie}});
    EXPECT_TRUE(session && session->status == 200);
    if (session) b.csrf = json::parse(session->body, nullptr, false).value("csrf", "");
    return b;
  }
  static fs::path* state_;
};
fs::path* DashboardTest::state_ = nullptr;

TEST_F(DashboardTest, TheLoginTokenWorksOnceAndBecomesAnHttpOnlyStrictCookie) {
  const auto [port, token] = login_link();
  ASSERT_GT(port, 0);
  ASSERT_EQ(token.size(), 64u);
  auto c = client(port);
  // Nothing without a session: the page, its assets, the API.
  for (const char* path : {"/", "/app.js", "/api/state", "/api/session"}) {
    const auto res = c.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 401) << path;
    EXPECT_NE(res->body.find("ticketctl dashboard"), std::string::npos) << path << res->body;
  }
  const auto forged = c.Get("/?token=" + std::string(64, 'a'));
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 403);
  EXPECT_EQ(forged->get_header_value("Set-Cookie"), "");

  const auto first = c.Get("/?token=" + token);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 303);
  EXPECT_EQ(first->get_header_value("Location"), "/");
  const std::string cookie = first->get_header_value("Set-Cookie");
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos) << cookie;
  EXPECT_EQ(first->get_header_value("Referrer-Policy"), "no-referrer");

  const auto again = c.Get("/?token=" + token);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 403) << "a login token must work once";
  EXPECT_NE(again->body.find("used already"), std::string::npos) << again->body;

  const auto page = c.Get("/", {{"Cookie", cookie.substr(0, cookie.find(';'))}});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<script src=\"/app.js\""), std::string::npos);
  EXPECT_EQ(page->body.find("http://"), std::string::npos) << "nothing fetched from elsewhere";
}

TEST_F(DashboardTest, OnlyTheApiTokenMintsLoginLinksAndOnlyLoopbackHostsAreServed) {
  const auto [port, token] = login_link();
  auto c = client(port);
  const auto anonymous = c.Post("/login-token", "", "application/json");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  const auto wrong =
      c.Post("/login-token", {{"Authorization", "Bearer " + std::string(64, '0')}}, "", "");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  // A DNS-rebound name reaching 127.0.0.1 carries its own Host: refused, even with a token.
  const auto rebound =
      c.Get("/?token=" + token, {{"Host", "evil.example:" + std::to_string(port)}});
  ASSERT_TRUE(rebound);
  EXPECT_EQ(rebound->status, 403);
  EXPECT_NE(rebound->body.find("Host"), std::string::npos);
}

TEST_F(DashboardTest, StateChangingRequestsNeedTheCsrfTokenAndTheDashboardsOrigin) {
  const Browser b = sign_in();
  auto c = client(b.port);
  const std::string scale =
      json{{"action", "scale"}, {"namespace", "default"}, {"name", "web"}, {"replicas", 3}}.dump();
  const auto refused = [&](httplib::Headers headers, const std::string& why) {
    const auto res = c.Post("/api/action", headers, scale, "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 403) << why;
    EXPECT_NE(res->body.find(why), std::string::npos) << res->body;
  };
  httplib::Headers h = b.post_headers();
  h.erase("X-CSRF-Token");
  refused(h, "no X-CSRF-Token");
  h = b.post_headers();
  h.find("X-CSRF-Token")->second = std::string(64, 'f');
  refused(h, "X-CSRF-Token header is wrong");
  // What a page on another site can send with the user's cookie: its own Origin.
  h = b.post_headers();
  h.find("Origin")->second = "http://evil.example";
  h.find("Sec-Fetch-Site")->second = "cross-site";
  refused(h, "another origin");
  h = b.post_headers();
  h.find("Sec-Fetch-Site")->second = "same-site";
  refused(h, "same-site fetch");
  h = b.post_headers();
  h.erase("Origin");
  refused(h, "no Origin");
  h = b.post_headers();
  h.erase("Cookie");
  const auto no_cookie = c.Post("/api/action", h, scale, "application/json");
  ASSERT_TRUE(no_cookie);
  EXPECT_EQ(no_cookie->status, 401);
  EXPECT_EQ(run({"get", "deploy/web", "-o", "jsonpath={.spec.replicas}"}).out, "0");

  const auto ok = c.Post("/api/action", b.post_headers(), scale, "application/json");
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(json::parse(ok->body).value("command", ""),
            "ticketctl scale deployment/web --replicas=3");
  EXPECT_EQ(run({"get", "deploy/web", "-o", "jsonpath={.spec.replicas}"}).out, "3");

  const auto missing =
      c.Post("/api/action", b.post_headers(),
             json{{"action", "delete"}, {"namespace", "default"}, {"name", "nope"}}.dump(),
             "application/json");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404) << missing->body;
  EXPECT_NE(missing->body.find("ticketctl delete pod/nope"), std::string::npos) << missing->body;
  const auto bad = c.Post(
      "/api/action", b.post_headers(),
      json{{"action", "scale"}, {"namespace", "default"}, {"name", "../x"}, {"replicas", 1}}.dump(),
      "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 422) << bad->body;
  run({"scale", "deploy/web", "--replicas=0"});
}

TEST_F(DashboardTest, SecretValuesAreMaskedInTheYamlView) {
  const Browser b = sign_in();
  auto c = client(b.port);
  const auto res =
      c.Get("/api/yaml?resource=secrets&namespace=default&name=jwt", {{"Cookie", b.cookie}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_NE(res->body.find("JWT_KEY: \"*****\""), std::string::npos) << res->body;
  EXPECT_EQ(res->body.find("very-secret-value"), std::string::npos) << res->body;
  EXPECT_EQ(res->body.find("dmVyeS1zZWNyZXQtdmFsdWU"), std::string::npos) << "base64 of it";
  const auto deploy =
      c.Get("/api/yaml?resource=deployments&namespace=default&name=web", {{"Cookie", b.cookie}});
  ASSERT_TRUE(deploy);
  EXPECT_NE(deploy->body.find("image: example/web"), std::string::npos) << deploy->body;
}

TEST_F(DashboardTest, TheStateStreamSendsASnapshotAndAnotherAfterAChange) {
  const Browser b = sign_in();
  httplib::Client c("127.0.0.1", b.port);
  c.set_read_timeout(15);
  std::string received;
  bool changed = false;
  const auto res = c.Get("/api/watch", {{"Cookie", b.cookie}}, [&](const char* data, size_t n) {
    received.append(data, n);
    if (!changed && received.find("event: state") != std::string::npos) {
      changed = true;
      run({"annotate", "deploy/web", "touched=yes"});  // any committed change
    }
    // Two snapshots, the second after the annotation was written.
    return received.find("event: state", received.find("event: state") + 1) == std::string::npos;
  });
  const size_t second = received.find("event: state", received.find("event: state") + 1);
  ASSERT_NE(second, std::string::npos) << received.substr(0, 400);
  EXPECT_NE(received.find("\"name\":\"web\""), std::string::npos);
}

// The Traffic view's stream: subscribed first, then a request made through the ingress after
// the page opened it (this empty app has no Ingress: the ingress answers 404, and reports that
// too), with its headers masked; a bad target is 400 naming it; no cookie, no stream.
TEST_F(DashboardTest, TheTrafficStreamShowsARequestThroughTheIngress) {
  const Browser b = sign_in();
  httplib::Client c("127.0.0.1", b.port);
  c.set_read_timeout(15);
  const auto bad = c.Get("/api/traffic?target=queue/x", {{"Cookie", b.cookie}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("queue/x"), std::string::npos) << bad->body;
  const auto anonymous = c.Get("/api/traffic");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);

  const int ingress =
      json::parse(testing::slurp(*state_ / "ingress.json"), nullptr, false).value("http", 0);
  ASSERT_GT(ingress, 0);
  std::string received;
  bool sent = false;
  const auto res =
      c.Get("/api/traffic?target=ingress", {{"Cookie", b.cookie}}, [&](const char* data, size_t n) {
        received.append(data, n);
        if (!sent && received.find("event: subscribed") != std::string::npos) {
          sent = true;
          httplib::Client to_ingress("127.0.0.1", ingress);
          to_ingress.Get("/seen-by-the-traffic-view",
                         {{"Host", "traffic.test"}, {"Cookie", "session=not-for-the-page"}});
        }
        return received.find("event: exchanges") == std::string::npos;
      });
  ASSERT_NE(received.find("event: exchanges"), std::string::npos) << received.substr(0, 400);
  const size_t data = received.find("data: ", received.find("event: exchanges"));
  const json items =
      json::parse(received.substr(data + 6, received.find('\n', data) - data - 6), nullptr, false);
  ASSERT_TRUE(items.is_array() && !items.empty()) << received;
  EXPECT_EQ(items[0]["path"], "/seen-by-the-traffic-view");
  EXPECT_EQ(items[0]["host"], "traffic.test");
  EXPECT_EQ(items[0]["status"], 404);
  EXPECT_EQ(items[0]["via"], "ingress");
  EXPECT_EQ(received.find("not-for-the-page"), std::string::npos) << "the Cookie is masked";
  EXPECT_TRUE(items[0].contains("responseBody"));  // the first KiB of each body
}

TEST_F(DashboardTest, OpenHandsTheUrlToBrowserOrSaysWhyItCannot) {
  ticketctl::testing::TempDir scratch("ticketctl-dashboard-open");
  const fs::path browser = scratch.path() / "browser", seen = scratch.path() / "seen";
  std::ofstream(browser) << "#!/bin/sh\necho \"$1\" > " << seen.string() << "\n";
  fs::permissions(browser, fs::perms::owner_all);
  ::setenv("BROWSER", browser.c_str(), 1);
  const Result opened = run({"dashboard", "--open"});
  EXPECT_EQ(opened.status, 0) << opened.err;
  EXPECT_NE(opened.err.find("opened with"), std::string::npos) << opened.err;
  // The browser runs detached; its file appears once it has.
  const bool wrote =
      testing::eventually([&] { return !testing::slurp(seen).empty(); }, std::chrono::seconds(10));
  EXPECT_TRUE(wrote);
  EXPECT_EQ(testing::slurp(seen), opened.out) << "the browser got the printed URL";

  ::setenv("BROWSER", (scratch.path() / "missing").c_str(), 1);
  const Result missing = run({"dashboard", "--open"});
  ::unsetenv("BROWSER");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.out.find("/?token="), std::string::npos) << "the URL is still printed";
  EXPECT_NE(missing.err.find("open the URL above yourself"), std::string::npos) << missing.err;
}

TEST_F(DashboardTest, DashboardWithoutAControlPlaneSaysHowToStartOne) {
  ticketctl::testing::TempDir empty("ticketctl-dashboard-none");
  const Result r = testing::ticketctl({"dashboard", "--state-dir", empty.path().string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("up"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ticketctl
