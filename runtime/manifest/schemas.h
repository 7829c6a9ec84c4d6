#pragma once
// The Kubernetes kinds ticketctl reads, as schema tables (see docs/manifests.md).
// Built once on first use; immutable afterwards, so any thread may read them.

#include <span>
#include <string_view>

#include "runtime/manifest/schema.h"

namespace ticketctl::manifest {

struct KindInfo {
  std::string_view api_version;  // "apps/v1"
  std::string_view kind;         // "Deployment"
  bool namespaced = true;
  const Schema* schema = nullptr;
  // For legacy versions accepted with a warning: the apiVersion they are converted to.
  std::string_view converts_to;
};

const KindInfo* find_kind(std::string_view api_version, std::string_view kind);
std::span<const KindInfo> all_kinds();

// Kind `List` (v1): an envelope whose items are objects of the kinds above.
const Schema& list_schema();

}  // namespace ticketctl::manifest
