#include <iostream>

#include "cli/api_verbs.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/manifest_args.h"
#include "runtime/api/resources.h"

namespace ticketctl::cli {

Handler attach_apply(CLI::App& verb) {
  auto args = std::make_shared<ManifestArgs>();
  auto state = std::make_shared<StateDirArg>();
  args->attach(verb);
  state->attach(verb);
  verb.footer(
      "Creates each object, or updates it when it exists. Every manifest is validated first: one\n"
      "invalid document and nothing is sent. Prints kind/name created|configured|unchanged.");
  return [args, state] {
    manifest::LoadResult loaded = args->load();
    print_diagnostics(loaded.diagnostics, std::cerr);
    if (loaded.diagnostics.has_errors()) return kExitFailure;
    Result<api::ApiClient> client = state->connect();
    if (!client.ok()) {
      std::cerr << "error: " << client.error().message << '\n';
      return kExitFailure;
    }
    int status = kExitOk;
    for (manifest::Object& o : loaded.objects) {
      const api::Resource* r = api::resource_for_kind(o.api_version, o.kind);
      const std::string shown = r ? r->kubectl_kind() + "/" + o.name : o.ref();
      if (!r) {
        std::cerr << "error: " << shown << ": kind is not served\n";
        status = kExitFailure;
        continue;
      }
      if (r->namespaced) o.body["metadata"]["namespace"] = o.ns;
      Result<Json> existing = client.value().get(r->path(o.ns, o.name));
      Result<Json> written = Error{};
      std::string verb_done;
      if (!existing.ok() && existing.error().code == ErrorCode::NotFound) {
        written = client.value().post(r->path(o.ns), o.body);
        verb_done = "created";
      } else if (existing.ok()) {
        written = client.value().put(r->path(o.ns, o.name), o.body);
        if (written.ok())
          verb_done = written.value()["metadata"]["resourceVersion"] ==
                              existing.value()["metadata"]["resourceVersion"]
                          ? "unchanged"
                          : "configured";
      } else {
        written = existing.error();
      }
      if (!written.ok()) {
        std::cerr << server_error(written.error()) << '\n';
        status = kExitFailure;
        continue;
      }
      std::cout << shown << ' ' << verb_done << '\n';
    }
    return status;
  };
}

}  // namespace ticketctl::cli
