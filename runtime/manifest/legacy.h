#pragma once
// Conversion of Ingress objects written for extensions/v1beta1 or networking.k8s.io/v1beta1
// (removed from Kubernetes in v1.22, still in many course repositories) to
// networking.k8s.io/v1, with the defaults the API server applied to the old versions.

#include "runtime/manifest/json.h"

namespace ticketctl::manifest {

// `legacy` is a validated v1beta1 Ingress body; returns the v1 body with keys in the same order.
Json convert_legacy_ingress(const Json& legacy);

}  // namespace ticketctl::manifest
