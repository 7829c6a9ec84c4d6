#pragma once
// The traffic tap's side of the L4 relay: which Services and pods go through the observing
// relay while taps are active (tap targets → net::TapSelection), and what the relay saw turned
// into the tap's exchanges (net::ObservedExchange → tap::Exchange, published to the hub).
//
// Threads: tap_selection() under the store's lock (it reads pods); the observer's report runs
// on the relay's loop threads and only reads TapPeers' snapshot and publishes (never blocks).

#include <vector>

#include "runtime/daemon/tap_peers.h"
#include "runtime/net/dataplane.h"
#include "runtime/net/service_proxy.h"
#include "runtime/store/store.h"
#include "runtime/tap/tap.h"

namespace ticketctl::daemon {

// Services tapped by name, pods tapped by name or through their Deployment (`peers` rebuilt from
// `store` first), everything for Kind::All; the ingress reports its own requests.
net::TapSelection tap_selection(const std::vector<tap::Target>& targets,
                                const store::Store& store, const TapPeers& peers);

// One relayed exchange as the tap shows it: source = the pod at the client's address,
// destination = the pod at the backend's, reached through the listener's Service ("ns/name").
tap::Exchange relay_exchange(net::ObservedExchange&& seen, const TapPeers& peers);

// Where the service proxy reports: published to `hub` while anybody taps, bodies captured while
// a subscription wants them. `hub` and `peers` must outlive the proxy.
net::ExchangeObserver relay_publisher(tap::Hub& hub, const TapPeers& peers);

}  // namespace ticketctl::daemon
