// `ticketctl init` and `ticketctl new service` as a user runs them, without starting anything:
// the files written, the YAML edits that keep a user's comments, what is refused. The running
// app is tests/e2e/scaffold_test.cpp.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace {
namespace fs = std::filesystem;

using ticketctl::testing::Result;
using ticketctl::testing::slurp;
using ticketctl::testing::TempDir;
using ticketctl::testing::ticketctl;

// Every file under `dir` with its contents: a snapshot to compare.
std::map<std::string, std::string> tree(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[e.path().lexically_relative(dir).string()] = slurp(e.path());
  return out;
}

TEST(Scaffold, InitWritesAnAppThatValidates) {
  TempDir tmp("scaffold-init");
  Result r = ticketctl({"init", "shop"}, "", tmp.path().string());
  ASSERT_EQ(r.status, 0) << r.err;
  const fs::path app = tmp.path() / "shop";
  for (const char* f :
       {"ticketctl.yaml", "skaffold.yaml", "infra/k8s/ingress-srv.yaml", "README.md", ".gitignore"})
    EXPECT_TRUE(fs::exists(app / f)) << f << "\n" << r.out;
  EXPECT_NE(slurp(app / "infra/k8s/ingress-srv.yaml").find("host: shop.localhost"),
            std::string::npos);
  r = ticketctl({"validate", "-f", "infra/k8s"}, "", app.string());
  EXPECT_EQ(r.status, 0) << r.err;
  // Again: nothing is overwritten.
  const auto before = tree(app);
  r = ticketctl({"init"}, "", app.string());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(tree(app), before);
}

TEST(Scaffold, NewServiceWritesCodeManifestsAndRoutes) {
  TempDir tmp("scaffold-new");
  ASSERT_EQ(ticketctl({"init", "app"}, "", tmp.path().string()).status, 0);
  const fs::path app = tmp.path() / "app";
  Result r = ticketctl({"new", "service", "tickets", "--template", "node-ts", "--secret",
                        "jwt-secret:JWT_KEY", "--db", "redis", "--replicas", "2"},
                       "", app.string());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("ticketctl create secret generic jwt-secret --from-literal=JWT_KEY="),
            std::string::npos)
      << r.out;
  for (const char* f : {"tickets/package.json", "tickets/src/app.ts", "tickets/src/index.ts",
                        "tickets/src/test/app.test.ts", "tickets/Dockerfile",
                        "tickets/.dockerignore", "tickets/tsconfig.json",
                        "infra/k8s/tickets-depl.yaml", "infra/k8s/tickets-redis-depl.yaml"})
    EXPECT_TRUE(fs::exists(app / f)) << f;
  const std::string depl = slurp(app / "infra/k8s/tickets-depl.yaml");
  EXPECT_NE(depl.find("replicas: 2"), std::string::npos);
  EXPECT_NE(
      depl.find(
          "secretKeyRef:\n                  name: jwt-secret\n                  key: JWT_KEY"),
      std::string::npos)
      << depl;
  EXPECT_NE(depl.find("value: \"redis://tickets-redis-srv:6379\""), std::string::npos) << depl;
  EXPECT_NE(slurp(app / "tickets/src/app.ts").find("JWT_KEY: fingerprint(process.env.JWT_KEY)"),
            std::string::npos);
  EXPECT_NE(slurp(app / "ticketctl.yaml").find("images:\n  app/tickets:\n"), std::string::npos)
      << slurp(app / "ticketctl.yaml");
  EXPECT_NE(slurp(app / "skaffold.yaml").find("  artifacts:\n    - image: app/tickets\n"),
            std::string::npos)
      << slurp(app / "skaffold.yaml");
  EXPECT_NE(slurp(app / "infra/k8s/ingress-srv.yaml").find("path: /api/tickets/?(.*)"),
            std::string::npos);

  ASSERT_EQ(ticketctl({"new", "service", "auth"}, "", app.string()).status, 0);
  ASSERT_EQ(ticketctl({"new", "service", "orders", "-t", "cpp", "--path", "/api/orders/v1"}, "",
                      (app / "infra").string())
                .status,
            0);
  r = ticketctl({"validate", "-f", "infra/k8s"}, "", app.string());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("9 objects"), std::string::npos) << r.out;
  const std::string ticketctl_yaml = slurp(app / "ticketctl.yaml");
  EXPECT_NE(ticketctl_yaml.find("  app/orders:\n"), std::string::npos) << ticketctl_yaml;
  EXPECT_NE(ticketctl_yaml.find("command: [./build/orders]"), std::string::npos);
  EXPECT_NE(slurp(app / "orders/src/app.cpp").find("server.Get(\"/api/orders/v1\""),
            std::string::npos);
}

TEST(Scaffold, NewServiceTwiceRefusesAndChangesNothing) {
  TempDir tmp("scaffold-twice");
  ASSERT_EQ(ticketctl({"init", "app"}, "", tmp.path().string()).status, 0);
  const fs::path app = tmp.path() / "app";
  ASSERT_EQ(ticketctl({"new", "service", "auth"}, "", app.string()).status, 0);
  const auto before = tree(app);
  Result r = ticketctl({"new", "service", "auth", "-t", "cpp"}, "", app.string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
  EXPECT_EQ(tree(app), before);
  // The directory is gone but the manifests still define it: still refused.
  fs::remove_all(app / "auth");
  const auto without_dir = tree(app);
  r = ticketctl({"new", "service", "auth"}, "", app.string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("already defines auth-depl"), std::string::npos) << r.err;
  EXPECT_EQ(tree(app), without_dir);
}

TEST(Scaffold, AnIngressWithCommentsKeepsThemByteForByte) {
  TempDir tmp("scaffold-comments");
  ASSERT_EQ(ticketctl({"init", "app"}, "", tmp.path().string()).status, 0);
  const fs::path app = tmp.path() / "app";
  const std::string ingress = R"(# Hand-written routes.
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ingress-srv   # the course's name
spec:
  ingressClassName: nginx
  rules:
    - host: app.localhost
      http:
        paths:
          # the client gets everything else
          - path: /
            pathType: Prefix
            backend:
              service:
                name: client-srv
                port:
                  number: 3000   # next.js
          # (new services go above the client in ingress-nginx's order anyway)

# end of file
)";
  std::ofstream(app / "infra/k8s/ingress-srv.yaml") << ingress;
  Result r = ticketctl({"new", "service", "auth"}, "", app.string());
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string after = slurp(app / "infra/k8s/ingress-srv.yaml");
  const std::string anchor = "number: 3000   # next.js\n";
  const size_t cut = ingress.find(anchor) + anchor.size();
  ASSERT_EQ(after.substr(0, cut), ingress.substr(0, cut));
  const std::string inserted =
      "          - path: /api/auth\n            pathType: Prefix\n            backend:\n"
      "              service:\n                name: auth-srv\n                port:\n"
      "                  number: 3000\n";
  EXPECT_EQ(after.substr(cut, inserted.size()), inserted) << after;
  EXPECT_EQ(after.substr(cut + inserted.size()), ingress.substr(cut));
  EXPECT_EQ(ticketctl({"validate", "-f", "infra/k8s"}, "", app.string()).status, 0);
}

TEST(Scaffold, AnEditThatIsNotSafeBecomesASnippetToPaste) {
  TempDir tmp("scaffold-snippet");
  ASSERT_EQ(ticketctl({"init", "app"}, "", tmp.path().string()).status, 0);
  const fs::path app = tmp.path() / "app";
  std::ofstream(app / "skaffold.yaml") << "apiVersion: skaffold/v2alpha3\nkind: Config\n"
                                          "build: {artifacts: []}\n";
  Result r = ticketctl({"new", "service", "auth"}, "", app.string());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("to do by hand: skaffold.yaml:3: cannot add build.artifacts app/auth "
                       "safely (the list is written in flow style ([...])); add this after "
                       "line 3:\n- image: app/auth\n  context: auth\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(slurp(app / "skaffold.yaml"),
            "apiVersion: skaffold/v2alpha3\nkind: Config\nbuild: {artifacts: []}\n");
}

TEST(Scaffold, DryRunAndTemplateDirAndBadInput) {
  TempDir tmp("scaffold-misc");
  ASSERT_EQ(ticketctl({"init", "app"}, "", tmp.path().string()).status, 0);
  const fs::path app = tmp.path() / "app";
  const auto before = tree(app);
  Result r = ticketctl({"new", "service", "auth", "--dry-run"}, "", app.string());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("--- auth/src/app.js\n"), std::string::npos) << r.out;
  EXPECT_EQ(tree(app), before);

  // A user's template directory: its own service template, and an override of a built-in file.
  const fs::path mine = tmp.path() / "templates";
  fs::create_directories(mine / "service/static/files");
  std::ofstream(mine / "service/static/files/index.html") << "<h1>{{name}} on {{port}}</h1>\n";
  std::ofstream(mine / "service/static/image.yaml")
      << "context: {{name}}\ncommand: [python3, -m, http.server, \"{{port}}\"]\n";
  r = ticketctl(
      {"new", "service", "docs", "-t", "static", "--port", "8000", "--template-dir", mine.string()},
      "", app.string());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(slurp(app / "docs/index.html"), "<h1>docs on 8000</h1>\n");
  EXPECT_NE(slurp(app / "ticketctl.yaml").find("command: [python3, -m, http.server, \"8000\"]"),
            std::string::npos);

  for (std::vector<std::string> bad :
       std::vector<std::vector<std::string>>{{"new", "service", "Auth"},
                                             {"new", "service", "auth", "--secret", "nocolon"},
                                             {"new", "service", "auth", "--path", "/api/(.*)"},
                                             {"new", "service", "auth", "-t", "cobol"}}) {
    r = ticketctl(bad, "", app.string());
    EXPECT_EQ(r.status, 1) << bad.back();
    EXPECT_NE(r.err.find("ticketctl new service: "), std::string::npos) << r.err;
  }
  r = ticketctl({"new", "service", "auth"}, "", tmp.path().string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("run `ticketctl init` first"), std::string::npos) << r.err;
  EXPECT_EQ(tree(app), ([&] {
              auto t = before;
              for (const auto& [k, v] : tree(app))
                if (k.starts_with("docs/") || k == "ticketctl.yaml" || k == "skaffold.yaml" ||
                    k.starts_with("infra/"))
                  t[k] = v;
              return t;
            })());
}

TEST(Scaffold, InitOnAnExistingRepositoryWritesWhatIsMissing) {
  TempDir tmp("scaffold-existing");
  fs::copy(fs::path(TICKETCTL_SOURCE_DIR) / "tests/fixtures/scaffold/existing", tmp.path(),
           fs::copy_options::recursive);
  const std::string readme = slurp(tmp.path() / "README.md");
  Result r = ticketctl({"init", "--name", "legacy"}, "", tmp.path().string());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("orders: node service orders on port 4001 (from the Dockerfile's EXPOSE)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("payments: node service payments on port 4002 (from the code (index.js))"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(slurp(tmp.path() / "README.md"), readme);  // never overwritten
  EXPECT_TRUE(fs::exists(tmp.path() / "payments/Dockerfile"));
  EXPECT_TRUE(fs::exists(tmp.path() / "infra/k8s/orders-depl.yaml"));
  EXPECT_NE(slurp(tmp.path() / "infra/k8s/payments-depl.yaml").find("tcpSocket"),
            std::string::npos);
  EXPECT_NE(slurp(tmp.path() / "ticketctl.yaml").find("command: [npm, start]"), std::string::npos);
  const std::string ingress = slurp(tmp.path() / "infra/k8s/ingress-srv.yaml");
  EXPECT_NE(ingress.find("host: legacy.localhost"), std::string::npos) << ingress;
  EXPECT_NE(ingress.find("- path: /api/orders/?(.*)"), std::string::npos) << ingress;
  EXPECT_NE(
      ingress.find("name: payments-srv\n                port:\n                  number: 4002"),
      std::string::npos)
      << ingress;
  r = ticketctl({"validate", "-f", "infra/k8s"}, "", tmp.path().string());
  EXPECT_EQ(r.status, 0) << r.err;
  // --dry-run on the result: nothing left to add.
  const auto before = tree(tmp.path());
  r = ticketctl({"init"}, "", tmp.path().string());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(tree(tmp.path()), before);
}

}  // namespace
