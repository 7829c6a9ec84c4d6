// `ticketctl build`: the images' build commands (ticketctl.yaml `images.NAME.build`), each run in
// its context when its inputs changed since its last successful build. Needs no control plane:
// a running one reads the records in <state-dir>/builds/ (a failed build's pods wait).

#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/lifecycle.h"
#include "runtime/images/build.h"
#include "runtime/images/resolver.h"
#include "runtime/supervisor/kubelet.h"

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
  std::vector<std::pair<std::string, const project::ImageSetting*>> chosen;
  for (const std::string& name : names) {
    const project::ImageSetting* found = nullptr;
    std::string key;
    for (const auto& [image, setting] : config.images)
      if (image == name || images::image_name(image, false) == images::image_name(name, false)) {
        found = &setting;
        key = image;
        break;
      }
    if (!found || found->build.empty()) {
      std::vector<std::string> with_build;
      for (const auto& [image, setting] : config.images)
        if (!setting.build.empty()) with_build.push_back(image);
      err(fmt::format("error: image {} has no build command in ticketctl.yaml{}", name,
                      with_build.empty()
                          ? std::string()
                          : fmt::format(" (images with one: {})", fmt::join(with_build, ", "))));
      return -1;
    }
    chosen.emplace_back(key, found);
  }
  if (names.empty())
    for (const auto& [image, setting] : config.images)
      if (!setting.build.empty()) chosen.emplace_back(image, &setting);
  if (chosen.empty() && names.empty()) {
    out("no image has a build command (ticketctl.yaml images.NAME.build)");
    return 0;
  }
  int failed = 0;
  for (const auto& [image, setting] : chosen) {
    images::BuildRequest request;
    request.image = image;
    request.setting = setting;
    request.records = {dir.root / "builds", supervisor::build_key(image)};
    request.force = force;
    request.skip = {dir.root};
    const std::string prefix = "[" + image + "] ";
    const images::BuildReport report = images::build_if_changed(
        request, [&](std::string_view l) { out(prefix + std::string(l)); });
    switch (report.outcome) {
      case images::BuildOutcome::UpToDate:
        out(fmt::format("{}: up to date (inputs unchanged since the last build)", image));
        break;
      case images::BuildOutcome::Built:
        out(fmt::format("{}: built in {} ({} in {})", image, seconds(report.took),
                        fmt::join(setting->build, " "), setting->context.string()));
        break;
      case images::BuildOutcome::Failed:
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
      "Runs each image's `build` command (ticketctl.yaml images.NAME.build, e.g. [npm, ci]) in\n"
      "its context when the context's files (without node_modules and .git) changed since its\n"
      "last successful build. Output lines are prefixed with [image]. While an image's last build\n"
      "failed, its pods wait with reason BuildFailed; they start once a build succeeds. Exit\n"
      "status 1 when a build failed.");
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
