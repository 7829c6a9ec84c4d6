// `scale`: sets spec.replicas of Deployments and ReplicaSets through their scale subresource, as
// kubectl scale does.

#include <iostream>

#include "cli/api_verbs.h"
#include "cli/commands.h"
#include "cli/connection.h"

namespace ticketctl::cli {
namespace {

struct ScaleArgs {
  std::vector<std::string> words;  // TYPE/NAME... or TYPE NAME...
  std::string ns = "default";
  int64_t replicas = -1;
  int64_t current_replicas = -1;
  StateDirArg state;
};

}  // namespace

Handler attach_scale(CLI::App& verb) {
  auto a = std::make_shared<ScaleArgs>();
  verb.add_option("resource", a->words, "deploy/NAME, rs/NAME, or TYPE NAME...")->required();
  verb.add_option("--replicas", a->replicas, "The new number of replicas")->required();
  verb.add_option("--current-replicas", a->current_replicas,
                  "Only scale when the current number of replicas is this");
  verb.add_option("-n,--namespace", a->ns, "Namespace")->capture_default_str();
  a->state.attach(verb);
  verb.footer(
      "Prints kind/name scaled. The Deployment's controller then adds or removes pods; `ticketctl\n"
      "rollout status` or `ticketctl wait` tells when they are ready.");
  return [a] {
    if (a->replicas < 0) {
      std::cerr << "error: The --replicas=COUNT flag is required, and COUNT must be greater than "
                   "or equal to 0\n";
      return kExitUsage;
    }
    Result<std::vector<ObjectRef>> refs = parse_object_refs(a->words);
    if (!refs.ok()) {
      std::cerr << "error: " << refs.error().message << '\n';
      return kExitUsage;
    }
    for (const ObjectRef& ref : refs.value()) {
      if (ref.resource->plural != "deployments" && ref.resource->plural != "replicasets") {
        std::cerr << "error: cannot scale " << ref.resource->kubectl_kind()
                  << ": only deployments and replicasets have replicas\n";
        return kExitFailure;
      }
      if (ref.name.empty()) {
        std::cerr << "error: resource(s) were provided, but no name was specified\n";
        return kExitUsage;
      }
    }
    Result<api::ApiClient> client = a->state.connect();
    if (!client.ok()) {
      std::cerr << "error: " << client.error().message << '\n';
      return kExitFailure;
    }
    int status = kExitOk;
    for (const ObjectRef& ref : refs.value()) {
      const std::string path = ref.resource->path(a->ns, ref.name) + "/scale";
      Json scale = {{"apiVersion", "autoscaling/v1"},
                    {"kind", "Scale"},
                    {"metadata", {{"name", ref.name}, {"namespace", a->ns}}},
                    {"spec", {{"replicas", a->replicas}}}};
      if (a->current_replicas >= 0) {
        // The precondition holds for the version read: a change in between is a Conflict.
        Result<Json> current = client.value().get(path);
        if (!current.ok()) {
          std::cerr << server_error(current.error()) << '\n';
          status = kExitFailure;
          continue;
        }
        const int64_t have = current.value()["spec"].value("replicas", int64_t{0});
        if (have != a->current_replicas) {
          std::cerr << "error: Expected replicas to be " << a->current_replicas << ", was " << have
                    << '\n';
          status = kExitFailure;
          continue;
        }
        scale["metadata"]["resourceVersion"] = current.value()["metadata"]["resourceVersion"];
      }
      Result<Json> written = client.value().put(path, scale);
      if (!written.ok()) {
        std::cerr << server_error(written.error()) << '\n';
        status = kExitFailure;
        continue;
      }
      std::cout << ref.resource->kubectl_kind() << '/' << ref.name << " scaled\n";
    }
    return status;
  };
}

}  // namespace ticketctl::cli
