#pragma once
// Until the supervisor runs pods, this is the part of the kubelet that can already speak: a
// Pending pod whose image cannot be mapped to a local command gets the waiting reason
// (ErrImageNotMapped, ErrImageBinaryMissing, ErrDockerfile) and a Failed event saying what to
// add, so `get pods` and `describe` show it. Level-based; the caller holds the store's lock.

#include "runtime/images/resolver.h"
#include "runtime/store/store.h"

namespace ticketctl::controllers {

class ImageStatusController {
 public:
  ImageStatusController(store::Store& store, project::Config project)
      : store_(store), resolver_(std::move(project)) {}
  int reconcile();  // returns how many pods' status it wrote

 private:
  store::Store& store_;
  images::Resolver resolver_;
};

}  // namespace ticketctl::controllers
