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

TEST_F(ConfigTest, UnknownKeysAreErrors) {
  write("ticketctl.yaml", "manifests: [k8s]\nmanifest: [x]\ningress: {http: 8080}\n");
  Diagnostics d;
  Config c = load(dir_, d);
  EXPECT_EQ(messages(d),
            (std::vector<std::string>{"ticketctl.yaml:2:1: error: manifest: unknown field "
                                      "\"manifest\" (did you mean \"manifests\"?)"}));
  EXPECT_TRUE(c.manifests.empty());  // a file with an error gives nothing to act on
}

TEST_F(ConfigTest, LocalSettingsAreReadAndCheckedWithTheirLines) {
  write("ticketctl.yaml",
        "restartBackoff: {initial: 500ms, max: 1m30s}\n"
        "hostEnv: [NODE_OPTIONS]\n"
        "ingress: {http: 9080, https: -1, address: 127.0.0.2}\n"
        "network: {podCIDR: 127.81.0.0/16, serviceCIDR: 127.97.0.0/24}\n");
  Diagnostics d;
  Config c = load(dir_, d);
  EXPECT_TRUE(d.items().empty()) << messages(d).front();
  EXPECT_EQ(c.backoff_initial, std::chrono::milliseconds(500));
  EXPECT_EQ(c.backoff_max, std::chrono::milliseconds(90000));
  EXPECT_EQ(c.host_env, std::vector<std::string>{"NODE_OPTIONS"});
  EXPECT_EQ(c.ingress_http, 9080);
  EXPECT_EQ(c.ingress_https, -1);
  EXPECT_EQ(c.ingress_address, "127.0.0.2");
  EXPECT_EQ(c.pod_cidr, 0x7f510000u);
  EXPECT_EQ(c.service_cidr, 0x7f610000u);
  EXPECT_EQ(c.service_prefix, 24);

  write("ticketctl.yaml",
        "restartBackoff: {initial: soon}\n"
        "network: {podCIDR: 10.0.0.0/8}\n"
        "ingress: {http: 70000}\n");
  Diagnostics bad;
  load(dir_, bad);
  EXPECT_EQ(messages(bad),
            (std::vector<std::string>{
                "ticketctl.yaml:1:27: error: restartBackoff.initial: \"soon\" is not a duration "
                "(write e.g. 500ms, 1s, 2m)",
                "ticketctl.yaml:3:17: error: ingress.http: a port is 0..65535 (0: any free port, "
                "-1: off)",
                "ticketctl.yaml:2:20: error: network.podCIDR: \"10.0.0.0/8\" is not a loopback "
                "range inside 127.0.0.0/8 with a prefix of 8 to 30"}));
}

TEST(Duration, GoSyntax) {
  EXPECT_EQ(parse_duration("1m30s"), std::chrono::milliseconds(90000));
  EXPECT_EQ(parse_duration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(parse_duration("1.5s"), std::chrono::milliseconds(1500));
  EXPECT_EQ(parse_duration("2h"), std::chrono::milliseconds(7200000));
  EXPECT_FALSE(parse_duration("10"));
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("5 minutes"));
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

// Each ticketctl.yaml key stands alone: setting `ingress:` or `images:` does not switch off the
// manifests skaffold.yaml deploys; only a `manifests:` key replaces them.
TEST_F(ConfigTest, TicketctlYamlWithoutManifestsKeepsSkaffoldsManifests) {
  write("skaffold.yaml",
        "deploy:\n  kubectl:\n    manifests: [./infra/k8s/*]\nbuild:\n  artifacts:\n"
        "    - image: learner/auth\n      context: auth\n");
  const std::vector<std::string> from_skaffold = {(dir_ / "infra/k8s/*").string()};
  for (const char* config :
       {"ingress: {http: 18080, https: 18443}\n", "images:\n  nats: {command: [nats-server]}\n"}) {
    write("ticketctl.yaml", config);
    Diagnostics d;
    const Config c = load(dir_, d);
    EXPECT_TRUE(d.items().empty()) << config;
    EXPECT_EQ(c.manifests, from_skaffold) << config;
    EXPECT_EQ(c.file, dir_ / "skaffold.yaml") << config;
    EXPECT_EQ(c.artifacts.count("learner/auth"), 1u) << config;
  }
  write("ticketctl.yaml", "manifests: [k8s]\n");
  Diagnostics d;
  EXPECT_EQ(load(dir_, d).manifests, (std::vector<std::string>{(dir_ / "k8s").string()}));
  write("ticketctl.yaml", "manifests: []\n");  // said explicitly: nothing from skaffold.yaml
  EXPECT_TRUE(load(dir_, d).manifests.empty());
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

TEST_F(ConfigTest, ABuildContextThatContainsTheProjectIsAnErrorWithItsPosition) {
  fs::create_directories(dir_ / "auth");
  fs::create_directories(tmp_.path().parent_path() / "shared-lib-for-config-test");
  fs::create_symlink("/", dir_ / "root-link");
  write("skaffold.yaml",
        "apiVersion: skaffold/v2alpha3\nkind: Config\nbuild:\n  artifacts:\n"
        "    - image: me/auth\n      context: auth\n"
        "    - image: me/evil\n      context: ../../..\n"
        "    - image: me/link\n      context: root-link\n"
        "    - image: me/beside\n      context: ../shared-lib-for-config-test\n");
  write("ticketctl.yaml", "images:\n  me/up: {context: ./auth/../..}\n");
  Diagnostics d;
  Config c = load(dir_, d);
  const std::string project = fs::weakly_canonical(dir_).string();
  const auto message = [&](const std::string& where, const std::string& field,
                           const std::string& value, const std::string& resolved) {
    return where + ": error: " + field + ": \"" + value + "\" is " + resolved +
           ", which contains the whole project (" + project +
           "): a build context is the folder of one image, e.g. the service's own folder";
  };
  EXPECT_EQ(messages(d),
            (std::vector<std::string>{
                message("ticketctl.yaml:2:20", "images.me/up.context", "./auth/../..",
                        fs::weakly_canonical(dir_ / "..").string()),
                message("skaffold.yaml:8:16", "build.artifacts[1].context", "../../..",
                        fs::weakly_canonical(dir_ / "../../..").string()),
                message("skaffold.yaml:10:16", "build.artifacts[2].context", "root-link", "/")}));
  EXPECT_EQ(c.artifacts.count("me/auth"), 1u);
  EXPECT_EQ(c.artifacts.count("me/beside"), 1u);  // a folder beside the project is fine
  EXPECT_EQ(c.artifacts.count("me/evil"), 0u);
  EXPECT_EQ(c.artifacts.count("me/link"), 0u);
  EXPECT_EQ(c.images.count("me/up"), 0u);
  fs::remove_all(tmp_.path().parent_path() / "shared-lib-for-config-test");
}

}  // namespace
}  // namespace ticketctl::project
