#pragma once
// The API server's defaulting: the fields a cluster fills in when a client leaves them out, so
// what kubectl shows here (`get -o yaml`, `describe deployment`'s StrategyType) reads as it does
// on a cluster. Runs in the store's admission step, so every write path gets it: the API (kubectl,
// ticketctl's verbs), `up`'s own apply, and the controllers' writes. A value the client gave is
// kept; applying the defaults twice changes nothing. Pure; any thread.

#include <string_view>

#include "runtime/manifest/json.h"

namespace ticketctl::api {

// Defaults `object`, stored under `resource` (the store's key: "deployments.apps", "pods",
// "services", "secrets", "replicasets.apps"); other resources are left alone.
void apply_defaults(std::string_view resource, Json& object);

// A PodTemplateSpec's defaults (its spec's and its containers'), as a Deployment or ReplicaSet
// template gets them.
void default_pod_template(Json& pod_template);

// The one Node pods run on: `kubectl get nodes` lists it, pods name it in spec.nodeName.
inline constexpr std::string_view kNodeName = "localhost";

// The scheduler's binding, done as the pod is admitted since there is one node: spec.nodeName
// becomes kNodeName when the pod names none (`get pods -o wide` shows NODE localhost).
void bind_to_node(Json& pod);

// "Always" for an image tagged :latest or not tagged at all (nor pinned by digest), else
// "IfNotPresent": the kubelet's default imagePullPolicy.
std::string_view default_pull_policy(std::string_view image);

}  // namespace ticketctl::api
