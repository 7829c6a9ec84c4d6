#include "runtime/controllers/deployment.h"

#include <fmt/format.h>

#include "runtime/api/defaults.h"
#include "runtime/controllers/deployment_internal.h"
#include "runtime/core/rfc3339.h"
#include "runtime/events/events.h"
#include "runtime/manifest/label_selector.h"
#include "runtime/manifest/reasons.h"
#include "runtime/store/pod_deletion.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <optional>
#include <set>

namespace ticketctl::controllers {

using namespace detail;  // shared with deployment_template.cpp

struct DeploymentController::Counts {
  int64_t active = 0, ready = 0, available = 0, fully_labeled = 0;
};

DeploymentController::DeploymentController(store::Store& store, uint64_t seed)
    : store_(store), rng_(seed) {}

std::string DeploymentController::random_suffix() {
  std::string s;
  for (int i = 0; i < 5; ++i) s += kSafeAlphabet[rng_() % kSafeAlphabet.size()];
  return s;
}

void DeploymentController::requeue_in(milliseconds delay) {
  requeue_after_ = std::min(requeue_after_, std::max(delay, milliseconds(50)));
}

void DeploymentController::record(const Json& object, std::string_view reason,
                                  std::string message) {
  events::record_event(
      store_, object, "Normal", reason, std::move(message),
      object["kind"] == "Deployment" ? "deployment-controller" : "replicaset-controller");
}

// Events live an hour, like the API server's default --event-ttl.
int DeploymentController::expire_events() {
  const auto cutoff = now_ - std::chrono::hours(1);
  int writes = 0;
  for (const store::ObjectRef& ref : store_.items("events", "")) {
    const Json& e = *ref;
    const auto last = parse_time(str(field(e, "lastTimestamp")));
    if (!last || *last >= cutoff) continue;
    if (store_.remove({"events", str(e["metadata"]["namespace"]), str(e["metadata"]["name"])}).ok())
      ++writes;
  }
  return writes;
}

int DeploymentController::reconcile() {
  now_ = Clock::now();
  requeue_after_ = milliseconds::max();
  int writes = 0;
  // Deployments read pods (to count available ones) but do not write them: one listing serves.
  // ReplicaSets do not change pods of other ReplicaSets either: the same listing serves them.
  const auto by_owner = [this](const char* resource) {
    ByOwner out;
    for (store::ObjectRef& o : store_.items(resource, "")) {
      std::string owner = controller_uid(*o);
      if (!owner.empty()) out[std::move(owner)].push_back(std::move(o));
    }
    return out;
  };
  const ByOwner pods_by_owner = by_owner("pods");
  // An object whose inputs are what they were when its last pass wrote nothing is passed over
  // until kRecheck has passed (progress deadlines and availability depend on time too): during
  // a burst a pass over every Deployment per round made an apply of hundreds of objects
  // quadratic. Inputs: the object, what it owns, their pods, and for a Deployment the
  // ConfigMaps and Secrets (its template's config hash reads them).
  const uint64_t config = store_.changes_of("configmaps") * 1000003u + store_.changes_of("secrets");
  const auto fingerprint = [&](const Json& o, uint64_t seed, const ByOwner& children,
                               const ByOwner* grandchildren) {
    uint64_t h =
        fnv64(str(field(field(o, "metadata"), "resourceVersion")), 14695981039346656037ull ^ seed);
    auto mine = children.find(str(field(field(o, "metadata"), "uid")));
    if (mine == children.end()) return h;
    for (const store::ObjectRef& c : mine->second) {
      const Json& meta = field(*c, "metadata");
      h = fnv64(str(field(meta, "resourceVersion")), h ^ 0x9e3779b97f4a7c15ull);
      if (!grandchildren) continue;
      if (auto g = grandchildren->find(str(field(meta, "uid"))); g != grandchildren->end())
        for (const store::ObjectRef& p : g->second)
          h = fnv64(str(field(field(*p, "metadata"), "resourceVersion")), h);
    }
    return h;
  };
  const auto pass = [&](std::map<std::string, Settled>& settled, const store::ObjectRef& o,
                        uint64_t print, const auto& reconcile_one) {
    const std::string uid = str(field(field(*o, "metadata"), "uid"));
    if (auto it = settled.find(uid); it != settled.end() && it->second.fingerprint == print &&
                                     now_ < it->second.recheck_at && now_ < it->second.requeue_at) {
      if (it->second.requeue_at != kNever)
        requeue_in(std::chrono::duration_cast<milliseconds>(it->second.requeue_at - now_));
      return 0;
    }
    const milliseconds outer = requeue_after_;
    requeue_after_ = milliseconds::max();
    const int n = reconcile_one(*o);
    const milliseconds own = requeue_after_;
    requeue_after_ = std::min(outer, own);
    if (n == 0)
      settled[uid] = {print, now_ + kRecheck, own == milliseconds::max() ? kNever : now_ + own};
    else
      settled.erase(uid);
    return n;
  };
  {
    const ByOwner replicasets_by_owner = by_owner("replicasets.apps");
    std::set<std::string> present;
    for (const store::ObjectRef& d : store_.items("deployments.apps", "")) {
      present.insert(str(field(field(*d, "metadata"), "uid")));
      writes +=
          pass(settled_deployments_, d,
               fingerprint(*d, config, replicasets_by_owner, &pods_by_owner), [&](const Json& o) {
                 return reconcile_deployment(o, pods_by_owner, replicasets_by_owner);
               });
    }
    std::erase_if(settled_deployments_, [&](const auto& e) { return !present.count(e.first); });
  }
  std::set<std::string> present;
  for (const store::ObjectRef& rs : store_.items("replicasets.apps", "")) {
    present.insert(str(field(field(*rs, "metadata"), "uid")));
    writes += pass(settled_replicasets_, rs, fingerprint(*rs, 0, pods_by_owner, nullptr),
                   [&](const Json& o) { return reconcile_replicaset(o, pods_by_owner); });
  }
  std::erase_if(settled_replicasets_, [&](const auto& e) { return !present.count(e.first); });
  writes += collect_orphans("replicasets.apps");
  writes += collect_orphans("pods");
  // Events live an hour: a look a minute is enough.
  if (now_ >= next_expiry_) {
    writes += expire_events();
    next_expiry_ = now_ + std::chrono::minutes(1);
  }
  return writes;
}

DeploymentController::Counts DeploymentController::count_pods(
    const std::vector<store::ObjectRef>& pods, int64_t min_ready_seconds, const Json& labels) {
  Counts n;
  for (const store::ObjectRef& ref : pods) {
    const Json& p = *ref;
    if (!pod_active(p)) continue;
    ++n.active;
    if (manifest::labels_match(labels, field(p["metadata"], "labels"))) ++n.fully_labeled;
    const auto since = ready_since(p);
    if (!since) continue;
    ++n.ready;
    const auto available_at = *since + std::chrono::seconds(min_ready_seconds);
    if (min_ready_seconds <= 0 || available_at <= now_)
      ++n.available;
    else
      requeue_in(std::chrono::duration_cast<milliseconds>(available_at - now_));
  }
  return n;
}

bool DeploymentController::scale_replicaset(const Json& d, Json& rs, int64_t replicas,
                                            int64_t max_surge) {
  const int64_t from = replicas_of(rs);
  const int64_t desired = replicas_of(d);
  Json& annotations = rs["metadata"]["annotations"];
  const std::string desired_text = std::to_string(desired);
  const std::string max_text = std::to_string(desired + max_surge);
  if (from == replicas && str(field(annotations, kDesiredAnnotation)) == desired_text &&
      str(field(annotations, kMaxAnnotation)) == max_text)
    return false;
  rs["spec"]["replicas"] = replicas;
  rs["metadata"]["annotations"][kDesiredAnnotation] = desired_text;
  rs["metadata"]["annotations"][kMaxAnnotation] = max_text;
  Result<Json> written = store_.update("replicasets.apps", rs);
  if (!written.ok()) return false;
  rs = std::move(written.value());
  if (from != replicas)
    record(d, "ScalingReplicaSet",
           fmt::format("Scaled {} replica set {} from {} to {}", replicas > from ? "up" : "down",
                       str(rs["metadata"]["name"]), from, replicas));
  return true;
}

int DeploymentController::reconcile_deployment(const Json& d, const ByOwner& pods_by_owner,
                                               const ByOwner& replicasets_by_owner) {
  int writes = 0;
  const Json& meta = d["metadata"];
  const std::string ns = str(meta["namespace"]), name = str(meta["name"]), uid = str(meta["uid"]);
  const Json& spec = d["spec"];
  const int64_t replicas = replicas_of(d);
  const int64_t min_ready = int_or(field(spec, "minReadySeconds"), 0);
  const bool recreate = str(field(field(spec, "strategy"), "type")) == "Recreate";
  const bool paused = field(spec, "paused") == true;
  const Fenceposts fence = resolve_fenceposts(d);
  const int64_t max_unavailable = std::min(fence.max_unavailable, replicas);

  Json tmpl = effective_template(store_, d);
  std::string hash = pod_template_hash(tmpl);
  tmpl["metadata"]["labels"][kHashLabel] = hash;
  std::string new_name = replicaset_name(name, hash);

  // The new ReplicaSet is the one of the current template; the others are old, oldest first.
  std::vector<Json> old;
  std::optional<Json> current;
  if (auto mine = replicasets_by_owner.find(uid); mine != replicasets_by_owner.end()) {
    for (const store::ObjectRef& rs : mine->second) {
      if (str(field(rs->at("metadata"), "name")) == new_name)
        current = *rs;
      else
        old.push_back(*rs);
    }
  }
  if (!current) {
    // Else found by its template's content, as Kubernetes' FindNewReplicaSet does: a ReplicaSet
    // named by an earlier hash function, or stored before API defaulting, is still this
    // template's. It keeps its name and hash, which its selector and pods carry.
    for (auto it = old.begin(); it != old.end(); ++it) {
      if (!same_template_but_defaults(field(field(*it, "spec"), "template"), tmpl)) continue;
      current = std::move(*it);
      old.erase(it);
      new_name = str(field(current->at("metadata"), "name"));
      hash = str(field(field(field(field(current->at("spec"), "template"), "metadata"), "labels"),
                       kHashLabel));
      tmpl["metadata"]["labels"][kHashLabel] = hash;
      break;
    }
  }
  std::sort(old.begin(), old.end(), [](const Json& a, const Json& b) {
    const int64_t ra = revision_of(a), rb = revision_of(b);
    if (ra != rb) return ra < rb;
    return str(a["metadata"]["creationTimestamp"]) < str(b["metadata"]["creationTimestamp"]);
  });
  int64_t max_old_revision = 0;
  for (const Json& rs : old) max_old_revision = std::max(max_old_revision, revision_of(rs));
  const int64_t new_revision = max_old_revision + 1;

  static const std::vector<store::ObjectRef> kNoPods;
  auto pods_of = [&](const Json& rs) -> const std::vector<store::ObjectRef>& {
    auto it = pods_by_owner.find(str(rs["metadata"]["uid"]));
    return it == pods_by_owner.end() ? kNoPods : it->second;
  };
  auto counts_of = [&](const Json& rs) {
    return count_pods(
        pods_of(rs), min_ready,
        field(field(field(rs, "spec"), "template"), "metadata").value("labels", Json::object()));
  };

  Json status_conditions = field(field(d, "status"), "conditions");
  if (!status_conditions.is_array()) status_conditions = Json::array();

  // An existing new ReplicaSet (also one an undo brought back) takes the next revision and the
  // Deployment's annotations, as Kubernetes' getNewReplicaSet does.
  if (current) {
    Json rs = *current;
    if (revision_of(rs) < new_revision)
      rs["metadata"]["annotations"][kRevisionAnnotation] = std::to_string(new_revision);
    for (const auto& [k, v] : field(meta, "annotations").items())
      if (copied_to_replicaset(k)) rs["metadata"]["annotations"][k] = v;
    if (int_or(field(rs["spec"], "minReadySeconds"), 0) != min_ready)
      rs["spec"]["minReadySeconds"] = min_ready;
    if (rs != *current) {
      if (Result<Json> w = store_.update("replicasets.apps", rs); w.ok()) {
        ++writes;
        current = std::move(w.value());
      }
    }
    if (!find_condition(status_conditions, reasons::kProgressing))
      set_condition(status_conditions,
                    condition(reasons::kProgressing, true, reasons::kFoundNewReplicaSet,
                              fmt::format("Found new replica set \"{}\"", new_name)));
  }

  auto create_new = [&](int64_t size) {
    Json annotations = Json::object();
    for (const auto& [k, v] : field(meta, "annotations").items())
      if (copied_to_replicaset(k)) annotations[k] = v;
    annotations[kDesiredAnnotation] = std::to_string(replicas);
    annotations[kMaxAnnotation] = std::to_string(replicas + fence.max_surge);
    annotations[kRevisionAnnotation] = std::to_string(new_revision);
    Json selector = spec["selector"];
    selector["matchLabels"][kHashLabel] = hash;
    Json rs_spec = {{"replicas", size}, {"selector", selector}, {"template", tmpl}};
    if (min_ready > 0) rs_spec["minReadySeconds"] = min_ready;
    Json rs = {{"apiVersion", "apps/v1"},
               {"kind", "ReplicaSet"},
               {"metadata",
                {{"name", new_name},
                 {"namespace", ns},
                 {"labels", tmpl["metadata"]["labels"]},
                 {"annotations", annotations},
                 {"ownerReferences", {owner_reference(d)}}}},
               {"spec", rs_spec}};
    Result<Json> created = store_.create("replicasets.apps", std::move(rs));
    if (!created.ok()) return;
    ++writes;
    current = std::move(created.value());
    record(d, "ScalingReplicaSet", fmt::format("Scaled up replica set {} to {}", new_name, size));
    set_condition(status_conditions,
                  condition(reasons::kProgressing, true, reasons::kNewReplicaSetCreated,
                            fmt::format("Created new replica set \"{}\"", new_name)));
  };
  auto spec_total = [&] {
    int64_t n = current ? replicas_of(*current) : 0;
    for (const Json& rs : old) n += replicas_of(rs);
    return n;
  };

  if (paused) {
    // A paused Deployment only follows spec.replicas on its current ReplicaSet.
    if (current && scale_replicaset(d, *current, replicas, fence.max_surge)) ++writes;
  } else if (recreate) {
    bool scaled_down = false;
    for (Json& rs : old)
      if (replicas_of(rs) != 0 && scale_replicaset(d, rs, 0, 0)) {
        ++writes;
        scaled_down = true;
      }
    // The new pods start only once every old pod is gone from the store: a Terminating one
    // still runs (Kubernetes' oldPodsRunning counts every pod not Succeeded or Failed).
    bool old_pods = false;
    for (const Json& rs : old)
      for (const store::ObjectRef& p : pods_of(rs)) {
        const std::string phase = str(field(field(*p, "status"), "phase"));
        old_pods = old_pods || (phase != "Succeeded" && phase != "Failed");
      }
    if (!scaled_down && !old_pods) {
      if (!current)
        create_new(replicas);
      else if (scale_replicaset(d, *current, replicas, 0))
        ++writes;
    }
  } else {
    // Rolling update, step by step as Kubernetes' rolling.go: first grow the new ReplicaSet
    // within maxSurge, then shrink the old ones within maxUnavailable.
    auto new_size = [&]() -> int64_t {
      const int64_t have = current ? replicas_of(*current) : 0;
      const int64_t max_total = replicas + fence.max_surge;
      const int64_t total = spec_total();
      if (total >= max_total) return have;
      return have + std::min(max_total - total, replicas - have);
    };
    bool scaled_up = false;
    if (!current) {
      create_new(std::max<int64_t>(new_size(), 0));
      scaled_up = true;
    } else if (replicas_of(*current) > replicas) {
      if (scale_replicaset(d, *current, replicas, fence.max_surge)) ++writes;
    } else if (replicas_of(*current) < replicas) {
      const int64_t to = new_size();
      scaled_up = to != replicas_of(*current);
      if (scale_replicaset(d, *current, to, fence.max_surge)) ++writes;
    }
    int64_t old_total = 0;
    for (const Json& rs : old) old_total += replicas_of(rs);
    if (!scaled_up && current && old_total > 0) {
      const int64_t min_available = replicas - max_unavailable;
      const Counts new_counts = counts_of(*current);
      const int64_t new_unavailable = replicas_of(*current) - new_counts.available;
      int64_t max_scaled_down = spec_total() - min_available - new_unavailable;
      if (max_scaled_down > 0) {
        // Old ReplicaSets' unavailable pods go first: removing them costs no availability.
        int64_t cleaned = 0;
        for (Json& rs : old) {
          if (cleaned >= max_scaled_down) break;
          const int64_t want = replicas_of(rs);
          const int64_t available = counts_of(rs).available;
          if (want == 0 || want <= available) continue;
          const int64_t n = std::min(max_scaled_down - cleaned, want - available);
          if (scale_replicaset(d, rs, want - n, fence.max_surge)) ++writes;
          cleaned += n;
        }
        // Then available ones, as far as the available total stays above the minimum.
        int64_t available_total = new_counts.available;
        for (const Json& rs : old) available_total += counts_of(rs).available;
        int64_t to_remove = available_total - min_available;
        for (Json& rs : old) {
          if (to_remove <= 0) break;
          const int64_t want = replicas_of(rs);
          if (want == 0) continue;
          const int64_t n = std::min(want, to_remove);
          if (scale_replicaset(d, rs, want - n, fence.max_surge)) ++writes;
          to_remove -= n;
        }
      }
    }
  }

  // Status, from the pods as they are now; the replica counts of the ReplicaSets as written.
  int64_t spec_sum = 0;
  Counts all, updated;
  for (const Json& rs : old) {
    spec_sum += replicas_of(rs);
    const Counts c = counts_of(rs);
    all.active += c.active;
    all.ready += c.ready;
    all.available += c.available;
  }
  if (current) {
    spec_sum += replicas_of(*current);
    updated = counts_of(*current);
    all.active += updated.active;
    all.ready += updated.ready;
    all.available += updated.available;
  }
  const int64_t generation = meta.value("generation", int64_t{1});
  Json status = {{"observedGeneration", generation},
                 {"replicas", all.active},
                 {"updatedReplicas", updated.active},
                 {"readyReplicas", all.ready},
                 {"availableReplicas", all.available},
                 {"unavailableReplicas", std::max<int64_t>(0, spec_sum - all.available)}};
  if (all.available >= replicas - max_unavailable)
    set_condition(status_conditions,
                  condition(reasons::kAvailable, true, reasons::kMinimumReplicasAvailable,
                            "Deployment has minimum availability."));
  else
    set_condition(status_conditions,
                  condition(reasons::kAvailable, false, reasons::kMinimumReplicasUnavailable,
                            "Deployment does not have minimum availability."));

  // Progress, as Kubernetes' syncRolloutStatus judges it.
  const Json& old_status = field(d, "status");
  const Json* progressing = find_condition(status_conditions, reasons::kProgressing);
  const bool complete = updated.active == replicas && all.active == replicas &&
                        all.available == replicas && current.has_value();
  const bool was_complete =
      progressing && str(field(*progressing, "reason")) == reasons::kNewReplicaSetAvailable &&
      all.active == updated.active;
  const Json& deadline = field(spec, "progressDeadlineSeconds");
  const int64_t deadline_seconds = int_or(deadline, 600);
  if (!paused && !was_complete) {
    const int64_t old_rest =
        int_or(field(old_status, "replicas"), 0) - int_or(field(old_status, "updatedReplicas"), 0);
    const bool progressed = updated.active > int_or(field(old_status, "updatedReplicas"), 0) ||
                            all.active - updated.active < old_rest ||
                            all.ready > int_or(field(old_status, "readyReplicas"), 0) ||
                            all.available > int_or(field(old_status, "availableReplicas"), 0);
    if (complete) {
      set_condition(
          status_conditions,
          condition(reasons::kProgressing, true, reasons::kNewReplicaSetAvailable,
                    fmt::format("ReplicaSet \"{}\" has successfully progressed.", new_name)));
    } else if (progressed) {
      Json c = condition(reasons::kProgressing, true, reasons::kReplicaSetUpdated,
                         fmt::format("ReplicaSet \"{}\" is progressing.", new_name));
      // Progress moves lastUpdateTime, even with the same reason; the transition stays.
      for (auto it = status_conditions.begin(); it != status_conditions.end(); ++it) {
        if ((*it)["type"] != reasons::kProgressing) continue;
        if ((*it)["status"] == "True") c["lastTransitionTime"] = (*it)["lastTransitionTime"];
        status_conditions.erase(it);
        break;
      }
      status_conditions.push_back(std::move(c));
    } else if (progressing &&
               str(field(*progressing, "reason")) != reasons::kProgressDeadlineExceeded) {
      const auto since = parse_time(str(field(*progressing, "lastUpdateTime")));
      if (since) {
        const auto expires = *since + std::chrono::seconds(deadline_seconds);
        if (now_ > expires)
          set_condition(
              status_conditions,
              condition(reasons::kProgressing, false, reasons::kProgressDeadlineExceeded,
                        fmt::format("ReplicaSet \"{}\" has timed out progressing.", new_name)));
        else
          requeue_in(std::chrono::duration_cast<milliseconds>(expires - now_) +
                     std::chrono::seconds(1));
      }
    }
  }
  status["conditions"] = status_conditions;

  // The Deployment shows its current revision, as `kubectl describe` and `rollout` read it.
  if (current) {
    const std::string revision = std::to_string(revision_of(*current));
    if (str(field(field(meta, "annotations"), kRevisionAnnotation)) != revision) {
      Json updated_d = d;
      updated_d["metadata"]["annotations"][kRevisionAnnotation] = revision;
      updated_d.erase("status");
      if (store_.update("deployments.apps", std::move(updated_d)).ok()) ++writes;
    }
  }
  if (field(d, "status") != status &&
      store_.update_status({"deployments.apps", ns, name}, status).ok())
    ++writes;

  // Old ReplicaSets beyond revisionHistoryLimit (default 10) are deleted, oldest first; only
  // those already scaled to zero with no pods left.
  const size_t limit =
      static_cast<size_t>(std::max<int64_t>(0, int_or(field(spec, "revisionHistoryLimit"), 10)));
  std::vector<const Json*> idle;
  for (const Json& rs : old)
    if (replicas_of(rs) == 0 && counts_of(rs).active == 0) idle.push_back(&rs);
  for (size_t i = 0; idle.size() > limit && i < idle.size() - limit; ++i)
    if (store_.remove({"replicasets.apps", ns, str((*idle[i])["metadata"]["name"])}).ok()) ++writes;
  return writes;
}

int DeploymentController::reconcile_replicaset(const Json& rs, const ByOwner& pods_by_owner) {
  int writes = 0;
  const Json& meta = rs["metadata"];
  const std::string ns = str(meta["namespace"]), name = str(meta["name"]), uid = str(meta["uid"]);
  std::vector<store::ObjectRef> pods;
  if (auto mine = pods_by_owner.find(uid); mine != pods_by_owner.end())
    for (const store::ObjectRef& p : mine->second)
      if (pod_active(*p)) pods.push_back(p);
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
      pod["metadata"]["name"] = generated_pod_name(name, random_suffix());
      Result<Json> created = store_.create("pods", pod);
      if (created.ok()) {
        ++writes;
        record(rs, "SuccessfulCreate",
               fmt::format("Created pod: {}", str(pod["metadata"]["name"])));
        pods.push_back(std::make_shared<const Json>(std::move(created.value())));
        break;
      }
    }
  }
  // Too many: the ones that cost least go first, as the ReplicaSet controller ranks them:
  // pending before running, not ready before ready, ready for less time, more restarts, newer.
  if (static_cast<int64_t>(pods.size()) > want) {
    auto rank = [](const Json& p) {
      const bool pending = str(field(field(p, "status"), "phase")) == "Pending";
      const auto since = ready_since(p);
      int64_t restarts = 0;
      for (const Json& c : field(field(p, "status"), "containerStatuses"))
        restarts += int_or(field(c, "restartCount"), 0);
      return std::make_tuple(!pending, since.has_value(),
                             since ? -since->time_since_epoch().count() : 0, -restarts,
                             str(field(p["metadata"], "creationTimestamp")));
    };
    std::stable_sort(pods.begin(), pods.end(), [&](const auto& a, const auto& b) {
      const auto ra = rank(*a), rb = rank(*b);
      if (std::get<0>(ra) != std::get<0>(rb)) return std::get<0>(ra) < std::get<0>(rb);
      if (std::get<1>(ra) != std::get<1>(rb)) return std::get<1>(ra) < std::get<1>(rb);
      if (std::get<2>(ra) != std::get<2>(rb)) return std::get<2>(ra) < std::get<2>(rb);
      if (std::get<3>(ra) != std::get<3>(rb)) return std::get<3>(ra) < std::get<3>(rb);
      return std::get<4>(ra) > std::get<4>(rb);  // newer first
    });
    const size_t extra = pods.size() - static_cast<size_t>(std::max<int64_t>(want, 0));
    for (size_t i = 0; i < extra; ++i) {
      const std::string pod_name = str((*pods[i])["metadata"]["name"]);
      // Terminating until its processes are gone (the kubelet removes it then), as a
      // ReplicaSet's delete is in Kubernetes.
      if (!store::delete_pod(store_, {"pods", ns, pod_name}, std::nullopt).ok()) continue;
      ++writes;
      record(rs, "SuccessfulDelete", fmt::format("Deleted pod: {}", pod_name));
    }
    pods.erase(pods.begin(), pods.begin() + static_cast<std::ptrdiff_t>(extra));
  }

  const Counts n = count_pods(pods, int_or(field(rs["spec"], "minReadySeconds"), 0),
                              field(field(rs["spec"]["template"], "metadata"), "labels"));
  Json status = {{"replicas", n.active},
                 {"fullyLabeledReplicas", n.fully_labeled},
                 {"readyReplicas", n.ready},
                 {"availableReplicas", n.available},
                 {"observedGeneration", meta.value("generation", int64_t{1})}};
  if (field(rs, "status") != status &&
      store_.update_status({"replicasets.apps", ns, name}, status).ok())
    ++writes;
  return writes;
}

int DeploymentController::collect_orphans(const std::string& resource) {
  // Owners live in the same namespace; gather every uid once.
  std::set<std::string> uids;
  for (const char* owner_resource : {"deployments.apps", "replicasets.apps"})
    for (const store::ObjectRef& o : store_.items(owner_resource, ""))
      uids.insert(str(field(o->at("metadata"), "uid")));
  int writes = 0;
  for (const store::ObjectRef& ref : store_.items(resource, "")) {
    const Json& o = *ref;
    const std::string owner = controller_uid(o);
    if (owner.empty() || uids.count(owner)) continue;
    if (resource == "pods" && !field(o["metadata"], "deletionTimestamp").is_null()) continue;
    const store::Key key{resource, str(o["metadata"]["namespace"]), str(o["metadata"]["name"])};
    if ((resource == "pods" ? store::delete_pod(store_, key, std::nullopt) : store_.remove(key))
            .ok())
      ++writes;
  }
  return writes;
}

}  // namespace ticketctl::controllers
