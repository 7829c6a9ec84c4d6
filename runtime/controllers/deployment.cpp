#include "runtime/controllers/deployment.h"

#include <fmt/format.h>

#include "runtime/controllers/events.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <set>

namespace ticketctl::controllers {
namespace {

constexpr std::string_view kSafeAlphabet = "bcdfghjklmnpqrstvwxz2456789";
constexpr const char* kHashLabel = "pod-template-hash";

constexpr auto field = &json_at;

std::string str(const Json& v) {
  return v.is_string() ? v.get<std::string>() : std::string();
}

// The uid of the controller owning `object`, if any.
std::string controller_uid(const Json& object) {
  for (const Json& ref : field(field(object, "metadata"), "ownerReferences"))
    if (field(ref, "controller") == true) return str(field(ref, "uid"));
  return {};
}

Json owner_reference(const Json& owner) {
  return {{"apiVersion", owner["apiVersion"]},
          {"kind", owner["kind"]},
          {"name", owner["metadata"]["name"]},
          {"uid", owner["metadata"]["uid"]},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

int64_t replicas_of(const Json& object) {
  const Json& r = field(field(object, "spec"), "replicas");
  return r.is_number_integer() ? r.get<int64_t>() : 1;
}

}  // namespace

std::string pod_template_hash(const Json& pod_template) {
  uint32_t h = 2166136261u;
  for (unsigned char c : pod_template.dump()) {
    h ^= c;
    h *= 16777619u;
  }
  std::string out;
  for (char digit : std::to_string(h))
    out += kSafeAlphabet[static_cast<unsigned char>(digit) % kSafeAlphabet.size()];
  return out;
}

DeploymentController::DeploymentController(store::Store& store, uint64_t seed)
    : store_(store), rng_(seed) {}

std::string DeploymentController::random_suffix() {
  std::string s;
  for (int i = 0; i < 5; ++i) s += kSafeAlphabet[rng_() % kSafeAlphabet.size()];
  return s;
}

void DeploymentController::record(const Json& object, std::string_view reason,
                                  std::string message) {
  record_event(store_, object, "Normal", reason, std::move(message),
               object["kind"] == "Deployment" ? "deployment-controller" : "replicaset-controller");
}

// Events live an hour, like the API server's default --event-ttl.
int DeploymentController::expire_events() {
  const auto cutoff = std::chrono::system_clock::now() - std::chrono::hours(1);
  int writes = 0;
  for (const Json& e : store_.list("events", "")) {
    std::tm tm{};
    const std::string last = str(field(e, "lastTimestamp"));
    if (!strptime(last.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) continue;
    if (std::chrono::system_clock::from_time_t(timegm(&tm)) >= cutoff) continue;
    if (store_.remove({"events", str(e["metadata"]["namespace"]), str(e["metadata"]["name"])}).ok())
      ++writes;
  }
  return writes;
}

int DeploymentController::reconcile() {
  int writes = 0;
  for (const Json& d : store_.list("deployments.apps", "")) writes += reconcile_deployment(d);
  for (const Json& rs : store_.list("replicasets.apps", "")) writes += reconcile_replicaset(rs);
  writes += collect_orphans("replicasets.apps");
  writes += collect_orphans("pods");
  writes += expire_events();
  return writes;
}

int DeploymentController::reconcile_deployment(const Json& d) {
  int writes = 0;
  const Json& meta = d["metadata"];
  const std::string ns = str(meta["namespace"]), name = str(meta["name"]), uid = str(meta["uid"]);
  Json tmpl = d["spec"]["template"];
  const std::string hash = pod_template_hash(tmpl);
  tmpl["metadata"]["labels"][kHashLabel] = hash;
  Json selector = d["spec"]["selector"];
  selector["matchLabels"][kHashLabel] = hash;
  const std::string rs_name = fmt::format("{}-{}", name, hash);
  const int64_t replicas = replicas_of(d);

  // The current revision's ReplicaSet carries the desired replicas; older ones go to zero.
  // Pods do not run yet, so there is no readiness to wait for between the two.
  std::vector<Json> owned;
  for (Json& rs : store_.list("replicasets.apps", ns))
    if (controller_uid(rs) == uid) owned.push_back(std::move(rs));
  bool have_current = false;
  for (Json& rs : owned) {
    if (str(rs["metadata"]["name"]) == rs_name) {
      have_current = true;
      if (replicas_of(rs) != replicas) {
        const int64_t from = replicas_of(rs);
        rs["spec"]["replicas"] = replicas;
        if (store_.update("replicasets.apps", rs).ok()) {
          ++writes;
          record(d, "ScalingReplicaSet",
                 fmt::format("Scaled {} replica set {} from {} to {}",
                             replicas > from ? "up" : "down", rs_name, from, replicas));
        }
      }
    } else if (replicas_of(rs) != 0) {
      const int64_t from = replicas_of(rs);
      rs["spec"]["replicas"] = 0;
      if (store_.update("replicasets.apps", rs).ok()) {
        ++writes;
        record(d, "ScalingReplicaSet",
               fmt::format("Scaled down replica set {} from {} to 0", str(rs["metadata"]["name"]),
                           from));
      }
    }
  }
  if (!have_current) {
    Json labels = tmpl["metadata"]["labels"];
    Json rs = {{"apiVersion", "apps/v1"},
               {"kind", "ReplicaSet"},
               {"metadata",
                {{"name", rs_name},
                 {"namespace", ns},
                 {"labels", labels},
                 {"annotations",
                  {{"deployment.kubernetes.io/desired-replicas", std::to_string(replicas)}}},
                 {"ownerReferences", {owner_reference(d)}}}},
               {"spec", {{"replicas", replicas}, {"selector", selector}, {"template", tmpl}}}};
    if (store_.create("replicasets.apps", std::move(rs)).ok()) {
      ++writes;
      record(d, "ScalingReplicaSet",
             fmt::format("Scaled up replica set {} to {}", rs_name, replicas));
    }
  }
  // Old ReplicaSets beyond revisionHistoryLimit (default 10) are deleted, oldest first.
  const Json& limit_v = field(d["spec"], "revisionHistoryLimit");
  const size_t limit = limit_v.is_number_integer() ? limit_v.get<size_t>() : 10;
  std::vector<Json> old;
  for (const Json& rs : owned)
    if (str(rs["metadata"]["name"]) != rs_name) old.push_back(rs);
  std::sort(old.begin(), old.end(), [](const Json& a, const Json& b) {
    return std::stoll(str(a["metadata"]["resourceVersion"])) <
           std::stoll(str(b["metadata"]["resourceVersion"]));
  });
  for (size_t i = 0; old.size() > limit && i < old.size() - limit; ++i)
    if (store_.remove({"replicasets.apps", ns, str(old[i]["metadata"]["name"])}).ok()) ++writes;

  // Status as `get deployments` reads it; nothing is ready or available until pods run.
  int64_t total = 0, updated = 0;
  for (const Json& rs : store_.list("replicasets.apps", ns)) {
    if (controller_uid(rs) != uid) continue;
    const int64_t n = field(field(rs, "status"), "replicas").is_number_integer()
                          ? rs["status"]["replicas"].get<int64_t>()
                          : 0;
    total += n;
    if (str(rs["metadata"]["name"]) == rs_name) updated = n;
  }
  Json status = {{"observedGeneration", meta.value("generation", int64_t{1})},
                 {"replicas", total},
                 {"updatedReplicas", updated},
                 {"readyReplicas", 0},
                 {"availableReplicas", 0},
                 {"unavailableReplicas", total}};
  if (field(d, "status") != status &&
      store_.update_status({"deployments.apps", ns, name}, status).ok())
    ++writes;
  return writes;
}

int DeploymentController::reconcile_replicaset(const Json& rs) {
  int writes = 0;
  const Json& meta = rs["metadata"];
  const std::string ns = str(meta["namespace"]), name = str(meta["name"]), uid = str(meta["uid"]);
  std::vector<Json> pods;
  for (Json& p : store_.list("pods", ns))
    if (controller_uid(p) == uid) pods.push_back(std::move(p));
  const int64_t want = replicas_of(rs);
  for (int64_t i = static_cast<int64_t>(pods.size()); i < want; ++i) {
    const Json& tmpl = rs["spec"]["template"];
    Json pod_meta = tmpl.value("metadata", Json::object());
    pod_meta.erase("name");
    pod_meta["namespace"] = ns;
    pod_meta["ownerReferences"] = {owner_reference(rs)};
    Json pod = {{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata", pod_meta},
                {"spec", tmpl["spec"]},
                {"status", {{"phase", "Pending"}}}};
    // A name already taken (five random characters) just means another draw.
    for (int attempt = 0; attempt < 5; ++attempt) {
      pod["metadata"]["name"] = fmt::format("{}-{}", name, random_suffix());
      if (store_.create("pods", pod).ok()) {
        ++writes;
        record(rs, "SuccessfulCreate",
               fmt::format("Created pod: {}", str(pod["metadata"]["name"])));
        break;
      }
    }
  }
  // Too many: the newest go first, as the ReplicaSet controller prefers to keep older pods.
  std::sort(pods.begin(), pods.end(), [](const Json& a, const Json& b) {
    return std::stoll(str(a["metadata"]["resourceVersion"])) >
           std::stoll(str(b["metadata"]["resourceVersion"]));
  });
  for (size_t i = 0; static_cast<int64_t>(pods.size() - i) > want && i < pods.size(); ++i) {
    const std::string pod_name = str(pods[i]["metadata"]["name"]);
    if (!store_.remove({"pods", ns, pod_name}).ok()) continue;
    ++writes;
    record(rs, "SuccessfulDelete", fmt::format("Deleted pod: {}", pod_name));
  }

  int64_t count = 0;
  for (const Json& p : store_.list("pods", ns))
    if (controller_uid(p) == uid) ++count;
  Json status = {{"replicas", count}, {"observedGeneration", meta.value("generation", int64_t{1})}};
  if (field(rs, "status") != status &&
      store_.update_status({"replicasets.apps", ns, name}, status).ok())
    ++writes;
  return writes;
}

int DeploymentController::collect_orphans(const std::string& resource) {
  // Owners live in the same namespace; gather every uid once.
  std::set<std::string> uids;
  for (const char* owner_resource : {"deployments.apps", "replicasets.apps"})
    for (const Json& o : store_.list(owner_resource, "")) uids.insert(str(o["metadata"]["uid"]));
  int writes = 0;
  for (const Json& o : store_.list(resource, "")) {
    const std::string owner = controller_uid(o);
    if (owner.empty() || uids.count(owner)) continue;
    if (store_.remove({resource, str(o["metadata"]["namespace"]), str(o["metadata"]["name"])}).ok())
      ++writes;
  }
  return writes;
}

}  // namespace ticketctl::controllers
