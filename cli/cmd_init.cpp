#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "runtime/scaffold/scaffold.h"

namespace ticketctl::cli {
namespace fs = std::filesystem;

// Prints (with --dry-run: and shows) the plan, writes it unless dry, and says what is left to
// do. Shared by `init` and `new service`.
int carry_out(const std::string& verb, const Result<scaffold::Plan>& plan, const fs::path& base,
              bool dry_run) {
  if (!plan.ok()) {
    std::cerr << "ticketctl " << verb << ": " << plan.error().message << '\n';
    return kExitFailure;
  }
  if (!dry_run) {
    if (Result<bool> written = scaffold::write_plan(plan.value()); !written.ok()) {
      std::cerr << "ticketctl " << verb << ": " << written.error().message << '\n';
      return kExitFailure;
    }
  }
  scaffold::print_plan(plan.value(), base, dry_run, std::cout);
  if (dry_run) std::cout << "(dry run: nothing written)\n";
  return kExitOk;
}

Handler attach_init(CLI::App& verb) {
  auto options = std::make_shared<scaffold::InitOptions>();
  auto dir = std::make_shared<std::string>(".");
  auto dry_run = std::make_shared<bool>(false);
  auto port = std::make_shared<int>(0);
  verb.add_option("DIR", *dir, "The app's directory (created when missing; default: here)");
  verb.add_option("--name", options->app,
                  "The app's name, its ingress host NAME.localhost (default: the directory's)");
  verb.add_option("--port", *port,
                  "Port of existing services whose Dockerfile and code do not say (default 3000)")
      ->check(CLI::Range(1, 65535));
  verb.add_option("--template-dir", options->template_dir,
                  "A directory of templates laid out as templates/ that overrides built-in ones");
  verb.add_flag("--dry-run", *dry_run, "Print the files instead of writing them");
  verb.footer(
      "In an empty directory: a new app (ticketctl.yaml, skaffold.yaml, infra/k8s/ with an\n"
      "Ingress for APP.localhost, README.md, .gitignore). In a repository whose directories hold\n"
      "package.json, CMakeLists.txt or a Dockerfile: what is missing for `ticketctl up` and\n"
      "skaffold (a Deployment + Service per service without manifests, skaffold artifacts,\n"
      "ticketctl.yaml images, Ingress paths). Never overwrites a file; edits keep comments.\n"
      "Exit status: 0 done, 1 refused (nothing written), 2 usage.");
  return [options, dir, dry_run, port] {
    options->dir = *dir;
    if (*port != 0) {
      options->port = *port;
      options->port_given = true;
    }
    return carry_out("init", scaffold::plan_init(*options), fs::absolute(*dir).lexically_normal(),
                     *dry_run);
  };
}

}  // namespace ticketctl::cli
