#pragma once
// The endpoints controller: for every Service with a selector, an Endpoints object of the same
// name listing the matching pods' IPs (ready ones under `addresses`, the others under
// `notReadyAddresses`) with each Service port's targetPort resolved per pod (by number, or by
// the container port's name). Endpoints of Services that are gone are deleted; Services without
// a selector keep whatever Endpoints their users write. Every Endpoints is mirrored into
// EndpointSlices (endpoint_slices.h). Level-based; the caller holds the
// store's lock.

#include "runtime/store/store.h"

namespace ticketctl::controllers {

class EndpointsController {
 public:
  explicit EndpointsController(store::Store& store) : store_(store) {}
  int reconcile();  // returns how many Endpoints it wrote or deleted

 private:
  store::Store& store_;
};

// Whether a pod counts as ready: its Ready condition is True.
bool pod_ready(const Json& pod);

}  // namespace ticketctl::controllers
