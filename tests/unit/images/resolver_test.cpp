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

TEST_F(ResolverTest, WellKnownImagesRunTheirEntrypointWithTheLocalServer) {
  Resolver installed(project::Config{}, [](const std::string& p) {
    return p == "redis-server" || p == "nats-streaming-server";
  });
  // redis: the image's entrypoint script under sh, its CMD as "$@", its VOLUME for the kubelet.
  Resolution redis = installed.resolve(container("docker.io/library/redis:7-alpine"));
  ASSERT_TRUE(redis.spec) << redis.message;
  ASSERT_EQ(redis.spec->argv.size(), 5u);
  EXPECT_EQ(redis.spec->argv[0], "/bin/sh");
  EXPECT_EQ(redis.spec->argv[1], "-c");
  EXPECT_NE(redis.spec->argv[2].find("--protected-mode no"), std::string::npos);
  EXPECT_EQ(redis.spec->argv[3], "redis");
  EXPECT_EQ(redis.spec->argv[4], "redis-server");
  EXPECT_EQ(redis.spec->volume, "/data");
  // The manifest's args replace the image's CMD, as the entrypoint receives them.
  Json with_args = container("redis");
  with_args["args"] = {"--appendonly", "yes"};
  const Strings argv = installed.resolve(with_args).spec->argv;
  EXPECT_EQ(Strings(argv.begin() + 4, argv.end()), (Strings{"--appendonly", "yes"}));
  // The course's NATS Streaming Deployment: args are the server's own flags.
  Json streaming = container("nats-streaming:0.17.0");
  streaming["args"] = {"-p", "4222", "-m", "8222", "-hbi", "5s", "-SD", "-cid", "ticketing"};
  Resolution nss = installed.resolve(streaming);
  ASSERT_TRUE(nss.spec) << nss.message;
  ASSERT_GE(nss.spec->argv.size(), 4u);
  EXPECT_NE(nss.spec->argv[2].find("exec nats-streaming-server -a \"${TICKETCTL_POD_IP"),
            std::string::npos);
  EXPECT_EQ(Strings(nss.spec->argv.begin() + 4, nss.spec->argv.end()),
            (Strings{"-p", "4222", "-m", "8222", "-hbi", "5s", "-SD", "-cid", "ticketing"}));
  // A container command replaces the entrypoint, script and all.
  Json command = container("redis");
  command["command"] = {"redis-server", "--port", "7000"};
  EXPECT_EQ(installed.resolve(command).spec->argv, (Strings{"redis-server", "--port", "7000"}));
}

TEST_F(ResolverTest, AMissingServerSaysHowToGetItAndWhatToWriteInstead) {
  Resolver none(project::Config{}, [](const std::string&) { return false; });
  Resolution mongo = none.resolve(container("mongo:6"));
  EXPECT_FALSE(mongo.spec);
  EXPECT_EQ(mongo.reason, "ErrImageBinaryMissing");
  for (const char* part : {"image mongo:6 runs mongod, which is not installed",
                           "Debian/Ubuntu: MongoDB's own packages",
                           "macOS: brew tap mongodb/brew && brew install mongodb-community",
                           "`images: {mongo: {command: [/path/to/mongod]}}`"})
    EXPECT_NE(mongo.message.find(part), std::string::npos) << part << " in " << mongo.message;
  Resolution nss = none.resolve(container("nats-streaming"));
  EXPECT_EQ(nss.reason, "ErrImageBinaryMissing");
  EXPECT_NE(nss.message.find("its release binary"), std::string::npos) << nss.message;
  EXPECT_NE(nss.message.find("github.com/nats-io/nats-streaming-server/releases"),
            std::string::npos);
  EXPECT_NE(nss.message.find("macOS: brew install nats-streaming-server"), std::string::npos);
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
