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
  verb.add_option("resource", *words, "KIND NAME..., KIND/NAME..., or KIND (all of them)")
      ->required();
  verb.add_option("-n,--namespace", *ns, "Namespace")->capture_default_str();
  state->attach(verb);
  verb.footer("Secret values are never shown, only their sizes.");
  return [words, ns, state] {
    // KIND NAME..., KIND/NAME..., or a lone KIND: every object of it, as kubectl describes them.
    Result<std::vector<ObjectRef>> refs = parse_object_refs(*words);
    if (!refs.ok()) {
      std::cerr << "error: " << refs.error().message << '\n';
      return kExitFailure;
    }
    Result<api::ApiClient> client = state->connect();
    if (!client.ok()) {
      std::cerr << "error: " << client.error().message << '\n';
      return kExitFailure;
    }
    int status = kExitOk;
    std::vector<std::pair<const api::Resource*, Json>> objects;
    for (const ObjectRef& ref : refs.value()) {
      const std::string where = ref.resource->namespaced ? *ns : "";
      Result<Json> got = client.value().get(ref.resource->path(where, ref.name));
      if (!got.ok()) {
        std::cerr << server_error(got.error()) << '\n';
        status = kExitFailure;
        continue;
      }
      if (!ref.name.empty()) {
        objects.push_back({ref.resource, std::move(got.value())});
        continue;
      }
      for (Json& o : got.value()["items"]) objects.push_back({ref.resource, std::move(o)});
      if (got.value()["items"].empty())
        std::cerr << "No resources found in " << *ns << " namespace.\n";
    }
    for (size_t i = 0; i < objects.size(); ++i) {
      const api::Resource* r = objects[i].first;
      const std::string where = r->namespaced ? *ns : "";
      Result<Json> object = std::move(objects[i].second);
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
      if (i > 0) std::cout << "\n\n";
      std::cout << describe(r->kind, object.value(), related);
    }
    return status;
  };
}

}  // namespace ticketctl::cli
