#pragma once
// discovery.k8s.io/v1 EndpointSlices kept beside Endpoints, as a cluster's EndpointSlice (and,
// for Services without a selector, mirroring) controllers keep them: kubectl 1.32's `describe
// svc` and `describe ingress` read slices, not Endpoints. Each Endpoints subset becomes a slice
// `<service>-<5 chars>` labelled kubernetes.io/service-name, addressType IPv4, its addresses as
// endpoints with ready/serving/terminating conditions, nodeName and targetRef, its ports named as
// the Service's. Slices of Endpoints that are gone are deleted. The caller holds the store's lock.

#include <vector>

#include "runtime/manifest/json.h"
#include "runtime/store/store.h"

namespace ticketctl::controllers {

// The slices mirroring `endpoints`; `service` (may be null) gives labels and the owner. Pure.
std::vector<Json> endpoint_slices_for(const Json& endpoints, const Json* service);

// Brings the stored slices in line with the stored Endpoints; returns the writes.
int reconcile_endpoint_slices(store::Store& store);

}  // namespace ticketctl::controllers
