// `rollout restart|status|history|undo` for Deployments, with kubectl's messages. The
// revisions live in the ReplicaSets' deployment.kubernetes.io/revision annotations; status
// follows the Deployment through a watch, never a polling sleep.

#include <fmt/format.h>

#include <ctime>
#include <functional>
#include <iostream>
#include <map>

#include "cli/api_verbs.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "runtime/core/rfc3339.h"
#include "runtime/manifest/reasons.h"
#include "runtime/manifest/yaml_writer.h"

namespace ticketctl::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kRevision = "deployment.kubernetes.io/revision";
constexpr const char* kChangeCause = "kubernetes.io/change-cause";

struct RolloutArgs {
  std::vector<std::string> words;
  std::string ns = "default";
  std::string timeout = "0s";
  int64_t revision = 0;
  StateDirArg state;
};

int64_t revision_of(const Json& o) {
  const std::string r = str(json_at(json_at(json_at(o, "metadata"), "annotations"), kRevision));
  return !r.empty() && r.size() < 18 && r.find_first_not_of("0123456789") == std::string::npos
             ? std::stoll(r)
             : 0;
}

// The one Deployment a rollout subcommand acts on; prints the error and returns null otherwise.
const ObjectRef* single_deployment(const std::vector<ObjectRef>& refs, int& status) {
  if (refs.size() != 1 || refs[0].name.empty()) {
    std::cerr << "error: name one deployment: deploy/NAME or deployment NAME\n";
    status = kExitUsage;
    return nullptr;
  }
  if (refs[0].resource->plural != "deployments") {
    std::cerr << "error: no rollout support for " << refs[0].resource->kubectl_kind()
              << ": only deployments roll out\n";
    status = kExitFailure;
    return nullptr;
  }
  return &refs[0];
}

// kubectl's DeploymentStatusViewer: the line to print, whether the rollout is done, or an error.
struct Progress {
  std::string message;
  bool done = false;
  std::string error;
};
Progress deployment_progress(const Json& d) {
  const std::string name = str(d["metadata"]["name"]);
  const Json& status = json_at(d, "status");
  auto count = [&](const char* key) {
    const Json& v = json_at(status, key);
    return v.is_number_integer() ? v.get<int64_t>() : int64_t{0};
  };
  const int64_t generation = d["metadata"].value("generation", int64_t{1});
  if (generation > count("observedGeneration"))
    return {"Waiting for deployment spec update to be observed...", false, {}};
  for (const Json& c : json_at(status, "conditions"))
    if (str(json_at(c, "type")) == reasons::kProgressing &&
        str(json_at(c, "reason")) == reasons::kProgressDeadlineExceeded)
      return {{}, false, "deployment \"" + name + "\" exceeded its progress deadline"};
  const Json& want = json_at(json_at(d, "spec"), "replicas");
  const int64_t replicas = want.is_number_integer() ? want.get<int64_t>() : 1;
  const int64_t updated = count("updatedReplicas");
  if (updated < replicas)
    return {fmt::format("Waiting for deployment \"{}\" rollout to finish: {} out of {} new "
                        "replicas have been updated...",
                        name, updated, replicas),
            false,
            {}};
  if (count("replicas") > updated)
    return {fmt::format("Waiting for deployment \"{}\" rollout to finish: {} old replicas are "
                        "pending termination...",
                        name, count("replicas") - updated),
            false,
            {}};
  if (count("availableReplicas") < updated)
    return {fmt::format("Waiting for deployment \"{}\" rollout to finish: {} of {} updated "
                        "replicas are available...",
                        name, count("availableReplicas"), updated),
            false,
            {}};
  return {fmt::format("deployment \"{}\" successfully rolled out", name), true, {}};
}

int rollout_status(api::ApiClient& client, const ObjectRef& ref, const std::string& ns,
                   std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const bool forever = timeout.count() == 0;
  std::string last;
  int result = -1;
  auto judge = [&](const Json& d) {
    const Progress p = deployment_progress(d);
    if (!p.error.empty()) {
      std::cerr << "error: " << p.error << '\n';
      result = kExitFailure;
      return;
    }
    if (p.message != last) std::cout << p.message << '\n' << std::flush;
    last = p.message;
    if (p.done) result = kExitOk;
  };
  while (true) {
    Result<Json> d = client.get(ref.resource->path(ns, ref.name));
    if (!d.ok()) {
      std::cerr << server_error(d.error()) << '\n';
      return kExitFailure;
    }
    judge(d.value());
    if (result >= 0) return result;
    if (!forever && Clock::now() >= deadline) break;
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline - Clock::now());
    const std::string path =
        ref.resource->path(ns) + selector_query({}, "metadata.name=" + ref.name) +
        "&watch=1&resourceVersion=" + str(d.value()["metadata"]["resourceVersion"]) +
        "&timeoutSeconds=" + std::to_string(forever ? 1800 : left.count() + 1);
    Result<bool> watched = client.watch(path, [&](const Json& event) {
      const std::string type = event.value("type", "");
      if (type == "DELETED") {
        std::cerr << "error: object has been deleted\n";
        result = kExitFailure;
      } else if (type == "ERROR") {
        return false;  // e.g. 410 Gone: read the object again and watch from there
      } else {
        judge(event["object"]);
      }
      return result < 0 && (forever || Clock::now() < deadline);
    });
    if (result >= 0) return result;
    if (!watched.ok()) {
      std::cerr << "error: " << watched.error().message << '\n';
      return kExitFailure;
    }
    if (!forever && Clock::now() >= deadline) break;
  }
  std::cerr << "error: timed out waiting for the condition\n";
  return kExitFailure;
}

// Writes `change` to the Deployment, reading it again when someone else wrote in between.
Result<Json> update_deployment(api::ApiClient& client, const std::string& path,
                               const std::function<bool(Json&)>& change) {
  for (int attempt = 0;; ++attempt) {
    Result<Json> d = client.get(path);
    if (!d.ok()) return d;
    Json updated = d.value();
    if (!change(updated)) return d;
    Result<Json> written = client.put(path, updated);
    if (written.ok() || written.error().code != ErrorCode::Conflict || attempt == 4) return written;
  }
}

// The Deployment's ReplicaSets by revision.
Result<std::map<int64_t, Json>> replicasets_by_revision(api::ApiClient& client, const Json& d,
                                                        const std::string& ns) {
  const std::string labels = label_selector_text(json_at(json_at(d, "spec"), "selector"));
  Result<Json> list =
      client.get("/apis/apps/v1/namespaces/" + ns + "/replicasets" + selector_query(labels, {}));
  if (!list.ok()) return list.error();
  std::map<int64_t, Json> out;
  const std::string uid = str(d["metadata"]["uid"]);
  for (Json& rs : list.value()["items"]) {
    bool owned = false;
    for (const Json& ref : json_at(rs["metadata"], "ownerReferences"))
      owned = owned || (json_at(ref, "controller") == true && str(json_at(ref, "uid")) == uid);
    const int64_t revision = revision_of(rs);  // before the move below
    if (owned) out[revision] = std::move(rs);
  }
  return out;
}

// A ReplicaSet's template as the Deployment would carry it: without what the controller adds.
Json deployment_template(Json tmpl) {
  Json& meta = tmpl["metadata"];
  if (meta.contains("labels")) meta["labels"].erase("pod-template-hash");
  if (meta.contains("annotations")) {
    meta["annotations"].erase("ticketctl.dev/config-hash");
    if (meta["annotations"].empty()) meta.erase("annotations");
  }
  return tmpl;
}

bool same_ignoring_order(const Json& a, const Json& b) {
  return nlohmann::json::parse(a.dump()) == nlohmann::json::parse(b.dump());
}

int run_restart(api::ApiClient& client, const ObjectRef& ref, const std::string& ns) {
  const std::string now = rfc3339::now_local();
  Result<Json> written = update_deployment(client, ref.resource->path(ns, ref.name), [&](Json& d) {
    if (d["spec"].value("paused", false)) return false;
    d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] = now;
    return true;
  });
  if (!written.ok()) {
    std::cerr << server_error(written.error()) << '\n';
    return kExitFailure;
  }
  if (written.value()["spec"].value("paused", false)) {
    std::cerr << "error: can't restart paused deployment (run rollout resume first)\n";
    return kExitFailure;
  }
  std::cout << ref.resource->kubectl_kind() << '/' << ref.name << " restarted\n";
  return kExitOk;
}

int run_history(api::ApiClient& client, const ObjectRef& ref, const std::string& ns,
                int64_t revision) {
  Result<Json> d = client.get(ref.resource->path(ns, ref.name));
  if (!d.ok()) {
    std::cerr << server_error(d.error()) << '\n';
    return kExitFailure;
  }
  Result<std::map<int64_t, Json>> history = replicasets_by_revision(client, d.value(), ns);
  if (!history.ok()) {
    std::cerr << server_error(history.error()) << '\n';
    return kExitFailure;
  }
  const std::string shown = ref.resource->kubectl_kind() + "/" + ref.name;
  if (revision > 0) {
    auto it = history.value().find(revision);
    if (it == history.value().end()) {
      std::cerr << "error: unable to find the specified revision\n";
      return kExitFailure;
    }
    std::cout << shown << " with revision #" << revision << "\nPod Template:\n";
    const std::string yaml = manifest::to_yaml(deployment_template(it->second["spec"]["template"]));
    size_t start = 0;
    while (start < yaml.size()) {
      const size_t eol = yaml.find('\n', start);
      std::cout << "  " << yaml.substr(start, eol - start) << '\n';
      if (eol == std::string::npos) break;
      start = eol + 1;
    }
    return kExitOk;
  }
  std::cout << shown << " \nREVISION  CHANGE-CAUSE\n";
  for (const auto& [rev, rs] : history.value()) {
    if (rev == 0) continue;
    std::string cause = str(json_at(json_at(rs["metadata"], "annotations"), kChangeCause));
    if (cause.empty()) cause = "<none>";
    const std::string number = std::to_string(rev);
    std::cout << number << std::string(number.size() < 8 ? 10 - number.size() : 2, ' ') << cause
              << '\n';
  }
  std::cout << '\n';
  return kExitOk;
}

int run_undo(api::ApiClient& client, const ObjectRef& ref, const std::string& ns,
             int64_t to_revision) {
  const std::string path = ref.resource->path(ns, ref.name);
  Result<Json> d = client.get(path);
  if (!d.ok()) {
    std::cerr << server_error(d.error()) << '\n';
    return kExitFailure;
  }
  Result<std::map<int64_t, Json>> history = replicasets_by_revision(client, d.value(), ns);
  if (!history.ok()) {
    std::cerr << server_error(history.error()) << '\n';
    return kExitFailure;
  }
  history.value().erase(0);
  const Json* target = nullptr;
  if (to_revision == 0) {
    // The previous revision: the second highest, as kubectl picks it.
    if (history.value().size() < 2) {
      std::cerr << "error: no rollout history found for deployment \"" << ref.name << "\"\n";
      return kExitFailure;
    }
    target = &std::prev(history.value().end(), 2)->second;
    to_revision = std::prev(history.value().end(), 2)->first;
  } else {
    auto it = history.value().find(to_revision);
    if (it == history.value().end()) {
      std::cerr << "error: unable to find specified revision " << to_revision << " in history\n";
      return kExitFailure;
    }
    target = &it->second;
  }
  const Json tmpl = deployment_template((*target)["spec"]["template"]);
  const std::string shown = ref.resource->kubectl_kind() + "/" + ref.name;
  if (same_ignoring_order(tmpl, d.value()["spec"]["template"])) {
    std::cout << shown << " skipped rollback (current template already matches revision "
              << to_revision << ")\n";
    return kExitOk;
  }
  const Json cause = json_at(json_at((*target)["metadata"], "annotations"), kChangeCause);
  Result<Json> written = update_deployment(client, path, [&](Json& o) {
    o["spec"]["template"] = tmpl;
    if (cause.is_string())
      o["metadata"]["annotations"][kChangeCause] = cause;
    else if (o["metadata"].contains("annotations"))
      o["metadata"]["annotations"].erase(kChangeCause);
    return true;
  });
  if (!written.ok()) {
    std::cerr << server_error(written.error()) << '\n';
    return kExitFailure;
  }
  std::cout << shown << " rolled back\n";
  return kExitOk;
}

}  // namespace

Handler attach_rollout(CLI::App& verb) {
  auto a = std::make_shared<RolloutArgs>();
  verb.require_subcommand(1);
  auto common = [a](CLI::App* sub) {
    sub->add_option("resource", a->words, "deploy/NAME or deployment NAME")->required();
    sub->add_option("-n,--namespace", a->ns, "Namespace")->capture_default_str();
    a->state.attach(*sub);
  };
  CLI::App* restart = verb.add_subcommand(
      "restart", "Roll every pod: sets the template's kubectl.kubernetes.io/restartedAt");
  common(restart);
  CLI::App* status =
      verb.add_subcommand("status", "Follow the rollout until it is done (exit 0) or times out");
  common(status);
  status->add_option("--timeout", a->timeout, "Give up after this long (e.g. 60s); 0: never")
      ->capture_default_str();
  CLI::App* history = verb.add_subcommand("history", "List revisions and their change causes");
  common(history);
  history->add_option("--revision", a->revision, "Show the pod template of this revision");
  CLI::App* undo = verb.add_subcommand("undo", "Go back to the previous (or a given) revision");
  common(undo);
  undo->add_option("--to-revision", a->revision, "The revision to go back to; 0: the previous");
  return [a, restart, status, history, undo] {
    Result<std::vector<ObjectRef>> refs = parse_object_refs(a->words);
    if (!refs.ok()) {
      std::cerr << "error: " << refs.error().message << '\n';
      return kExitUsage;
    }
    int code = kExitOk;
    const ObjectRef* ref = single_deployment(refs.value(), code);
    if (!ref) return code;
    Result<std::chrono::milliseconds> timeout = parse_duration(a->timeout);
    if (!timeout.ok()) {
      std::cerr << "error: " << timeout.error().message << '\n';
      return kExitUsage;
    }
    Result<api::ApiClient> client = a->state.connect();
    if (!client.ok()) {
      std::cerr << "error: " << client.error().message << '\n';
      return kExitFailure;
    }
    if (restart->parsed()) return run_restart(client.value(), *ref, a->ns);
    if (status->parsed()) return rollout_status(client.value(), *ref, a->ns, timeout.value());
    if (history->parsed()) return run_history(client.value(), *ref, a->ns, a->revision);
    if (undo->parsed()) return run_undo(client.value(), *ref, a->ns, a->revision);
    return kExitUsage;
  };
}

}  // namespace ticketctl::cli
