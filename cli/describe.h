#pragma once
// `describe` text in kubectl's layout for the kinds ticketctl serves. Pure functions over the
// object and what relates to it (its ReplicaSets, pods, events). Secret values are never shown,
// only their sizes.

#include <string>
#include <string_view>
#include <vector>

#include "runtime/manifest/json.h"

namespace ticketctl::cli {

struct Related {
  std::vector<Json> replicasets;  // a Deployment's
  std::vector<Json> events;       // whose involvedObject is the described object
};

std::string describe(std::string_view kind, const Json& object, const Related& related);

}  // namespace ticketctl::cli
