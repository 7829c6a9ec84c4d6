#include <atomic>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "cli/api_verbs.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/lifecycle.h"
#include "cli/manifest_args.h"
#include "runtime/api/admission.h"
#include "runtime/api/apply.h"
#include "runtime/api/resources.h"
#include "runtime/core/strings.h"

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
  return {api::status_error(status, text), false};
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

// What applying one object came to: warnings to print first, then the written object, the
// server's error or a lost connection.
struct Outcome {
  std::string shown;  // kind/name as kubectl prints it
  std::vector<std::string> warnings;
  Answer written;
  std::string verb_done;  // created, configured or unchanged
  std::string refused;    // an error found before sending anything
  std::string hint;       // printed after the server's error, if there is one
};

// Deletes the stored object and creates it from the manifest, as `kubectl apply --force` does
// with an update the server refuses. When the server refuses the new object too, the stored
// one is created again as it was (a new uid), so a bad manifest never loses what ran.
Outcome replace(api::ApiClient& client, const api::Resource& r, const manifest::Object& o,
                Outcome out, const Json& stored, const Json& body, const char* why) {
  out.written = send(client, "DELETE", r.path(o.ns, o.name));
  if (out.written.lost || !out.written.result.ok()) return out;
  out.written = send(client, "POST", r.path(o.ns), body.dump());
  out.verb_done = why;
  if (out.written.lost || out.written.result.ok()) return out;
  const Answer restored = send(client, "POST", r.path(o.ns), as_new_object(stored).dump());
  out.hint = restored.result.ok()
                 ? fmt::format(
                       "{} was deleted to be replaced, and the replacement was refused: "
                       "it is created again as it was",
                       out.shown)
                 : fmt::format(
                       "error: {} was deleted to be replaced, the replacement was "
                       "refused, and creating it again as it was failed too",
                       out.shown);
  return out;
}

// Applies one object: created when it is not stored, else merged with what is stored and
// updated when the merge changed something. `stored` is what the lists found (nullptr: each
// object is read on its own); each call moves only its own entry out of it.
Outcome apply_one(api::ApiClient& client, manifest::Object& o, std::map<std::string, Json>* stored,
                  bool replace_immutable) {
  Outcome out;
  const api::Resource* r = api::resource_for_kind(o.api_version, o.kind);
  out.shown = r ? r->kubectl_kind() + "/" + o.name : o.ref();
  if (!r) {
    out.refused = "error: " + out.shown + ": kind is not served";
    return out;
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
  if (!existing.lost && !existing.result.ok() &&
      existing.result.error().code == ErrorCode::NotFound) {
    out.written = send(client, "POST", r->path(o.ns), body.dump());
    // Created by someone else since the list: applied onto what is stored now.
    if (out.written.lost || out.written.result.ok() ||
        out.written.result.error().code != ErrorCode::AlreadyExists) {
      out.verb_done = "created";
      return out;
    }
    existing = send(client, "GET", r->path(o.ns, o.name));
  }
  if (!existing.result.ok()) {
    out.written = std::move(existing);
    return out;
  }
  // kubectl apply's merge: what `kubectl scale` or `rollout restart` changed since stays.
  // The stored resourceVersion goes with it, so a concurrent write is a Conflict, not lost.
  api::Merged merged = api::merge_applied(existing.result.value(), body);
  // What the server refuses to update (a new selector, an immutable ConfigMap's new data) is
  // replaced when asked, as `kubectl apply --force` does; else the PUT below gets the refusal.
  if (const char* why =
          api::replacement_reason(r->store_key(), existing.result.value(), merged.object)) {
    if (replace_immutable)
      return replace(client, *r, o, std::move(out), existing.result.value(), body, why);
    out.hint = why == std::string_view(api::kReplacedForSelector)
                   ? fmt::format(
                         "hint: a {}'s selector cannot change once created; `apply --force` "
                         "deletes it and creates it again (its pods are replaced), or delete "
                         "it first",
                         o.kind)
                   : fmt::format(
                         "hint: an immutable {}'s data cannot change; `apply --force` deletes "
                         "it and creates it again, or delete it first",
                         o.kind);
  }
  if (!merged.had_annotation)
    out.warnings.push_back(
        fmt::format("Warning: {} is missing the {} annotation (it was not written by an "
                    "apply); it is set now, and fields this manifest leaves out are kept",
                    out.shown, api::kLastAppliedAnnotation));
  if (merged.had_annotation && same_json(merged.object, existing.result.value())) {
    // Nothing to change: no request, as kubectl sends no patch when its diff is empty.
    out.written = std::move(existing);
    out.verb_done = "unchanged";
    return out;
  }
  out.written = send(client, "PUT", r->path(o.ns, o.name), merged.object.dump());
  if (out.written.result.ok())
    out.verb_done = out.written.result.value()["metadata"]["resourceVersion"] ==
                            existing.result.value()["metadata"]["resourceVersion"]
                        ? "unchanged"
                        : "configured";
  return out;
}

}  // namespace

int apply_objects(api::ApiClient& client, std::vector<manifest::Object>& objects,
                  const LineSink& out, const LineSink& err, bool replace_immutable) {
  std::optional<std::map<std::string, Json>> stored = stored_objects(client, objects);
  const size_t n = objects.size();
  // Many objects go over a few connections at once: the control plane validates bodies in
  // parallel and the round trips overlap (1,000 objects one at a time took 2.2-2.7 s). Results
  // are printed in the order of the manifests whatever order they finish in.
  constexpr size_t kConnections = 4;
  const size_t workers = stored ? std::min(kConnections, n) : 1;
  std::vector<api::ApiClient> extra;
  for (size_t w = 1; w < workers; ++w) extra.emplace_back(client.connection());

  std::mutex mu;
  std::vector<std::optional<Outcome>> done(n);
  size_t printed = 0, sent = 0;
  int status = kExitOk;
  std::atomic<bool> stop{false};
  std::vector<std::string> in_flight;  // objects whose request got no answer
  std::string lost_message;
  // Prints finished outcomes in manifest order; at the end (`all`), those after a gap too.
  auto print = [&](bool all) {
    for (; printed < n; ++printed) {
      if (!done[printed]) {
        if (all) continue;
        return;
      }
      Outcome& o = *done[printed];
      for (const std::string& w : o.warnings) err(w);
      if (!o.refused.empty()) {
        err(o.refused);
        status = kExitFailure;
        continue;
      }
      if (o.written.lost) {
        in_flight.push_back(o.shown);
        lost_message = o.written.result.error().message;
        continue;
      }
      ++sent;
      if (!o.written.result.ok()) {
        err(server_error(o.written.result.error()));
        if (!o.hint.empty()) err(o.hint);
        status = kExitFailure;
        continue;
      }
      out(o.shown + ' ' + o.verb_done);
    }
  };

  // Namespaces first, so what is created in them never races their creation.
  std::vector<size_t> namespaces, rest;
  for (size_t i = 0; i < n; ++i) (objects[i].kind == "Namespace" ? namespaces : rest).push_back(i);
  for (const std::vector<size_t>* phase : {&namespaces, &rest}) {
    std::atomic<size_t> next{0};
    auto work = [&](api::ApiClient& c) {
      for (size_t k; !stop && (k = next++) < phase->size();) {
        const size_t i = (*phase)[k];
        Outcome o = apply_one(c, objects[i], stored ? &*stored : nullptr, replace_immutable);
        // Without a control plane every further request fails the same way: stop sending.
        if (o.written.lost) stop = true;
        std::lock_guard<std::mutex> lock(mu);
        done[i] = std::move(o);
        print(false);
      }
    };
    std::vector<std::thread> threads;
    for (api::ApiClient& c : extra) threads.emplace_back(work, std::ref(c));
    work(client);
    for (std::thread& t : threads) t.join();
    if (stop) break;
  }
  print(true);
  // The objects in flight may or may not have been written; `get` tells.
  if (!in_flight.empty()) {
    err(fmt::format(
        "error: {}; stopped after {} of {} objects ({} {} in flight, the rest were "
        "not sent)",
        lost_message, sent, n, join(in_flight, ", "), in_flight.size() == 1 ? "was" : "were"));
    return kExitFailure;
  }
  return status;
}

Handler attach_apply(CLI::App& verb) {
  auto args = std::make_shared<ManifestArgs>();
  auto state = std::make_shared<StateDirArg>();
  auto force = std::make_shared<bool>(false);
  args->attach(verb);
  state->attach(verb);
  verb.add_flag("--force", *force,
                "Delete and create again an object that cannot be updated (a Deployment whose "
                "selector changed, with its pods; an immutable ConfigMap or Secret whose data "
                "changed)");
  verb.footer(
      "Creates each object, or updates it when it exists. Every manifest is validated first: one\n"
      "invalid document and nothing is sent. Prints kind/name created|configured|unchanged\n"
      "(or replaced, with --force).");
  return [args, state, force] {
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
        [](const std::string& l) { std::cerr << l << '\n'; }, *force);
  };
}

}  // namespace ticketctl::cli
