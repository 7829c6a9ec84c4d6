#pragma once
// A container's environment, computed the way the kubelet computes it: image ENV (Dockerfile,
// ticketctl.yaml) lowest, then Service variables, then envFrom, then env (later wins), with
// $(VAR) expansion against what is defined so far, secretKeyRef/configMapKeyRef, fieldRef and
// resourceFieldRef. A missing Secret, ConfigMap or key that is not optional is a
// CreateContainerConfigError with Kubernetes' wording. Pure: objects come through `Lookup`.
// Any thread.

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/core/result.h"
#include "runtime/manifest/json.h"

namespace ticketctl::supervisor {

using EnvList = std::vector<std::pair<std::string, std::string>>;

struct EnvInputs {
  const Json* pod = nullptr;        // with metadata and status.podIP filled
  const Json* container = nullptr;  // one entry of spec.containers
  EnvList image_env;                // from the Dockerfile / ticketctl.yaml, lowest precedence
  EnvList service_env;              // <SVC>_SERVICE_HOST... for Services in the pod's namespace
  EnvList host_env;                 // PATH, HOME, ... allowed through from the host
  // Secret or ConfigMap by kind ("secrets" / "configmaps"), namespace and name.
  std::function<std::optional<Json>(const std::string& resource, const std::string& ns,
                                    const std::string& name)>
      lookup;
  std::string node_name = "localhost";
  int64_t node_memory_bytes = 0;  // resourceFieldRef defaults without limits
  int node_cpus = 1;
};

// The final environment, in order and without duplicates, or CreateContainerConfigError's
// message (e.g. `secret "jwt-secret" not found`).
Result<EnvList> resolve_env(const EnvInputs& in);

// Kubernetes' $(VAR) expansion: $(NAME) is replaced when NAME is defined, $$ becomes $, anything
// else is left as written.
std::string expand_vars(std::string_view text, const EnvList& env);

// Variables Kubernetes injects for one Service ("posts-srv" -> POSTS_SRV_SERVICE_HOST, ...).
EnvList service_link_env(const Json& service);

}  // namespace ticketctl::supervisor
