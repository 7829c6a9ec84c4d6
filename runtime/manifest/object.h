#pragma once
// A validated Kubernetes object as read from a manifest: its identity, where it was written,
// and its body as Kubernetes JSON (legacy versions already converted). Plain value type.

#include <string>

#include "runtime/core/diagnostics.h"
#include "runtime/manifest/json.h"

namespace ticketctl::manifest {

struct Object {
  std::string api_version;  // as stored: "apps/v1", "networking.k8s.io/v1", "v1"
  std::string kind;
  std::string name;
  std::string ns;  // empty for cluster-scoped kinds (Namespace)
  Json body;
  // The body as written when a legacy version was converted (kubectl's last-applied-configuration
  // records what was applied, not what is stored); null otherwise.
  Json written;
  SourcePos pos;  // where the document starts

  // "Deployment default/posts-depl" or "Namespace ingress-nginx", as diagnostics name objects.
  std::string ref() const;
  // "deployment.apps/posts-depl", as kubectl names objects in its output.
  std::string kubectl_name() const;
  // API group: "" for core, "apps", "networking.k8s.io".
  std::string group() const;
};

std::string object_ref(std::string_view kind, std::string_view ns, std::string_view name);

// API group of an apiVersion: "" for "v1", "apps" for "apps/v1".
std::string api_group(std::string_view api_version);

}  // namespace ticketctl::manifest
