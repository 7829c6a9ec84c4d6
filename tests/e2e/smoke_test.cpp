// `ticketctl test` end to end: the blog app's own smoke file (examples/blog/smoke.yaml) passes
// from a cold start to `down`; the same file against a deliberately broken moderation service
// fails with the assertion that broke, exit 1, and JUnit XML that the schema in tests/junit
// accepts; an invalid check file stops before anything starts, with file:line:column.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using testing::Result;

const fs::path kSource = TICKETCTL_SOURCE_DIR;
const fs::path kBlogDir = kSource / "examples/blog";

bool on_path(const std::string& program) {
  return std::system(("command -v " + program + " >/dev/null 2>&1").c_str()) == 0;
}

// xmllint's verdict on `xml` against tests/junit/junit.xsd ("" when valid).
std::string junit_problems(const fs::path& xml) {
  const fs::path out = xml.string() + ".xmllint";
  const std::string cmd = "xmllint --noout --schema " +
                          (kSource / "tests/junit/junit.xsd").string() + " " + xml.string() + " >" +
                          out.string() + " 2>&1";
  return std::system(cmd.c_str()) == 0 ? "" : testing::slurp(out);
}

class SmokeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!on_path("node")) GTEST_SKIP() << "node is needed on PATH to run the blog's services";
  }
  void TearDown() override { run({"down"}, kBlogDir); }

  Result run(std::vector<std::string> args, const fs::path& cwd) {
    args.push_back("--state-dir");
    args.push_back(state_.string());
    return testing::ticketctl(std::move(args), "", cwd.string());
  }

  ticketctl::testing::TempDir tmp_{"ticketctl-smoke"};
  const fs::path state_ = tmp_.path() / "state";
};

TEST_F(SmokeTest, TheBlogsSmokeFilePassesFromColdStartToDown) {
  const fs::path junit = tmp_.path() / "report.xml", artifacts = tmp_.path() / "artifacts";
  const auto start = std::chrono::steady_clock::now();
  Result r = run(
      {"test", "-f", "smoke.yaml", "--junit", junit.string(), "--artifacts", artifacts.string()},
      kBlogDir);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  std::cout << "ticketctl test on examples/blog (up, gate, checks, down): " << seconds << " s\n";
  EXPECT_NE(r.out.find("Deployments stabilized in"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS  the new query pod rebuilt its view from the event bus"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("10 of 10 checks passed"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  // `down` ran: nothing serves any more.
  EXPECT_NE(r.out.find("control plane (pid "), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(state_ / "apiserver.json"));
  if (on_path("xmllint")) {
    EXPECT_EQ(junit_problems(junit), "");
  }
  const std::string xml = testing::slurp(junit);
  EXPECT_NE(xml.find("tests=\"11\" failures=\"0\""), std::string::npos) << xml;
  EXPECT_TRUE(fs::exists(artifacts / "get-all.yaml"));
  EXPECT_TRUE(fs::exists(artifacts / "events.yaml"));
  bool query_log = false;
  for (const auto& e : fs::directory_iterator(artifacts / "pods"))
    query_log = query_log || e.path().filename().string().rfind("default_query-depl-", 0) == 0;
  EXPECT_TRUE(query_log);
}

TEST_F(SmokeTest, ABrokenModerationServiceFailsWithTheAssertionThatBrokeAndValidJUnit) {
  // The blog with a moderation service that approves everything, images mapped by ticketctl.yaml.
  const fs::path project = tmp_.path() / "project";
  fs::create_directories(project / "moderation");
  std::string moderation = testing::slurp(kBlogDir / "moderation/index.js");
  const std::string verdict = "content.includes('orange') ? 'rejected' : 'approved'";
  ASSERT_NE(moderation.find(verdict), std::string::npos);
  moderation.replace(moderation.find(verdict), verdict.size(), "'approved'");
  std::ofstream(project / "moderation/index.js") << moderation;
  std::ofstream config(project / "ticketctl.yaml");
  config << "manifests: [" << (kSource / "manifests/blog").string() << "]\nimages:\n";
  for (const char* service : {"client", "comments", "event-bus", "posts", "query", "moderation"}) {
    const fs::path context =
        std::string(service) == "moderation" ? project / "moderation" : kBlogDir / service;
    config << "  demo/" << service << ": {context: " << context.string()
           << ", command: [node, index.js]}\n";
  }
  config.close();
  fs::copy_file(kBlogDir / "smoke.yaml", project / "smoke.yaml");

  const fs::path junit = tmp_.path() / "report.xml", json_out = tmp_.path() / "report.json";
  Result r = run({"test", "--junit", junit.string(), "-o", "json"}, project);
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  // Human lines on stderr, the report alone on stdout.
  EXPECT_NE(r.err.find("FAIL  the query service shows the post with its moderated comments "
                       "(smoke.yaml:31): GET /posts: expected $['"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("'].comments[1].status to be \"rejected\", got \"approved\""),
            std::string::npos)
      << r.err;
  const nlohmann::json report = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << r.out;
  EXPECT_EQ(report["passed"], false);
  EXPECT_EQ(report["gate"]["verdict"], "Stable");
  if (!on_path("xmllint"))
    GTEST_SKIP() << "xmllint (libxml2-utils) is missing: JUnit not validated";
  EXPECT_EQ(junit_problems(junit), "");
  const std::string xml = testing::slurp(junit);
  EXPECT_NE(xml.find("<failure message=\"GET /posts: expected $[&apos;"), std::string::npos) << xml;
  EXPECT_NE(xml.find("HTTP/1.1 200"), std::string::npos) << xml;
}

TEST_F(SmokeTest, AnInvalidCheckFileStopsBeforeAnythingStarts) {
  const fs::path file = tmp_.path() / "bad.yaml";
  std::ofstream(file) << "checks:\n"
                         "  - name: typo\n"
                         "    http: {path: /, methd: GET}\n"
                         "  - name: two at once\n"
                         "    ready: a\n"
                         "    deletePods: a\n"
                         "  - name: bad wait\n"
                         "    eventually: soon\n"
                         "    ready: a\n";
  Result r = run({"test", "-f", file.string()}, kBlogDir);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(
      r.err.find(
          file.string() +
          ":3:21: error: checks[0].http.methd: unknown field \"methd\" (did you mean \"method\"?)"),
      std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(file.string() + ":6:5: error: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("may not specify more than 1 check"), std::string::npos) << r.err;
  EXPECT_NE(
      r.err.find(file.string() +
                 ":8:17: error: checks[2].eventually: invalid value \"soon\": must be a duration"),
      std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(state_ / "apiserver.json"));
}

}  // namespace
}  // namespace ticketctl
