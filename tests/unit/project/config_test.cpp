#include "runtime/project/config.h"

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

#include <fstream>

namespace ticketctl::project {
namespace {
namespace fs = std::filesystem;

class ConfigTest : public ::testing::Test {
 protected:
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  std::vector<std::string> messages(const Diagnostics& d) {
    std::vector<std::string> out;
    for (const auto& x : d.items()) out.push_back(x.to_string().substr(dir_.string().size() + 1));
    return out;
  }
  ticketctl::testing::TempDir tmp_{"ticketctl-project"};
  const fs::path& dir_ = tmp_.path();
};

TEST_F(ConfigTest, TicketctlYamlManifestsAreRelativeToTheFile) {
  write("ticketctl.yaml", "manifests: [k8s, ./infra/k8s/*]\n");
  Diagnostics d;
  Config c = load(dir_, d);
  EXPECT_TRUE(d.items().empty());
  EXPECT_EQ(c.file, dir_ / "ticketctl.yaml");
  EXPECT_EQ(c.manifests,
            (std::vector<std::string>{(dir_ / "k8s").string(), (dir_ / "infra/k8s/*").string()}));
}

TEST_F(ConfigTest, UnknownKeysAreErrorsAndUnusedSettingsWarn) {
  write("ticketctl.yaml", "manifests: [k8s]\nmanifest: [x]\ningress: {http: 8080}\n");
  Diagnostics d;
  Config c = load(dir_, d);
  EXPECT_EQ(messages(d),
            (std::vector<std::string>{"ticketctl.yaml:2:1: error: manifest: unknown field "
                                      "\"manifest\" (did you mean \"manifests\"?)",
                                      "ticketctl.yaml:3:1: warning: ingress: accepted but ignored: "
                                      "ticketctl does not implement this field"}));
  EXPECT_TRUE(c.manifests.empty());  // a file with an error gives nothing to act on
}

TEST_F(ConfigTest, SkaffoldYamlOfTheCourseAndOfNewerSkaffold) {
  write("skaffold.yaml", R"(apiVersion: skaffold/v2alpha3
kind: Config
deploy:
  kubectl:
    manifests:
      - ./infra/k8s/*
build:
  local:
    push: false
)");
  Diagnostics d;
  EXPECT_EQ(load(dir_, d).manifests, (std::vector<std::string>{(dir_ / "infra/k8s/*").string()}));
  fs::remove(dir_ / "skaffold.yaml");
  write(
      "skaffold.yml",
      "apiVersion: skaffold/v4beta3\nkind: Config\nmanifests:\n  rawYaml:\n    - ./infra/k8s/*\n");
  EXPECT_EQ(load(dir_, d).manifests, (std::vector<std::string>{(dir_ / "infra/k8s/*").string()}));
  EXPECT_TRUE(d.items().empty());
}

TEST_F(ConfigTest, BrokenYamlIsAnErrorWithItsPosition) {
  write("skaffold.yaml", "deploy:\n  kubectl: [unclosed\n");
  Diagnostics d;
  Config c = load(dir_, d);
  ASSERT_EQ(d.items().size(), 1u);
  EXPECT_TRUE(messages(d)[0].starts_with("skaffold.yaml:3:1: error: YAML syntax error"))
      << messages(d)[0];
  EXPECT_TRUE(c.manifests.empty());
}

TEST_F(ConfigTest, NeitherFileMeansNoManifests) {
  Diagnostics d;
  Config c = load(dir_, d);
  EXPECT_TRUE(c.file.empty());
  EXPECT_TRUE(c.manifests.empty());
  EXPECT_TRUE(d.items().empty());
}

}  // namespace
}  // namespace ticketctl::project
