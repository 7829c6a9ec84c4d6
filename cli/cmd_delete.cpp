#include <iostream>

#include "cli/api_verbs.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/manifest_args.h"
#include "runtime/api/resources.h"

namespace ticketctl::cli {
namespace {

struct DeleteArgs {
  std::vector<std::string> words;  // KIND NAME...
  std::string ns = "default";
  std::string labels;
  bool all = false;
  StateDirArg state;
};

}  // namespace

Handler attach_delete(CLI::App& verb) {
  auto a = std::make_shared<DeleteArgs>();
  auto files = std::make_shared<ManifestArgs>();
  verb.add_option("resource", a->words,
                  "KIND NAME..., KIND/NAME... (or -f PATH, or KIND -l SELECTOR, or KIND --all)");
  verb.add_option("-f,--filename", files->paths, "Delete the objects these manifests define");
  verb.add_flag("-R,--recursive", files->recursive, "Also read subdirectories");
  verb.add_option("-n,--namespace", a->ns, "Namespace")->capture_default_str();
  verb.add_option("-l,--selector", a->labels, "Delete every object of KIND matching this selector");
  verb.add_flag("--all", a->all, "Delete every object of KIND in the namespace");
  a->state.attach(verb);
  return [a, files] {
    std::vector<std::pair<const api::Resource*, std::pair<std::string, std::string>>> targets;
    files->ns = a->ns;
    if (!files->paths.empty()) {
      manifest::LoadResult loaded = files->load();
      print_diagnostics(loaded.diagnostics, std::cerr);
      if (loaded.diagnostics.has_errors()) return kExitFailure;
      for (const auto& o : loaded.objects)
        if (const api::Resource* r = api::resource_for_kind(o.api_version, o.kind))
          targets.push_back({r, {o.ns, o.name}});
    }
    Result<api::ApiClient> client = a->state.connect();
    if (!client.ok()) {
      std::cerr << "error: " << client.error().message << '\n';
      return kExitFailure;
    }
    if (!a->words.empty()) {
      // KIND NAME..., KIND/NAME..., or KIND with -l or --all, as kubectl takes them.
      Result<std::vector<ObjectRef>> refs = parse_object_refs(a->words);
      if (!refs.ok()) {
        std::cerr << "error: " << refs.error().message << '\n';
        return kExitFailure;
      }
      const bool whole_kind = refs.value().size() == 1 && refs.value()[0].name.empty();
      if (whole_kind && !a->all && a->labels.empty()) {
        std::cerr << "error: resource(s) were provided, but no name was specified\n";
        return kExitUsage;
      }
      if (!whole_kind && (a->all || !a->labels.empty())) {
        std::cerr << "error: names cannot be provided when a selector or --all is specified\n";
        return kExitUsage;
      }
      if (whole_kind) {
        const api::Resource* r = refs.value()[0].resource;
        Result<Json> list =
            client.value().get(r->path(r->namespaced ? a->ns : "") + selector_query(a->labels, {}));
        if (!list.ok()) {
          std::cerr << server_error(list.error()) << '\n';
          return kExitFailure;
        }
        for (const Json& o : list.value()["items"])
          targets.push_back({r, {a->ns, o["metadata"]["name"].get<std::string>()}});
        if (targets.empty() && files->paths.empty())
          std::cerr << "No resources found\n";  // kubectl's words; nothing to do is not an error
      } else {
        for (const ObjectRef& ref : refs.value())
          targets.push_back({ref.resource, {a->ns, ref.name}});
      }
    }
    if (targets.empty() && files->paths.empty() && a->words.empty()) {
      std::cerr << "error: you must specify -f, or KIND NAME..., or KIND -l SELECTOR\n";
      return kExitUsage;
    }
    int status = kExitOk;
    for (const auto& [r, where] : targets) {
      Result<Json> gone = client.value().remove(r->path(where.first, where.second));
      if (!gone.ok()) {
        std::cerr << server_error(gone.error()) << '\n';
        status = kExitFailure;
        continue;
      }
      std::cout << r->kubectl_kind() << " \"" << where.second << "\" deleted\n";
    }
    return status;
  };
}

}  // namespace ticketctl::cli
