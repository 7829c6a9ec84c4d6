#include "runtime/images/dockerfile.h"

#include <gtest/gtest.h>

namespace ticketctl::images {
namespace {

using Strings = std::vector<std::string>;

TEST(Dockerfile, TheCoursesNodeServiceDockerfile) {
  auto d = parse_dockerfile(R"(FROM node:alpine

WORKDIR /app
COPY package.json .
RUN npm install
COPY ./ ./

CMD ["npm", "start"]
)",
                            "Dockerfile");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d.value().workdir, "/app");
  EXPECT_TRUE(d.value().entrypoint.empty());
  EXPECT_EQ(d.value().cmd, (Strings{"npm", "start"}));
}

TEST(Dockerfile, ShellFormContinuationsCommentsArgsAndEnv) {
  auto d = parse_dockerfile(R"(ARG BASE=node:20
FROM $BASE AS build
CMD ["ignored"]
FROM node:20
ARG PORT=3000
ENV NODE_ENV=production \
    # a comment between continuation lines
    APP_PORT=${PORT} GREETING="hello world"
ENV LEGACY some value with spaces
workdir /srv
WORKDIR app
ENTRYPOINT node server.js --port $APP_PORT
)",
                            "Dockerfile");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d.value().workdir, "/srv/app");
  EXPECT_EQ(d.value().env, (std::vector<std::pair<std::string, std::string>>{
                               {"NODE_ENV", "production"},
                               {"APP_PORT", "3000"},
                               {"GREETING", "hello world"},
                               {"LEGACY", "some value with spaces"}}));
  EXPECT_EQ(d.value().entrypoint, (Strings{"/bin/sh", "-c", "node server.js --port $APP_PORT"}));
  EXPECT_TRUE(d.value().cmd.empty());  // the first stage's CMD does not reach the last
}

TEST(Dockerfile, Errors) {
  auto bad = parse_dockerfile("FROM x\nCMD [\"npm\", 3]\n", "svc/Dockerfile");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message,
            "svc/Dockerfile:2: CMD is not a JSON array of strings: [\"npm\", 3]");
  auto no_from = parse_dockerfile("CMD [\"x\"]\n", "Dockerfile");
  ASSERT_FALSE(no_from.ok());
  EXPECT_EQ(no_from.error().message, "Dockerfile: no FROM instruction");
}

}  // namespace
}  // namespace ticketctl::images
