#pragma once
// kubectl apply's client-side semantics, shared by `ticketctl apply` (through the API) and `up`
// (straight into the store): the kubectl.kubernetes.io/last-applied-configuration annotation,
// written byte for byte as kubectl writes it, and the three-way merge that keeps what others
// changed since (kubectl scale's replicas, rollout restart's restartedAt, defaults).
// Pure; any thread.

#include <string>
#include <string_view>

#include "runtime/manifest/json.h"
#include "runtime/manifest/object.h"

namespace ticketctl::api {

inline constexpr std::string_view kLastAppliedAnnotation =
    "kubectl.kubernetes.io/last-applied-configuration";

// kubectl's encoding of an applied manifest: the object without the annotation itself,
// `metadata.annotations` present (empty when there are none), keys sorted, Go's encoding/json
// escapes (<, >, & and U+2028/U+2029 as \uXXXX) and a final newline.
std::string last_applied_configuration(const Json& manifest);

// What `apply` sends for `o`: its stored-version body, with metadata.namespace when
// `namespaced`, annotated with the last-applied-configuration of what was written (a legacy
// Ingress is recorded in the version it was written in, as kubectl records it).
Json annotated_for_apply(const manifest::Object& o, bool namespaced);

// kubectl apply's three-way merge of `modified` (annotated_for_apply) into `current`: every
// field `modified` sets is set, lists of containers, env, ports, volumes... merged on their keys;
// what the previous apply set (current's annotation) and `modified` no longer has is deleted;
// everything else in `current` stays. Without an annotation on `current` nothing is deleted,
// as with kubectl; `had_annotation` says which case it was.
struct Merged {
  Json object;
  bool had_annotation = false;
};
Merged merge_applied(const Json& current, const Json& modified);

}  // namespace ticketctl::api
