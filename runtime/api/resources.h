#pragma once
// The API's resource table: which kinds are served, under which group/version and plural, with
// kubectl's short names. Shared by the server (routing, discovery) and the CLI (`get deploy`).
// Immutable; any thread.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/manifest/json.h"

namespace ticketctl::api {

struct Resource {
  std::string_view kind;      // "Deployment"
  std::string_view plural;    // "deployments"
  std::string_view singular;  // "deployment"
  std::string_view group;     // "" for core, "apps", "networking.k8s.io"
  std::string_view version;   // "v1"
  bool namespaced = true;
  std::vector<std::string_view> short_names;
  std::vector<std::string_view> categories;  // "all" for `get all`

  std::string api_version() const;   // "apps/v1", "v1"
  std::string store_key() const;     // "deployments.apps", "pods": how the store names it
  std::string kubectl_kind() const;  // "deployment.apps", "service": how kubectl prints it
  // "/apis/apps/v1/namespaces/NS/deployments[/NAME]"; cluster-scoped kinds ignore `ns`.
  std::string path(std::string_view ns, std::string_view name = {}) const;
};

std::span<const Resource> all_resources();

// Kinds the control plane keeps itself and clients only read: the `localhost` Node (this
// machine) and its Lease (`describe node` shows it), EndpointSlices (the endpoints
// controller's mirror of Endpoints).
bool read_only(const Resource& r);

// The admission step of a PersistentVolumeClaim: every claim is bound at once, to a directory
// of the state directory the kubelet creates (runtime/supervisor/volumes.h), so status says
// Bound with the requested capacity and access modes.
void bind_claim(Json& claim);
// What a user types: plural, singular, short name or kind, optionally with ".group"
// ("deploy", "deployments.apps", "Ingress", "ing").
const Resource* find_resource(std::string_view name);
const Resource* resource_for(std::string_view group, std::string_view version,
                             std::string_view plural);
const Resource* resource_for_kind(std::string_view api_version, std::string_view kind);

}  // namespace ticketctl::api
