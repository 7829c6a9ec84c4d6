// Runs the built ticketctl binary the way a user or a script does and checks what they see:
// stdout, stderr and the exit status.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include "tests/support/process.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace {
namespace fs = std::filesystem;

using ticketctl::testing::Result;
using ticketctl::testing::slurp;
using ticketctl::testing::ticketctl;

size_t count_lines_containing(const std::string& text, const std::string& needle) {
  size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find(needle) != std::string::npos) ++n;
  return n;
}

TEST(Cli, VersionPrintsTheVersion) {
  Result r = ticketctl({"version"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "ticketctl v" TICKETCTL_TEST_VERSION "\n");
  r = ticketctl({"version", "-o", "json"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(nlohmann::json::parse(r.out)["clientVersion"]["gitVersion"],
            "v" TICKETCTL_TEST_VERSION);
}

TEST(Cli, VersionFlagAsEveryCommandLineToolHasIt) {
  Result r = ticketctl({"--version"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "ticketctl v" TICKETCTL_TEST_VERSION "\n");
}

TEST(Cli, AMistypedCommandSaysWhichOneWasMeant) {
  Result r = ticketctl({"sttaus"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err,
            "ticketctl: unknown command \"sttaus\"\n\nDid you mean this?\n\tstatus\n\n"
            "Run 'ticketctl --help' for the list of commands.\n");
  r = ticketctl({"port-froward", "svc/x", "8080"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("Did you mean this?\n\tport-forward\n"), std::string::npos) << r.err;
  r = ticketctl({"frobnicate"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err.find("Did you mean"), std::string::npos) << r.err;
}

TEST(Cli, EveryVerbHasHelp) {
  for (const char* verb : {"validate", "convert", "up", "down", "apply", "get", "create", "delete",
                           "status", "config", "version"}) {
    Result r = ticketctl({verb, "--help"});
    EXPECT_EQ(r.status, 0) << verb;
    EXPECT_NE(r.out.find(verb), std::string::npos) << r.out;
  }
  Result r = ticketctl({"--help"});
  EXPECT_EQ(r.status, 0);
  for (const char* verb : {"validate", "convert", "up", "down", "apply", "get", "create", "delete",
                           "status", "config", "version"})
    EXPECT_NE(r.out.find(verb), std::string::npos) << r.out;
}

// The verbs as `ticketctl --help` lists them: the test follows the command table, whatever is
// added to it.
std::vector<std::string> listed_verbs() {
  std::vector<std::string> verbs;
  std::istringstream in(ticketctl({"--help"}).out);
  bool in_list = false;
  for (std::string line; std::getline(in, line);) {
    if (line == "Subcommands:" || line == "SUBCOMMANDS:") {
      in_list = true;
    } else if (in_list && line.starts_with("  ") && line.size() > 2 && line[2] != ' ') {
      verbs.push_back(line.substr(2, line.find(' ', 2) - 2));
    } else if (in_list && line.empty()) {
      break;
    }
  }
  return verbs;
}

TEST(Cli, EveryVerbsHelpEndsWithExamples) {
  const std::vector<std::string> verbs = listed_verbs();
  ASSERT_GE(verbs.size(), 31u);  // the help lists every verb of the table
  for (const char* expected :
       {"label", "annotate", "patch", "set", "edit", "explain", "completion", "get", "version"})
    EXPECT_NE(std::find(verbs.begin(), verbs.end(), expected), verbs.end()) << expected;
  for (const std::string& verb : verbs) {
    Result r = ticketctl({verb, "--help"});
    EXPECT_EQ(r.status, 0) << verb;
    const size_t at = r.out.find("\nExamples:\n  ticketctl ");
    EXPECT_NE(at, std::string::npos) << verb << ":\n" << r.out;
    // The examples are for this verb (or show how it pairs with another).
    EXPECT_NE(r.out.find("ticketctl " + verb, at), std::string::npos) << verb << ":\n" << r.out;
  }
}

TEST(Cli, ExplainReadsTheSchemaTables) {
  Result kind = ticketctl({"explain", "deployment"});
  EXPECT_EQ(kind.status, 0) << kind.err;
  EXPECT_TRUE(kind.out.starts_with("GROUP:      apps\nKIND:       Deployment\nVERSION:    v1\n\n"))
      << kind.out;
  EXPECT_NE(kind.out.find("FIELDS:\n"), std::string::npos) << kind.out;
  EXPECT_NE(kind.out.find("  spec\t<"), std::string::npos) << kind.out;

  Result field = ticketctl({"explain", "deploy.spec.replicas"});
  EXPECT_EQ(field.status, 0) << field.err;
  EXPECT_NE(field.out.find("FIELD: replicas <integer>\n"), std::string::npos) << field.out;

  // Through lists: containers is []Container, explained by its fields; name is required.
  Result containers = ticketctl({"explain", "deploy.spec.template.spec.containers"});
  EXPECT_EQ(containers.status, 0) << containers.err;
  EXPECT_NE(containers.out.find("FIELD: containers <[]"), std::string::npos) << containers.out;
  EXPECT_NE(containers.out.find("  name\t<string> -required-\n"), std::string::npos)
      << containers.out;
  EXPECT_NE(containers.out.find("  image\t<string>"), std::string::npos) << containers.out;

  Result typo = ticketctl({"explain", "deploy.spec.replicsa"});
  EXPECT_EQ(typo.status, 1);
  EXPECT_EQ(typo.out, "");
  EXPECT_EQ(typo.err,
            "error: field \"replicsa\" does not exist in Deployment.spec (did you mean "
            "\"replicas\"?)\n");
  Result unknown = ticketctl({"explain", "frobs"});
  EXPECT_EQ(unknown.status, 1);
  EXPECT_EQ(unknown.err, "error: the server doesn't have a resource type \"frobs\"\n");
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(ticketctl({}).status, 2);
  EXPECT_EQ(ticketctl({"frobnicate"}).status, 2);
  EXPECT_EQ(ticketctl({"validate"}).status, 2);  // -f is required
  Result r = ticketctl({"validate", "-f", "manifests/blog", "--bogus"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--bogus"), std::string::npos) << r.err;
}

TEST(Cli, ValidateTheBlogApp) {
  Result r = ticketctl({"validate", "-f", "manifests/blog"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "14 objects in 8 files valid\n");
  EXPECT_EQ(r.err, "");
}

TEST(Cli, ValidateAGlobAsSkaffoldWritesIt) {
  Result r = ticketctl({"validate", "-f", "./manifests/blog/*", "-o", "name"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(count_lines_containing(r.out, "deployment.apps/"), 6u);
  EXPECT_NE(r.out.find("ingress.networking.k8s.io/ingress-srv\n"), std::string::npos);
  EXPECT_NE(r.out.find("service/posts-srv\n"), std::string::npos);
}

TEST(Cli, ValidateReadsStdin) {
  Result r = ticketctl(
      {"validate", "-f", "-"},
      "apiVersion: v1\nkind: Secret\nmetadata:\n  name: jwt-secret\ndata:\n  JWT_KEY: '%%%'\n");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "<stdin>:6:12: error: Secret default/jwt-secret: data[JWT_KEY]: invalid value: "
            "illegal base64 data at input byte 0\n"
            "1 error, 0 warnings in 1 file\n");
  EXPECT_EQ(r.out, "");
}

TEST(Cli, ValidateJsonOutputForScripts) {
  Result r = ticketctl({"validate", "-f", "tests/manifests/bad-dir", "-o", "json"});
  EXPECT_EQ(r.status, 1);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["valid"], false);
  EXPECT_EQ(j["files"], 3);
  ASSERT_FALSE(j["errors"].empty());
  for (const auto& e : j["errors"]) {
    EXPECT_TRUE(e["file"].get<std::string>().starts_with("tests/manifests/bad-dir/"));
    EXPECT_GT(e["line"].get<int>(), 0);
    EXPECT_GT(e["column"].get<int>(), 0);
    EXPECT_FALSE(e["message"].get<std::string>().empty());
  }
  EXPECT_FALSE(j["objects"].empty());  // the good files' objects are still listed
}

TEST(Cli, ADirectoryWithOneBadFileReportsEveryErrorAndFails) {
  Result r = ticketctl({"validate", "-f", "tests/manifests/bad-dir"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "tests/manifests/bad-dir/ingress-srv.yaml:19:27: error: Ingress default/ingress-srv: "
            "spec.rules[0].http.paths[0].backend.service.port.number: expected integer, got string "
            "\"4000\"\n"
            "tests/manifests/bad-dir/ingress-srv.yaml:20:13: error: Ingress default/ingress-srv: "
            "spec.rules[0].http.paths[1].pathType: required value is missing\n"
            "2 errors, 0 warnings in 3 files\n");
  EXPECT_EQ(r.out, "");
}

TEST(Cli, ErrorsOfEveryFileAreReportedInOneRun) {
  Result r = ticketctl({"validate", "-f", "tests/manifests/bad/*.yaml", "-o", "json"});
  EXPECT_EQ(r.status, 1);
  auto j = nlohmann::json::parse(r.out);
  std::set<std::string> files;
  for (const auto& e : j["errors"]) files.insert(e["file"].get<std::string>());
  EXPECT_EQ(files.size(), j["files"].get<size_t>());  // every bad file contributed its errors
  EXPECT_GE(files.size(), 40u);
}

TEST(Cli, MissingFileIsAnErrorNamingIt) {
  Result r = ticketctl({"validate", "-f", "manifests/blog", "-f", "no/such.yaml"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("no/such.yaml: error: no such file or directory"), std::string::npos)
      << r.err;
}

TEST(Cli, ConvertRewritesLegacyIngressWithTheSameRouting) {
  Result r = ticketctl({"convert", "-f", "tests/manifests/good/legacy-ingress.yaml"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("legacy-ingress.yaml:2:13: warning: Ingress default/ingress-srv"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.out.find("apiVersion: networking.k8s.io/v1\n"), std::string::npos) << r.out;

  // The converted manifest is valid v1 with no warning left, and routes the same paths to the
  // same Services and ports.
  Result again = ticketctl({"validate", "-f", "-", "-o", "json"}, r.out);
  ASSERT_EQ(again.status, 0) << again.err << again.out;
  EXPECT_TRUE(nlohmann::json::parse(again.out)["warnings"].empty());
  Result as_json = ticketctl({"convert", "-f", "-", "-o", "json"}, r.out);
  ASSERT_EQ(as_json.status, 0);
  auto ing = nlohmann::json::parse(as_json.out)["items"][0];
  EXPECT_EQ(ing["metadata"]["annotations"]["nginx.ingress.kubernetes.io/use-regex"], "true");
  EXPECT_EQ(ing["metadata"]["annotations"]["kubernetes.io/ingress.class"], "nginx");
  const auto& paths = ing["spec"]["rules"][0]["http"]["paths"];
  ASSERT_EQ(paths.size(), 4u);
  const std::vector<std::tuple<std::string, std::string, int>> want = {
      {"/posts/create", "posts-clusterip-srv", 4000},
      {"/posts", "query-srv", 4002},
      {"/posts/?(.*)/comments", "comments-srv", 4001},
      {"/?(.*)", "client-srv", 3000}};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(paths[i]["path"], std::get<0>(want[i]));
    EXPECT_EQ(paths[i]["pathType"], "ImplementationSpecific");
    EXPECT_EQ(paths[i]["backend"]["service"]["name"], std::get<1>(want[i]));
    EXPECT_EQ(paths[i]["backend"]["service"]["port"]["number"], std::get<2>(want[i]));
  }
  EXPECT_EQ(ing["spec"]["rules"][0]["host"], "posts.com");
}

TEST(Cli, ConvertPrintsNothingWhenAManifestIsInvalid) {
  Result r = ticketctl({"convert", "-f", "tests/manifests/bad-dir"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("error:"), std::string::npos);
}

TEST(Cli, ConvertPassesOtherKindsThroughInKubectlLayout) {
  Result r = ticketctl({"convert", "-f", "manifests/blog/posts-srv.yaml"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out,
            "apiVersion: v1\n"
            "kind: Service\n"
            "metadata:\n"
            "  name: posts-srv\n"
            "spec:\n"
            "  type: NodePort\n"
            "  selector:\n"
            "    app: posts\n"
            "  ports:\n"
            "  - name: posts\n"
            "    protocol: TCP\n"
            "    port: 4000\n"
            "    targetPort: 4000\n");
  EXPECT_EQ(r.err, "");
}

}  // namespace

namespace {

// `up` where nothing names manifests fails before starting anything, says what it looked for
// and how to fix it; --empty starts an empty control plane on purpose.
TEST(Cli, UpWithNothingToDeployIsAnErrorThatSaysWhatToAdd) {
  const fs::path dir =
      fs::temp_directory_path() / ("ticketctl-empty-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "ticketctl.yaml") << "ingress: {http: 18080, https: 18443}\n";
  const Result r =
      ticketctl({"up", "-d", "--state-dir", (dir / "state").string()}, "", dir.string());
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("ticketctl up: nothing to deploy: no -f given, and in " + dir.string()),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("  - ticketctl.yaml: has no `manifests:` key\n"), std::string::npos);
  EXPECT_NE(r.err.find("  - skaffold.yaml: not found\n"), std::string::npos);
  EXPECT_NE(r.err.find("`ticketctl init`"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "state" / "state.db"));  // nothing was started
  fs::remove_all(dir);
}

}  // namespace
