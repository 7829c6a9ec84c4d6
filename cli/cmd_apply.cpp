#include <iostream>

#include "cli/api_verbs.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/lifecycle.h"
#include "cli/manifest_args.h"
#include "runtime/api/resources.h"

namespace ticketctl::cli {

int apply_objects(api::ApiClient& client, std::vector<manifest::Object>& objects,
                  const LineSink& out, const LineSink& err) {
  int status = kExitOk;
  for (manifest::Object& o : objects) {
    const api::Resource* r = api::resource_for_kind(o.api_version, o.kind);
    const std::string shown = r ? r->kubectl_kind() + "/" + o.name : o.ref();
    if (!r) {
      err("error: " + shown + ": kind is not served");
      status = kExitFailure;
      continue;
    }
    if (r->namespaced) o.body["metadata"]["namespace"] = o.ns;
    Result<Json> existing = client.get(r->path(o.ns, o.name));
    Result<Json> written = Error{};
    std::string verb_done;
    if (!existing.ok() && existing.error().code == ErrorCode::NotFound) {
      written = client.post(r->path(o.ns), o.body);
      verb_done = "created";
    } else if (existing.ok()) {
      written = client.put(r->path(o.ns, o.name), o.body);
      if (written.ok())
        verb_done = written.value()["metadata"]["resourceVersion"] ==
                            existing.value()["metadata"]["resourceVersion"]
                        ? "unchanged"
                        : "configured";
    } else {
      written = existing.error();
    }
    if (!written.ok()) {
      err(server_error(written.error()));
      status = kExitFailure;
      continue;
    }
    out(shown + ' ' + verb_done);
  }
  return status;
}

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
    return apply_objects(
        client.value(), loaded.objects, [](const std::string& l) { std::cout << l << '\n'; },
        [](const std::string& l) { std::cerr << l << '\n'; });
  };
}

}  // namespace ticketctl::cli
