#include <iostream>

#include "cli/api_verbs.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/describe.h"
#include "runtime/api/resources.h"

namespace ticketctl::cli {

Handler attach_describe(CLI::App& verb) {
  auto words = std::make_shared<std::vector<std::string>>();
  auto ns = std::make_shared<std::string>("default");
  auto state = std::make_shared<StateDirArg>();
  verb.add_option("resource", *words, "KIND NAME...")->required();
  verb.add_option("-n,--namespace", *ns, "Namespace")->capture_default_str();
  state->attach(verb);
  verb.footer("Secret values are never shown, only their sizes.");
  return [words, ns, state] {
    const api::Resource* r = api::find_resource((*words)[0]);
    if (!r) {
      std::cerr << "error: the server doesn't have a resource type \"" << (*words)[0] << "\"\n";
      return kExitFailure;
    }
    if (words->size() < 2) {
      std::cerr << "error: a name is required: ticketctl describe " << (*words)[0] << " NAME\n";
      return kExitUsage;
    }
    Result<api::ApiClient> client = state->connect();
    if (!client.ok()) {
      std::cerr << "error: " << client.error().message << '\n';
      return kExitFailure;
    }
    const std::string where = r->namespaced ? *ns : "";
    int status = kExitOk;
    for (size_t i = 1; i < words->size(); ++i) {
      Result<Json> object = client.value().get(r->path(where, (*words)[i]));
      if (!object.ok()) {
        std::cerr << server_error(object.error()) << '\n';
        status = kExitFailure;
        continue;
      }
      const std::string uid = object.value()["metadata"].value("uid", "");
      Related related;
      if (r->kind == "Deployment") {
        Result<Json> sets = client.value().get(api::find_resource("replicasets")->path(where));
        if (sets.ok())
          for (const Json& o : sets.value()["items"])
            for (const Json& ref : o["metadata"].value("ownerReferences", Json::array()))
              if (ref.value("uid", "") == uid) related.replicasets.push_back(o);
      }
      Result<Json> events = client.value().get(api::find_resource("events")->path(where));
      if (events.ok())
        for (const Json& e : events.value()["items"])
          if (e.contains("involvedObject") && e["involvedObject"].value("uid", "") == uid)
            related.events.push_back(e);
      if (i > 1) std::cout << "\n\n";
      std::cout << describe(r->kind, object.value(), related);
    }
    return status;
  };
}

}  // namespace ticketctl::cli
