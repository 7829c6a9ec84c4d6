#pragma once
// `ticketctl init` and `ticketctl new service`: decide every file to write or edit (a Plan)
// from the templates and the app's current files; the CLI prints or writes the plan. Reads
// files only; any thread.

#include <filesystem>
#include <string>
#include <vector>

#include "runtime/core/result.h"
#include "runtime/scaffold/plan.h"

namespace ticketctl::scaffold {

struct ServiceOptions {
  std::string name;
  std::string template_name = "node";
  int port = 3000;
  std::string path;  // default /api/NAME
  int replicas = 1;
  std::vector<std::string> secrets;  // "secret-name:KEY"
  std::string db;                    // "", redis, postgres, mongo
  std::filesystem::path template_dir;
};

// The app is the nearest directory from `cwd` upwards that holds ticketctl.yaml. Refuses
// (AlreadyExists) when anything of the service is already there: nothing is planned then.
Result<Plan> plan_new_service(const std::filesystem::path& cwd, const ServiceOptions& options);

struct InitOptions {
  std::filesystem::path dir;
  std::string app;  // default: the directory's name
  int port = 3000;  // for services whose port cannot be found
  bool port_given = false;
  std::filesystem::path template_dir;
};

// In an empty directory: a new app. In a repository with service directories (package.json,
// CMakeLists.txt or a Dockerfile): what is missing for `ticketctl up` and skaffold, never over
// an existing file.
Result<Plan> plan_init(const InitOptions& options);

// "auth" -> ok; why a service or app name is not usable otherwise.
std::optional<std::string> check_service_name(const std::string& name);

}  // namespace ticketctl::scaffold
