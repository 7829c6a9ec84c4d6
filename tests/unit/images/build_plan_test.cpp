#include "runtime/images/build_plan.h"

#include <gtest/gtest.h>

#include <fstream>

#include "runtime/images/build.h"
#include "tests/support/temp_dir.h"

namespace ticketctl::images {
namespace {
namespace fs = std::filesystem;

using Strings = std::vector<std::string>;

class BuildPlanTest : public ::testing::Test {
 protected:
  void write(const std::string& relative, const std::string& text) {
    fs::create_directories((ctx() / relative).parent_path());
    std::ofstream(ctx() / relative) << text;
  }
  BuildPlan plan(const std::string& dockerfile) {
    auto d = parse_dockerfile(dockerfile, "Dockerfile");
    EXPECT_TRUE(d.ok()) << d.error().message;
    return plan_from_dockerfile(d.value(), ctx(), "svc/Dockerfile");
  }
  fs::path ctx() const { return tmp_.path(); }
  testing::TempDir tmp_{"ticketctl-plan"};
  const std::string deps_ = R"({"name": "a", "dependencies": {"express": "^4"}})";
};

TEST_F(BuildPlanTest, TheCoursesDockerfileInstallsWithPackageJsonAsTheOnlyInput) {
  write("package.json", deps_);
  write("src/index.ts", "x");
  const BuildPlan p = plan(R"(FROM node:alpine
WORKDIR /app
COPY package.json ./
RUN npm install --only=prod
COPY ./ ./
CMD ["npm", "start"]
)");
  ASSERT_EQ(p.commands.size(), 1u);
  EXPECT_EQ(p.commands[0].argv, (Strings{"npm", "install", "--only=prod"}));
  EXPECT_EQ(p.commands[0].dir, ctx());
  EXPECT_EQ(p.inputs, (std::vector<fs::path>{ctx() / "package.json"}));
  EXPECT_EQ(p.outputs, (std::vector<fs::path>{ctx() / "node_modules"}));
  EXPECT_TRUE(p.skipped.empty());
}

TEST_F(BuildPlanTest, OtherRunStepsAreListedNotRun) {
  write("package.json", deps_);
  write("package-lock.json", "{}");
  const BuildPlan p = plan(R"(FROM node:18-alpine AS deps
RUN npm ci
FROM node:18-alpine
RUN apk add --no-cache python3 make g++
RUN npm install -g nodemon
WORKDIR /app
COPY package*.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY . .
RUN npm run build
CMD ["node", "dist/index.js"]
)");
  ASSERT_EQ(p.commands.size(), 1u);
  EXPECT_EQ(p.commands[0].argv, (Strings{"npm", "ci", "--omit=dev"}));
  EXPECT_EQ(p.inputs, (std::vector<fs::path>{ctx() / "package-lock.json", ctx() / "package.json"}));
  ASSERT_EQ(p.skipped.size(), 4u);
  EXPECT_EQ(p.skipped[0].line, 4);
  EXPECT_EQ(p.skipped[0].text, "RUN apk add --no-cache python3 make g++");
  EXPECT_EQ(p.skipped[1].why, "`npm install -g nodemon`: a global install would change the host");
  EXPECT_EQ(
      p.skipped[2].why,
      "`npm cache clean --force`: only dependency installs (npm, yarn, pnpm) run on the host");
  EXPECT_EQ(p.skipped[3].line, 10);
}

TEST_F(BuildPlanTest, AnInstallBeforePackageJsonIsCopiedRunsNowhere) {
  write("package.json", deps_);
  const BuildPlan p = plan("FROM node\nWORKDIR /app\nRUN npm install\nCOPY . .\n");
  EXPECT_TRUE(p.empty());
  ASSERT_EQ(p.skipped.size(), 1u);
  EXPECT_EQ(p.skipped[0].why, "`npm install`: no package.json was copied into /app before it");
}

TEST_F(BuildPlanTest, YarnPnpmSubdirectoriesAndEnvironment) {
  write("client/package.json", deps_);
  write("api/package.json", deps_);
  const BuildPlan p = plan(R"(FROM node
ENV NODE_ENV=production PATH=/nowhere
WORKDIR /srv
COPY client/package.json client/
COPY api/ api/
RUN cd client && yarn --frozen-lockfile
WORKDIR /srv/api
RUN ["pnpm", "install", "--prod"]
)");
  ASSERT_EQ(p.commands.size(), 2u);
  EXPECT_EQ(p.commands[0].argv, (Strings{"yarn", "--frozen-lockfile"}));
  EXPECT_EQ(p.commands[0].dir, ctx() / "client");
  EXPECT_EQ(p.commands[1].argv, (Strings{"pnpm", "install", "--prod"}));
  EXPECT_EQ(p.commands[1].dir, ctx() / "api");
  // The Dockerfile's ENV reaches the install, except what finds the host's tools.
  const auto& env = p.commands[0].env;
  EXPECT_NE(std::find(env.begin(), env.end(),
                      std::pair<std::string, std::string>{"NODE_ENV", "production"}),
            env.end());
  EXPECT_TRUE(
      std::none_of(env.begin(), env.end(), [](const auto& kv) { return kv.first == "PATH"; }));
}

TEST_F(BuildPlanTest, NoDependenciesNothingToInstall) {
  write("package.json", R"({"name": "posts", "scripts": {"start": "node index.js"}})");
  EXPECT_TRUE(plan("FROM node\nWORKDIR /app\nCOPY package.json ./\nRUN npm install\n").empty());
}

TEST_F(BuildPlanTest, TicketctlYamlBuildWinsAndAnEmptyOneTurnsTheBuildOff) {
  write("package.json", deps_);
  write("Dockerfile", "FROM node\nWORKDIR /app\nCOPY package.json ./\nRUN npm install\n");
  project::ImageSetting s;
  s.source = "ticketctl.yaml images.a";
  s.context = ctx();
  s.dockerfile = "Dockerfile";
  EXPECT_EQ(plan_build(s).commands.at(0).argv, (Strings{"npm", "install"}));
  s.build_given = true;
  s.build = {"make"};
  const BuildPlan made = plan_build(s);
  EXPECT_EQ(made.commands.at(0).argv, (Strings{"make"}));
  EXPECT_EQ(made.inputs, (std::vector<fs::path>{ctx()}));
  s.build.clear();
  EXPECT_TRUE(plan_build(s).empty());
}

TEST_F(BuildPlanTest, TheInputsHashFollowsWhatTheInstallReads) {
  write("package.json", deps_);
  write("index.js", "one");
  const BuildPlan p = plan("FROM node\nWORKDIR /app\nCOPY package.json ./\nRUN npm ci\nCOPY . .\n");
  const std::string before = inputs_hash(p);
  write("index.js", "two");  // copied after the install: not an input
  fs::create_directories(ctx() / "node_modules/x");
  EXPECT_EQ(inputs_hash(p), before);
  write("package.json", R"({"dependencies": {"axios": "1"}})");
  EXPECT_NE(inputs_hash(p), before);
}

TEST(ImageSettings, ImagesBeforeArtifactsAndTags) {
  project::Config config;
  config.artifacts["demo/auth"].source = "skaffold";
  config.images["demo/auth:v2"].source = "images v2";
  EXPECT_EQ(find_image_setting(config, "demo/auth")->source, "skaffold");
  EXPECT_EQ(find_image_setting(config, "docker.io/demo/auth:v2")->source, "images v2");
  EXPECT_EQ(find_image_setting(config, "other"), nullptr);
  EXPECT_EQ(build_key("demo/auth:latest"), "demo_auth");
}

}  // namespace
}  // namespace ticketctl::images
