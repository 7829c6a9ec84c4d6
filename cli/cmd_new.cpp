#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "runtime/scaffold/scaffold.h"

namespace ticketctl::cli {
namespace fs = std::filesystem;

int carry_out(const std::string& verb, const Result<scaffold::Plan>& plan, const fs::path& base,
              bool dry_run);  // cmd_init.cpp

Handler attach_new(CLI::App& verb) {
  auto options = std::make_shared<scaffold::ServiceOptions>();
  auto dry_run = std::make_shared<bool>(false);
  verb.require_subcommand(1);
  CLI::App* service = verb.add_subcommand("service", "A service: code, manifests, routes");
  service->add_option("NAME", options->name, "The service's name (lowercase, digits, '-')")
      ->required();
  service
      ->add_option("-t,--template", options->template_name,
                   "node (express), node-ts (express + TypeScript), cpp (C++20, cpp-httplib), "
                   "or one of --template-dir's service/ directories")
      ->capture_default_str();
  service->add_option("--port", options->port, "The port it listens on")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  service->add_option("--path", options->path,
                      "Its routes' prefix and Ingress path (default /api/NAME)");
  service->add_option("--replicas", options->replicas, "Pods of its Deployment")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  service->add_option("--secret", options->secrets,
                      "SECRET:KEY, read as the env variable KEY from a secretKeyRef (repeatable)");
  service
      ->add_option("--db", options->db,
                   "Its own database Deployment + Service NAME-DB-depl/-srv, and its URL as env")
      ->check(CLI::IsMember({"redis", "postgres", "mongo"}));
  service->add_option(
      "--template-dir", options->template_dir,
      "A directory of templates laid out as templates/ that overrides built-in ones");
  service->add_flag("--dry-run", *dry_run, "Print the files instead of writing them");
  service->footer(
      "Writes NAME/ from the template, infra/k8s/NAME-depl.yaml (Deployment with a readiness\n"
      "probe on /healthz, Service NAME-srv), and adds the image to ticketctl.yaml, an artifact\n"
      "to skaffold.yaml and a path to the Ingress, keeping those files' comments. Refuses, and\n"
      "writes nothing, when any part of NAME exists. Run it in the app (or below it).\n"
      "Exit status: 0 done, 1 refused (nothing written), 2 usage.");
  return [options, dry_run] {
    return carry_out("new service", scaffold::plan_new_service(fs::current_path(), *options),
                     fs::current_path(), *dry_run);
  };
}

}  // namespace ticketctl::cli
