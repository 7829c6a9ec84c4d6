#pragma once
// What `init` and `new service` share: where an app keeps its files, the mustache data of one
// service, rendering a service's pieces into a plan, and checking the manifests a plan writes.
// Internal to runtime/scaffold.

#include <filesystem>
#include <string>
#include <vector>

#include "runtime/core/result.h"
#include "runtime/scaffold/plan.h"
#include "runtime/scaffold/templates.h"

namespace ticketctl::scaffold {

struct AppContext {
  std::filesystem::path root;
  std::string app;  // the host is APP.localhost
  std::filesystem::path ticketctl_yaml, skaffold_yaml;
  std::vector<std::filesystem::path> manifest_paths;  // what ticketctl.yaml's manifests name
  std::filesystem::path manifests_dir;                // where new manifests go
};

// Reads ticketctl.yaml (through the plan, so a ticketctl.yaml the plan creates counts).
AppContext app_context(const std::filesystem::path& root, const PlanBuilder& b,
                       const std::string& app_name);

// A DNS-1123 label from a directory name: "My App" -> "my-app"; "app" when nothing is left.
std::string sanitize_name(const std::string& text);

struct ServiceSpec {
  std::string name, image, template_name;
  std::string context;       // its directory, relative to the app (default: name)
  std::string cmake_target;  // the executable a cpp service builds (default: name)
  bool has_dockerfile = true;
  int port = 3000;
  std::string path;
  int replicas = 1;
  struct Secret {
    std::string secret, key, env;
  };
  std::vector<Secret> secrets;
  std::string db;
  bool tcp_probe = false;  // a service ticketctl did not write has no /healthz
};

Data service_data(const AppContext& ctx, const ServiceSpec& s, bool regex);

// The service's manifests, its ticketctl.yaml image entry, skaffold artifact and Ingress path;
// with `files`, also its directory from service/TEMPLATE/files. AlreadyExists refuses.
Result<bool> add_service(PlanBuilder& b, const TemplateSet& templates, const AppContext& ctx,
                         const ServiceSpec& s, bool files, bool image_entry);

// Every manifest the plan creates or edits validates as the API server would; the error lists
// the problems (file:line: message).
Result<bool> check_manifests(const Plan& plan, const AppContext& ctx);

}  // namespace ticketctl::scaffold
