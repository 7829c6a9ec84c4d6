#include <iostream>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "cli/api_verbs.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/lifecycle.h"
#include "cli/manifest_args.h"
#include "runtime/api/apply.h"
#include "runtime/api/resources.h"

namespace ticketctl::cli {
namespace {

// One request's outcome: the object, the server's error, or no answer at all (`lost`).
struct Answer {
  Result<Json> result = Error{};
  bool lost = false;
};

Answer send(api::ApiClient& client, const std::string& method, const std::string& path,
            const std::string& body = {}) {
  Result<std::pair<int, std::string>> r = client.raw(method, path, body);
  if (!r.ok()) return {r.error(), true};
  const auto& [status, text] = r.value();
  Json parsed = Json::parse(text, nullptr, false);
  if (status >= 200 && status < 300 && !parsed.is_discarded()) return {std::move(parsed), false};
  const bool has_message = parsed.is_object() && json_at(parsed, "message").is_string();
  std::string message = has_message ? parsed["message"].get<std::string>()
                                    : fmt::format("the server answered {} {}", status, text);
  const std::string reason = parsed.is_object() && json_at(parsed, "reason").is_string()
                                 ? parsed["reason"].get<std::string>()
                                 : "";
  ErrorCode code = ErrorCode::Internal;
  if (status == 404)
    code = ErrorCode::NotFound;
  else if (reason == "AlreadyExists")
    code = ErrorCode::AlreadyExists;
  else if (status == 409)
    code = ErrorCode::Conflict;
  else if (status == 422 || status == 400)
    code = ErrorCode::Invalid;
  return {Error{code, std::move(message)}, false};
}

// For many objects, what is stored already: one list per resource and namespace instead of a
// GET per object (1,000 objects were 2,000 requests). Keyed by each object's path; nullopt for a
// few objects or when a list fails, and then each object is read on its own.
std::optional<std::map<std::string, Json>> stored_objects(
    api::ApiClient& client, const std::vector<manifest::Object>& objects) {
  constexpr size_t kListFrom = 10;
  if (objects.size() < kListFrom) return std::nullopt;
  std::map<std::string, Json> stored;
  std::map<std::string, const api::Resource*> lists;
  for (const manifest::Object& o : objects)
    if (const api::Resource* r = api::resource_for_kind(o.api_version, o.kind))
      lists.emplace(r->path(o.ns), r);
  for (const auto& [path, r] : lists) {
    Answer list = send(client, "GET", path);
    if (!list.result.ok() || !json_at(list.result.value(), "items").is_array()) return std::nullopt;
    for (Json& item : list.result.value()["items"]) {
      const Json& meta = json_at(item, "metadata");
      auto text = [](const Json& v) { return v.is_string() ? v.get<std::string>() : ""; };
      stored[r->path(text(json_at(meta, "namespace")), text(json_at(meta, "name")))] =
          std::move(item);
    }
  }
  return stored;
}

}  // namespace

int apply_objects(api::ApiClient& client, std::vector<manifest::Object>& objects,
                  const LineSink& out, const LineSink& err) {
  int status = kExitOk;
  size_t sent = 0;
  std::optional<std::map<std::string, Json>> stored = stored_objects(client, objects);
  for (manifest::Object& o : objects) {
    const api::Resource* r = api::resource_for_kind(o.api_version, o.kind);
    const std::string shown = r ? r->kubectl_kind() + "/" + o.name : o.ref();
    if (!r) {
      err("error: " + shown + ": kind is not served");
      status = kExitFailure;
      continue;
    }
    const Json body = api::annotated_for_apply(o, r->namespaced);
    Answer existing;
    if (!stored) {
      existing = send(client, "GET", r->path(o.ns, o.name));
    } else if (auto it = stored->find(r->path(o.ns, o.name)); it != stored->end()) {
      existing.result = std::move(it->second);
      // A list's items leave out apiVersion and kind; the object's own read has them.
      existing.result.value()["apiVersion"] = body["apiVersion"];
      existing.result.value()["kind"] = body["kind"];
    } else {
      existing.result = Error{ErrorCode::NotFound, "not in the list"};
    }
    Answer written;
    std::string verb_done;
    if (!existing.lost && !existing.result.ok() &&
        existing.result.error().code == ErrorCode::NotFound) {
      written = send(client, "POST", r->path(o.ns), body.dump());
      verb_done = "created";
      // Created by someone else since the list: applied onto what is stored now.
      if (!written.lost && !written.result.ok() &&
          written.result.error().code == ErrorCode::AlreadyExists) {
        existing = send(client, "GET", r->path(o.ns, o.name));
        verb_done.clear();
      }
    }
    if (!verb_done.empty()) {
      // created (or failed to be) above
    } else if (existing.result.ok()) {
      // kubectl apply's merge: what `kubectl scale` or `rollout restart` changed since stays.
      // The stored resourceVersion goes with it, so a concurrent write is a Conflict, not lost.
      api::Merged merged = api::merge_applied(existing.result.value(), body);
      if (!merged.had_annotation)
        err(
            fmt::format("Warning: {} is missing the {} annotation (it was not written by an "
                        "apply); it is set now, and fields this manifest leaves out are kept",
                        shown, api::kLastAppliedAnnotation));
      if (merged.had_annotation && same_json(merged.object, existing.result.value())) {
        // Nothing to change: no request, as kubectl sends no patch when its diff is empty.
        written = std::move(existing);
        verb_done = "unchanged";
      } else {
        written = send(client, "PUT", r->path(o.ns, o.name), merged.object.dump());
      }
      if (written.result.ok() && verb_done.empty())
        verb_done = written.result.value()["metadata"]["resourceVersion"] ==
                            existing.result.value()["metadata"]["resourceVersion"]
                        ? "unchanged"
                        : "configured";
    } else {
      written = std::move(existing);
    }
    // Without a control plane every further request fails the same way: say so once and stop.
    // The object in flight may or may not have been written; `get` tells.
    if (written.lost) {
      err(
          fmt::format("error: {}; stopped after {} of {} objects ({} was in flight, the rest "
                      "were not sent)",
                      written.result.error().message, sent, objects.size(), shown));
      return kExitFailure;
    }
    ++sent;
    if (!written.result.ok()) {
      err(server_error(written.result.error()));
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
