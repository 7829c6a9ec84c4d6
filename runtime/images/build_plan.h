#pragma once
// What an image's build runs on the host, and what it reads: ticketctl.yaml `images.NAME.build`
// when set, else the dependency installs of its Dockerfile's final stage (`RUN npm install|ci`,
// `yarn [install]`, `pnpm install`, with their flags), each run where the image would run it:
// in the host directory whose package.json the preceding COPY steps put in the RUN's WORKDIR.
// Other RUN steps (apk, apt-get, compilers, global installs) are not run; the plan lists them.
// Reads the Dockerfile, the context's directory entries and package.json files; any thread.

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "runtime/images/dockerfile.h"
#include "runtime/project/config.h"

namespace ticketctl::images {

struct BuildCommand {
  std::vector<std::string> argv;  // PATH searched; yarn/pnpm fall back to `corepack yarn|pnpm`
  std::filesystem::path dir;      // where it runs (absolute)
  std::vector<std::pair<std::string, std::string>> env;  // added to the caller's environment
  std::string text;                                      // as the user wrote it, for messages
};

struct SkippedStep {
  int line = 0;
  std::string text;  // "RUN apk add --no-cache python3"
  std::string why;
};

struct BuildPlan {
  std::string origin;  // "ticketctl.yaml images.demo/posts.build", "services/auth/Dockerfile"
  std::vector<BuildCommand> commands;
  std::vector<SkippedStep> skipped;
  // Files and directories (recursively, without node_modules and .git) the commands read: their
  // contents, with the commands, make the inputs hash.
  std::vector<std::filesystem::path> inputs;
  // Directories an install fills (<dir>/node_modules): one missing means the build runs again
  // even when the inputs did not change (a fresh clone, a `git clean`).
  std::vector<std::filesystem::path> outputs;
  bool empty() const { return commands.empty(); }
};

// The plan derived from a parsed Dockerfile whose context is `context` (absolute).
BuildPlan plan_from_dockerfile(const Dockerfile& dockerfile, const std::filesystem::path& context,
                               const std::string& origin);

// The plan of an image: its ticketctl.yaml `build` command (run in its context, the whole context
// its input), else the one derived from the Dockerfile in its context; an empty plan when it has
// neither. An unreadable Dockerfile is an empty plan: the resolver reports it.
BuildPlan plan_build(const project::ImageSetting& setting);

// ticketctl.yaml `images:` first, then skaffold.yaml artifacts, as the resolver looks them up
// (an entry naming a tag matches only that tag). Null when the image has neither.
const project::ImageSetting* find_image_setting(const project::Config& config,
                                                std::string_view image);

// "demo/posts:latest" -> "demo_posts": the file name an image's build status is kept under.
std::string build_key(std::string_view image);

}  // namespace ticketctl::images
