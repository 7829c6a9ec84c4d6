// `ticketctl build`: the images' builds (ticketctl.yaml `images.NAME.build`, else the dependency
// installs of their Dockerfiles), each run when its inputs changed since its last successful build.
// Needs no control plane: a running one reads the records in <state-dir>/builds/ (a failed build's
// pods wait).

#include <algorithm>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/lifecycle.h"
#include "runtime/images/build.h"
#include "runtime/images/resolver.h"

namespace ticketctl::cli {
namespace {
namespace fs = std::filesystem;

std::string seconds(std::chrono::milliseconds d) {
  return fmt::format("{:.1f}s", static_cast<double>(d.count()) / 1000.0);
}

}  // namespace

int run_builds(const project::Config& config, const daemon::StateDir& dir,
               const std::vector<std::string>& names, bool force, const LineSink& out,
               const LineSink& err) {
  struct Chosen {
    std::string image;
    images::BuildPlan plan;
  };
  // ticketctl.yaml's images first, then skaffold.yaml's artifacts not named there.
  std::vector<Chosen> all;
  for (const auto* settings : {&config.images, &config.artifacts})
    for (const auto& [image, setting] : *settings) {
      if (settings == &config.artifacts && config.images.count(image)) continue;
      images::BuildPlan plan = images::plan_build(setting);
      if (!plan.empty()) all.push_back({image, std::move(plan)});
    }
  std::vector<Chosen> chosen;
  for (const std::string& name : names) {
    auto found = std::find_if(all.begin(), all.end(), [&](const Chosen& c) {
      return c.image == name ||
             images::image_name(c.image, false) == images::image_name(name, false);
    });
    if (found == all.end()) {
      std::vector<std::string> with_build;
      for (const Chosen& c : all) with_build.push_back(c.image);
      err(fmt::format(
          "error: image {} has no build: no ticketctl.yaml images.NAME.build, and no "
          "dependency install (RUN npm install|ci, yarn, pnpm install) in its "
          "Dockerfile{}",
          name,
          with_build.empty() ? std::string()
                             : fmt::format(" (images with one: {})", fmt::join(with_build, ", "))));
      return -1;
    }
    chosen.push_back(*found);
  }
  if (names.empty()) chosen = all;
  if (chosen.empty() && names.empty()) {
    out("no image has a build (ticketctl.yaml images.NAME.build, or a dependency install in a "
        "Dockerfile of a skaffold.yaml artifact)");
    return 0;
  }
  int failed = 0;
  for (const Chosen& c : chosen) {
    const std::string& image = c.image;
    for (const images::SkippedStep& s : c.plan.skipped)
      out(fmt::format("{}: {}:{}: not run: {}: {}", image, c.plan.origin, s.line, s.text, s.why));
    images::BuildRequest request;
    request.image = image;
    request.plan = c.plan;
    request.records = {dir.root / "builds", images::build_key(image)};
    request.force = force;
    request.skip = {dir.root};
    const std::string prefix = "[" + image + "] ";
    const images::BuildReport report = images::build_if_changed(
        request, [&](std::string_view l) { out(prefix + std::string(l)); });
    std::vector<std::string> commands;
    for (const images::BuildCommand& command : c.plan.commands)
      commands.push_back(fmt::format("{} in {}", command.text, command.dir.string()));
    switch (report.outcome) {
      case images::BuildOutcome::UpToDate:
        out(fmt::format("{}: up to date (inputs unchanged since the last build)", image));
        break;
      case images::BuildOutcome::Built:
        out(fmt::format("{}: built in {} ({})", image, seconds(report.took),
                        fmt::join(commands, "; ")));
        break;
      case images::BuildOutcome::Failed:
      case images::BuildOutcome::FailedBefore:
        ++failed;
        err(
            fmt::format("{}: build failed after {}: {}; its pods wait (BuildFailed) until a build "
                        "succeeds",
                        image, seconds(report.took), report.message));
        break;
    }
  }
  return failed;
}

Handler attach_build(CLI::App& verb) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto state = std::make_shared<StateDirArg>();
  auto force = std::make_shared<bool>(false);
  verb.add_option("IMAGE", *names, "Images to build (default: every image with a build command)");
  verb.add_flag("--force", *force, "Build even when the inputs did not change");
  state->attach(verb);
  verb.footer(
      "Runs each image's build when its inputs changed since its last successful build: its\n"
      "ticketctl.yaml `build` command (e.g. [npm, ci]) in its context, whose files (without\n"
      "node_modules and .git) are the inputs; else the dependency installs of its Dockerfile's\n"
      "final stage (RUN npm install|ci, yarn, pnpm install) where the Dockerfile runs them, with\n"
      "the files COPY put in place before them as inputs (other RUN steps are listed, not run).\n"
      "`up` runs the same builds before the pods start. Output lines are prefixed with [image].\n"
      "While an image's last build failed, its pods wait with reason BuildFailed; they start once\n"
      "a build succeeds. Exit status 1 when a build failed.");
  return [names, state, force] {
    Diagnostics diags;
    const project::Config config = project::load(fs::current_path(), diags);
    print_diagnostics(diags, std::cerr);
    if (diags.has_errors()) return kExitFailure;
    const int failed = run_builds(
        config, state->dir(), *names, *force,
        [](const std::string& l) { std::cout << l << std::endl; },
        [](const std::string& l) { std::cerr << l << std::endl; });
    return failed == 0 ? kExitOk : kExitFailure;
  };
}

}  // namespace ticketctl::cli
