#include "runtime/controllers/deployment.h"

#include <fmt/format.h>

#include "runtime/api/defaults.h"
#include "runtime/events/events.h"
#include "runtime/store/pod_deletion.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <optional>
#include <set>

namespace ticketctl::controllers {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::system_clock;

constexpr std::string_view kSafeAlphabet = "bcdfghjklmnpqrstvwxz2456789";
constexpr const char* kHashLabel = "pod-template-hash";
constexpr const char* kDesiredAnnotation = "deployment.kubernetes.io/desired-replicas";
constexpr const char* kMaxAnnotation = "deployment.kubernetes.io/max-replicas";

constexpr auto field = &json_at;

int64_t int_or(const Json& v, int64_t fallback) {
  return v.is_number_integer() ? v.get<int64_t>() : fallback;
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
  return int_or(field(field(object, "spec"), "replicas"), 1);
}

int64_t revision_of(const Json& rs) {
  const std::string r =
      str(field(field(field(rs, "metadata"), "annotations"), kRevisionAnnotation));
  if (r.empty() || r.find_first_not_of("0123456789") != std::string::npos || r.size() > 18)
    return 0;
  return std::stoll(r);
}

std::optional<Clock::time_point> parse_time(const std::string& text) {
  std::tm tm{};
  if (text.empty() || !strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return std::nullopt;
  return Clock::from_time_t(timegm(&tm));
}

// When the pod's Ready condition became True; nullopt while it is not ready.
std::optional<Clock::time_point> ready_since(const Json& pod) {
  for (const Json& c : field(field(pod, "status"), "conditions")) {
    if (str(field(c, "type")) != "Ready") continue;
    if (str(field(c, "status")) != "True") return std::nullopt;
    return parse_time(str(field(c, "lastTransitionTime"))).value_or(Clock::time_point{});
  }
  return std::nullopt;
}

// Pods that count for a ReplicaSet: not finished, not being deleted.
bool pod_active(const Json& pod) {
  const std::string phase = str(field(field(pod, "status"), "phase"));
  return phase != "Succeeded" && phase != "Failed" &&
         field(pod["metadata"], "deletionTimestamp").is_null();
}

uint64_t fnv64(std::string_view text, uint64_t h = 14695981039346656037ull) {
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// Kubernetes' SetDeploymentCondition: an unchanged status and reason keep the condition as it
// is; a changed reason keeps lastTransitionTime when the status stays; the result goes last.
void set_condition(Json& conditions, Json condition) {
  for (auto it = conditions.begin(); it != conditions.end(); ++it) {
    if ((*it)["type"] != condition["type"]) continue;
    if ((*it)["status"] == condition["status"] && (*it)["reason"] == condition["reason"]) return;
    if ((*it)["status"] == condition["status"])
      condition["lastTransitionTime"] = (*it)["lastTransitionTime"];
    conditions.erase(it);
    break;
  }
  conditions.push_back(std::move(condition));
}

Json condition(const char* type, bool status, const char* reason, std::string message) {
  const std::string now = store::rfc3339_now();
  return {{"type", type},          {"status", status ? "True" : "False"},
          {"lastUpdateTime", now}, {"lastTransitionTime", now},
          {"reason", reason},      {"message", std::move(message)}};
}

const Json* find_condition(const Json& conditions, std::string_view type) {
  for (const Json& c : conditions)
    if (str(field(c, "type")) == type) return &c;
  return nullptr;
}

// Deployment annotations a ReplicaSet inherits (kubernetes.io/change-cause among them); the
// ones the controller or kubectl manage for themselves stay behind.
bool copied_to_replicaset(const std::string& key) {
  return key != kRevisionAnnotation && key != kDesiredAnnotation && key != kMaxAnnotation &&
         key != "deployment.kubernetes.io/revision-history" &&
         key != "kubectl.kubernetes.io/last-applied-configuration";
}

}  // namespace

struct DeploymentController::Counts {
  int64_t active = 0, ready = 0, available = 0, fully_labeled = 0;
};

namespace {

// The template's content only: keys sorted (kubectl sends them sorted, manifests in the author's
// order), and nulls, {} and [] left out (absent and empty mean the same to the kubelet). Two
// spellings of one template get one hash, whoever applied it.
nlohmann::json canonical(const Json& v) {
  if (v.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (auto it = v.begin(); it != v.end(); ++it) {
      nlohmann::json c = canonical(*it);
      if (!c.is_null() && !((c.is_object() || c.is_array()) && c.empty()))
        out[it.key()] = std::move(c);
    }
    return out;
  }
  if (v.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const Json& e : v) out.push_back(canonical(e));
    return out;
  }
  return nlohmann::json(v);
}

}  // namespace

std::string pod_template_hash(const Json& pod_template) {
  uint32_t h = 2166136261u;
  for (unsigned char c :
       canonical(pod_template).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) {
    h ^= c;
    h *= 16777619u;
  }
  std::string out;
  for (char digit : std::to_string(h))
    out += kSafeAlphabet[static_cast<unsigned char>(digit) % kSafeAlphabet.size()];
  return out;
}

bool same_template_but_defaults(const Json& stored, const Json& tmpl) {
  Json a = stored, b = tmpl;
  for (Json* t : {&a, &b}) {
    if (!t->is_object()) return false;
    api::default_pod_template(*t);
    if (Json& labels = (*t)["metadata"]["labels"]; labels.is_object()) labels.erase(kHashLabel);
  }
  // Key order, and absent vs empty, are how a client wrote the object, not what it asks for.
  return canonical(a) == canonical(b);
}

std::string replicaset_name(std::string_view deployment, std::string_view hash) {
  constexpr size_t kMaxName = 253;  // a DNS subdomain
  std::string base(deployment.substr(0, kMaxName - 1 - std::min(hash.size(), kMaxName - 2)));
  // A cut that ends a label with '.' would make "x.-hash", which no name may contain.
  while (!base.empty() && base.back() == '.') base.pop_back();
  return fmt::format("{}-{}", base, hash);
}

std::string generated_pod_name(std::string_view replicaset, std::string_view suffix) {
  constexpr size_t kMaxBase = 63 - 5;  // the API server's maxGeneratedNameLength
  std::string base = fmt::format("{}-", replicaset);
  if (base.size() > kMaxBase) base.resize(kMaxBase);
  return base + std::string(suffix);
}

int64_t scaled_value(const Json& v, int64_t total, bool round_up) {
  if (v.is_number_integer()) return v.get<int64_t>();
  const std::string s = str(v);
  if (s.empty() || s.back() != '%') return 0;
  const double percent = std::strtod(s.c_str(), nullptr);
  const double value = percent * static_cast<double>(total) / 100.0;
  return static_cast<int64_t>(round_up ? std::ceil(value) : std::floor(value));
}

Fenceposts resolve_fenceposts(const Json& d) {
  const Json& strategy = field(field(d, "spec"), "strategy");
  if (str(field(strategy, "type")) == "Recreate") return {};
  const Json& ru = field(strategy, "rollingUpdate");
  const Json surge = field(ru, "maxSurge").is_null() ? Json("25%") : field(ru, "maxSurge");
  const Json unavailable =
      field(ru, "maxUnavailable").is_null() ? Json("25%") : field(ru, "maxUnavailable");
  const int64_t replicas = replicas_of(d);
  Fenceposts f{scaled_value(surge, replicas, true), scaled_value(unavailable, replicas, false)};
  // Both zero would let nothing move; Kubernetes allows one unavailable pod then.
  if (f.max_surge == 0 && f.max_unavailable == 0) f.max_unavailable = 1;
  return f;
}

Json effective_template(const store::Store& store, const Json& d) {
  Json tmpl = field(field(d, "spec"), "template");
  // Every ConfigMap and Secret the pods read, once, in a stable order.
  std::set<std::pair<std::string, std::string>> refs;
  const Json& spec = field(tmpl, "spec");
  for (const char* list : {"initContainers", "containers"}) {
    for (const Json& c : field(spec, list)) {
      for (const Json& e : field(c, "env")) {
        const Json& from = field(e, "valueFrom");
        if (const std::string n = str(field(field(from, "configMapKeyRef"), "name")); !n.empty())
          refs.insert({"configmaps", n});
        if (const std::string n = str(field(field(from, "secretKeyRef"), "name")); !n.empty())
          refs.insert({"secrets", n});
      }
      for (const Json& e : field(c, "envFrom")) {
        if (const std::string n = str(field(field(e, "configMapRef"), "name")); !n.empty())
          refs.insert({"configmaps", n});
        if (const std::string n = str(field(field(e, "secretRef"), "name")); !n.empty())
          refs.insert({"secrets", n});
      }
    }
  }
  for (const Json& v : field(spec, "volumes")) {
    if (const std::string n = str(field(field(v, "configMap"), "name")); !n.empty())
      refs.insert({"configmaps", n});
    if (const std::string n = str(field(field(v, "secret"), "secretName")); !n.empty())
      refs.insert({"secrets", n});
  }
  if (refs.empty()) return tmpl;
  const std::string ns = str(field(field(d, "metadata"), "namespace"));
  uint64_t h = fnv64("");
  for (const auto& [resource, name] : refs) {
    h = fnv64(resource + "/" + name + "=", h);
    const Json* o = store.find({resource, ns, name});
    if (!o) {
      h = fnv64("<absent>;", h);
      continue;
    }
    for (const char* key : {"data", "binaryData", "stringData"})
      h = fnv64(field(*o, key).dump() + ";", h);
  }
  tmpl["metadata"]["annotations"][kConfigHashAnnotation] = fmt::format("{:016x}", h);
  return tmpl;
}

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
    const Json& have = field(p["metadata"], "labels");
    bool all = true;
    if (labels.is_object())
      for (const auto& [k, v] : labels.items()) all = all && field(have, k) == v;
    if (all) ++n.fully_labeled;
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
    if (!find_condition(status_conditions, "Progressing"))
      set_condition(status_conditions,
                    condition("Progressing", true, "FoundNewReplicaSet",
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
                  condition("Progressing", true, "NewReplicaSetCreated",
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
    set_condition(status_conditions, condition("Available", true, "MinimumReplicasAvailable",
                                               "Deployment has minimum availability."));
  else
    set_condition(status_conditions, condition("Available", false, "MinimumReplicasUnavailable",
                                               "Deployment does not have minimum availability."));

  // Progress, as Kubernetes' syncRolloutStatus judges it.
  const Json& old_status = field(d, "status");
  const Json* progressing = find_condition(status_conditions, "Progressing");
  const bool complete = updated.active == replicas && all.active == replicas &&
                        all.available == replicas && current.has_value();
  const bool was_complete = progressing &&
                            str(field(*progressing, "reason")) == "NewReplicaSetAvailable" &&
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
          condition("Progressing", true, "NewReplicaSetAvailable",
                    fmt::format("ReplicaSet \"{}\" has successfully progressed.", new_name)));
    } else if (progressed) {
      Json c = condition("Progressing", true, "ReplicaSetUpdated",
                         fmt::format("ReplicaSet \"{}\" is progressing.", new_name));
      // Progress moves lastUpdateTime, even with the same reason; the transition stays.
      for (auto it = status_conditions.begin(); it != status_conditions.end(); ++it) {
        if ((*it)["type"] != "Progressing") continue;
        if ((*it)["status"] == "True") c["lastTransitionTime"] = (*it)["lastTransitionTime"];
        status_conditions.erase(it);
        break;
      }
      status_conditions.push_back(std::move(c));
    } else if (progressing && str(field(*progressing, "reason")) != "ProgressDeadlineExceeded") {
      const auto since = parse_time(str(field(*progressing, "lastUpdateTime")));
      if (since) {
        const auto expires = *since + std::chrono::seconds(deadline_seconds);
        if (now_ > expires)
          set_condition(
              status_conditions,
              condition("Progressing", false, "ProgressDeadlineExceeded",
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
