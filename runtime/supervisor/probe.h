#pragma once
// One probe attempt, as the kubelet's prober makes it: httpGet (2xx/3xx is success), tcpSocket
// (the port accepts a connection), exec (exit status 0 within timeoutSeconds). Blocking, bounded
// by the probe's timeout; the kubelet runs each on a thread of its own, without the store's lock.

#include <chrono>
#include <string>

#include "runtime/manifest/json.h"
#include "runtime/supervisor/process.h"

namespace ticketctl::supervisor {

struct ProbeOutcome {
  bool ok = false;
  std::string
      message;  // why it failed, in kubelet's words ("Get \"http://...\": connection refused")
};

struct ProbeTarget {
  std::string pod_ip;
  const Json* container = nullptr;  // for named ports
  SpawnSpec exec_base;              // env and working directory for exec probes
  // Where an exec probe's child is registered when another thread reaps every child (the
  // kubelet's); nullptr: the probe reaps its own child.
  ChildExits* exits = nullptr;
};

// `probe` is a readinessProbe / livenessProbe / startupProbe object.
ProbeOutcome run_probe(const Json& probe, const ProbeTarget& target);

// Whether ip:port accepts a TCP connection within `timeout`.
ProbeOutcome tcp_probe(const std::string& ip, int port, std::chrono::milliseconds timeout);

// A container port given by number or by name; 0 when a name matches nothing.
int resolve_port(const Json& port, const Json& container);

}  // namespace ticketctl::supervisor
