#include "cli/commands.h"

#include <algorithm>
#include <csignal>
#include <iostream>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "runtime/core/fatal.h"
#include "runtime/core/strings.h"

namespace ticketctl::cli {
namespace {

constexpr Verb kVerbs[] = {
    {"validate", "Check manifests as strictly as a Kubernetes API server would", attach_validate},
    {"convert", "Rewrite legacy Ingress manifests as networking.k8s.io/v1", attach_convert},
    {"up", "Start the control plane and run the manifests: pods, Services, the ingress", attach_up},
    {"down", "Stop the control plane", attach_down},
    {"build", "Run the images' build commands whose inputs changed", attach_build},
    {"dev", "up, then rebuild and restart pods on file changes, re-apply changed manifests",
     attach_dev},
    {"apply", "Create or update objects from manifests", attach_apply},
    {"get", "List objects or show them by name", attach_get},
    {"describe", "Show an object in detail, with related objects and events", attach_describe},
    {"logs", "Print or follow a container's log (a pod, a deployment's pod, or -l)", attach_logs},
    {"create", "Create a Secret, ConfigMap or Namespace from the command line", attach_create},
    {"delete", "Delete objects by kind and name, selector, or manifest", attach_delete},
    {"rollout", "Restart a Deployment, follow its rollout, show its history, undo it",
     attach_rollout},
    {"label", "Add, change or remove labels of objects", attach_label},
    {"annotate", "Add, change or remove annotations of objects", attach_annotate},
    {"patch", "Change fields of an object with a strategic, merge or JSON patch", attach_patch},
    {"set", "Set the image of containers (set image)", attach_set},
    {"scale", "Set the replicas of a Deployment or ReplicaSet", attach_scale},
    {"wait", "Wait for a condition on objects, or for their deletion", attach_wait},
    {"test", "Start the app, gate on its Deployments, run smoke checks, write JUnit", attach_test},
    {"port-forward", "Forward local ports to a pod, deployment or service", attach_port_forward},
    {"exec", "Run a command with a container's environment, directory and network identity",
     attach_exec},
    {"status", "Show whether the control plane runs, where, and what it stores", attach_status},
    {"config", "Show the kubeconfig for kubectl (view, path)", attach_config},
    {"ingress", "The built-in ingress: its CA (how to trust it) and its ports", attach_ingress},
    {"init", "Start an app here, or make an existing repository runnable: manifests, skaffold",
     attach_init},
    {"new", "Add a service (node, node-ts, cpp): code, tests, manifests, ingress path", attach_new},
    {"version", "Print the ticketctl version", attach_version},
};

}  // namespace

int run(int argc, char** argv) {
  // A client (and the control plane) writing to a socket or pipe whose reader is gone should
  // see EPIPE and finish cleanly, not die of SIGPIPE; pods get default dispositions back.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"ticketctl runs Kubernetes manifests as local processes, without a cluster."};
  app.name("ticketctl");
  app.require_subcommand(1);
  app.fallthrough(false);
  app.set_version_flag("--version", "ticketctl v" TICKETCTL_VERSION);
  std::map<const CLI::App*, Handler> handlers;
  for (const Verb& v : kVerbs) {
    CLI::App* sub = app.add_subcommand(std::string(v.name), std::string(v.summary));
    handlers[sub] = v.attach(*sub);
  }
  // A mistyped verb: say which one was meant, as kubectl does ("Did you mean this?"), rather
  // than CLI11's "A subcommand is required".
  if (argc > 1 && argv[1][0] != '-') {
    const std::string_view typed = argv[1];
    std::vector<std::string_view> names;
    for (const Verb& v : kVerbs) names.push_back(v.name);
    if (std::find(names.begin(), names.end(), typed) == names.end()) {
      std::cerr << "ticketctl: unknown command \"" << typed << "\"\n";
      if (std::optional<std::string_view> near = nearest(typed, names))
        std::cerr << "\nDid you mean this?\n\t" << *near << "\n\n";
      std::cerr << "Run 'ticketctl --help' for the list of commands.\n";
      return kExitUsage;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  try {
    for (const CLI::App* sub : app.get_subcommands()) return handlers.at(sub)();
  } catch (const Fatal& e) {
    std::cerr << "ticketctl: " << e.what() << '\n';
    return kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << "ticketctl: internal error: " << e.what() << '\n';
    return kExitFailure;
  }
  return kExitUsage;
}

}  // namespace ticketctl::cli
