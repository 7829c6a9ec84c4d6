#include "runtime/images/resolver.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/temp_dir.h"

namespace ticketctl::images {
namespace {
namespace fs = std::filesystem;
using Strings = std::vector<std::string>;

class ResolverTest : public ::testing::Test {
 protected:
  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((dir_ / rel).parent_path());
    std::ofstream(dir_ / rel) << text;
  }
  project::Config load() {
    Diagnostics d;
    project::Config c = project::load(dir_, d);
    EXPECT_FALSE(d.has_errors());
    return c;
  }
  static Json container(const std::string& image) { return {{"name", "c"}, {"image", image}}; }
  ticketctl::testing::TempDir tmp_{"ticketctl-images"};
  const fs::path& dir_ = tmp_.path();
};

TEST_F(ResolverTest, SkaffoldArtifactUsesTheDockerfileInItsContext) {
  write("skaffold.yaml",
        "apiVersion: skaffold/v2alpha3\nkind: Config\nbuild:\n  artifacts:\n"
        "    - image: stephengrider/posts\n      context: posts\n      docker:\n"
        "        dockerfile: Dockerfile\n");
  write("posts/Dockerfile",
        "FROM node:alpine\nWORKDIR /app\nENV PORT=4000\nCMD [\"npm\", \"start\"]\n");
  Resolver r(load());
  Resolution res = r.resolve(container("stephengrider/posts:latest"));
  ASSERT_TRUE(res.spec) << res.message;
  EXPECT_EQ(res.spec->argv, (Strings{"npm", "start"}));
  EXPECT_EQ(res.spec->working_dir, dir_ / "posts");
  EXPECT_EQ(res.spec->env, (std::vector<std::pair<std::string, std::string>>{{"PORT", "4000"}}));
  EXPECT_EQ(res.spec->source, "skaffold.yaml build.artifacts[0] (stephengrider/posts)");

  // Kubernetes' rules: args replace CMD; command replaces ENTRYPOINT and CMD.
  Json with_args = container("stephengrider/posts");
  with_args["args"] = {"run", "dev"};
  EXPECT_EQ(r.resolve(with_args).spec->argv, (Strings{"run", "dev"}));
  Json with_command = container("stephengrider/posts");
  with_command["command"] = {"node", "index.js"};
  EXPECT_EQ(r.resolve(with_command).spec->argv, (Strings{"node", "index.js"}));
}

TEST_F(ResolverTest, AnEditedDockerfileIsReadAgain) {
  write("skaffold.yaml", "build:\n  artifacts:\n    - image: demo/posts\n      context: posts\n");
  write("posts/Dockerfile", "FROM node\nCMD [\"npm\", \"start\"]\n");
  Resolver r(load());
  EXPECT_EQ(r.resolve(container("demo/posts")).spec->argv, (Strings{"npm", "start"}));
  const auto before = fs::last_write_time(dir_ / "posts/Dockerfile");
  write("posts/Dockerfile", "FROM node\nCMD [\"npm\", \"run\", \"dev\"]\n");
  // Set the time explicitly: two writes within one clock tick would otherwise look unchanged.
  fs::last_write_time(dir_ / "posts/Dockerfile", before + std::chrono::seconds(1));
  EXPECT_EQ(r.resolve(container("demo/posts")).spec->argv, (Strings{"npm", "run", "dev"}));
}

TEST_F(ResolverTest, TicketctlYamlComesFirstAndMayNameATag) {
  write("skaffold.yaml", "build:\n  artifacts:\n    - image: demo/posts\n      context: posts\n");
  write("ticketctl.yaml",
        "images:\n  demo/posts:\n    context: services/posts\n    command: [node, index.js]\n"
        "    env: {NODE_ENV: development}\n  demo/posts:v2:\n    context: v2\n    command: [node, "
        "v2.js]\n");
  Resolver r(load());
  Resolution res = r.resolve(container("demo/posts"));
  ASSERT_TRUE(res.spec) << res.message;
  EXPECT_EQ(res.spec->argv, (Strings{"node", "index.js"}));
  EXPECT_EQ(res.spec->working_dir, dir_ / "services/posts");
  EXPECT_EQ(res.spec->env,
            (std::vector<std::pair<std::string, std::string>>{{"NODE_ENV", "development"}}));
  EXPECT_EQ(r.resolve(container("demo/posts:v2")).spec->argv, (Strings{"node", "v2.js"}));
  EXPECT_EQ(r.resolve(container("demo/posts:v3")).spec->argv, (Strings{"node", "index.js"}));
}

TEST_F(ResolverTest, WellKnownImagesNeedTheirServerInstalled) {
  Resolver installed(project::Config{}, [](const std::string& p) { return p == "redis-server"; });
  Resolution redis = installed.resolve(container("docker.io/library/redis:7-alpine"));
  ASSERT_TRUE(redis.spec) << redis.message;
  EXPECT_EQ(redis.spec->argv[0], "redis-server");
  Resolution nats = installed.resolve(container("nats"));
  EXPECT_FALSE(nats.spec);
  EXPECT_EQ(nats.reason, "ErrImageBinaryMissing");
  EXPECT_EQ(nats.message,
            "image nats runs nats-server, which is not installed: apt-get install nats-server");
}

TEST_F(ResolverTest, UnmappedImagesAndBrokenDockerfilesSayWhatToDo) {
  write("skaffold.yaml", "build:\n  artifacts:\n    - image: demo/query\n      context: query\n");
  Resolver r(load());
  Resolution unmapped = r.resolve(container("demo/comments:latest"));
  EXPECT_EQ(unmapped.reason, "ErrImageNotMapped");
  EXPECT_NE(unmapped.message.find(
                "add `images: {demo/comments: {context: DIR, command: [...]}}` to ticketctl.yaml"),
            std::string::npos)
      << unmapped.message;
  Resolution no_dockerfile = r.resolve(container("demo/query"));
  EXPECT_EQ(no_dockerfile.reason, "ErrDockerfile");
  EXPECT_NE(no_dockerfile.message.find("cannot read"), std::string::npos) << no_dockerfile.message;
}

TEST(ImageName, NormalizesRegistryLibraryTagAndDigest) {
  EXPECT_EQ(image_name("docker.io/library/redis:7", false), "redis");
  EXPECT_EQ(image_name("docker.io/library/redis:7", true), "redis:7");
  EXPECT_EQ(image_name("localhost:5000/demo/posts", false), "localhost:5000/demo/posts");
  EXPECT_EQ(image_name("demo/posts@sha256:abc", false), "demo/posts");
}

}  // namespace
}  // namespace ticketctl::images
