#pragma once
// Inside the controllers module: what deployment.cpp (the controller) and
// deployment_template.cpp (template hashing, names, effective templates) share.

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/core/rfc3339.h"
#include "runtime/manifest/json.h"
#include "runtime/manifest/reasons.h"

namespace ticketctl::controllers::detail {

using std::chrono::milliseconds;
using Clock = std::chrono::system_clock;

inline constexpr std::string_view kSafeAlphabet = "bcdfghjklmnpqrstvwxz2456789";
inline constexpr const char* kHashLabel = "pod-template-hash";
inline constexpr const char* kDesiredAnnotation = "deployment.kubernetes.io/desired-replicas";
inline constexpr const char* kMaxAnnotation = "deployment.kubernetes.io/max-replicas";

inline constexpr auto field = &json_at;

inline int64_t int_or(const Json& v, int64_t fallback) {
  return v.is_number_integer() ? v.get<int64_t>() : fallback;
}

// The uid of the controller owning `object`, if any.
inline std::string controller_uid(const Json& object) {
  for (const Json& ref : field(field(object, "metadata"), "ownerReferences"))
    if (field(ref, "controller") == true) return str(field(ref, "uid"));
  return {};
}

inline Json owner_reference(const Json& owner) {
  return {{"apiVersion", owner["apiVersion"]},
          {"kind", owner["kind"]},
          {"name", owner["metadata"]["name"]},
          {"uid", owner["metadata"]["uid"]},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

inline int64_t replicas_of(const Json& object) {
  return int_or(field(field(object, "spec"), "replicas"), 1);
}

inline int64_t revision_of(const Json& rs) {
  const std::string r =
      str(field(field(field(rs, "metadata"), "annotations"), kRevisionAnnotation));
  if (r.empty() || r.find_first_not_of("0123456789") != std::string::npos || r.size() > 18)
    return 0;
  return std::stoll(r);
}

inline std::optional<Clock::time_point> parse_time(const std::string& text) {
  const std::optional<rfc3339::Time> t = rfc3339::parse(text);
  if (!t) return std::nullopt;
  return t->time_point();
}

// When the pod's Ready condition became True; nullopt while it is not ready.
inline std::optional<Clock::time_point> ready_since(const Json& pod) {
  for (const Json& c : field(field(pod, "status"), "conditions")) {
    if (str(field(c, "type")) != reasons::kReady) continue;
    if (str(field(c, "status")) != "True") return std::nullopt;
    return parse_time(str(field(c, "lastTransitionTime"))).value_or(Clock::time_point{});
  }
  return std::nullopt;
}

// Pods that count for a ReplicaSet: not finished, not being deleted.
inline bool pod_active(const Json& pod) {
  const std::string phase = str(field(field(pod, "status"), "phase"));
  return phase != "Succeeded" && phase != "Failed" &&
         field(pod["metadata"], "deletionTimestamp").is_null();
}

inline uint64_t fnv64(std::string_view text, uint64_t h = 14695981039346656037ull) {
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// Kubernetes' SetDeploymentCondition: an unchanged status and reason keep the condition as it
// is; a changed reason keeps lastTransitionTime when the status stays; the result goes last.
inline void set_condition(Json& conditions, Json condition) {
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

inline Json condition(const char* type, bool status, const char* reason, std::string message) {
  const std::string now = rfc3339::now_seconds();
  return {{"type", type},          {"status", status ? "True" : "False"},
          {"lastUpdateTime", now}, {"lastTransitionTime", now},
          {"reason", reason},      {"message", std::move(message)}};
}

inline const Json* find_condition(const Json& conditions, std::string_view type) {
  for (const Json& c : conditions)
    if (str(field(c, "type")) == type) return &c;
  return nullptr;
}

// Deployment annotations a ReplicaSet inherits (kubernetes.io/change-cause among them); the
// ones the controller or kubectl manage for themselves stay behind.
inline bool copied_to_replicaset(const std::string& key) {
  return key != kRevisionAnnotation && key != kDesiredAnnotation && key != kMaxAnnotation &&
         key != "deployment.kubernetes.io/revision-history" &&
         key != "kubectl.kubernetes.io/last-applied-configuration";
}

}  // namespace ticketctl::controllers::detail
