#pragma once
// The control plane process: holds the state directory's lock, opens the store, serves the API,
// applies the manifests `up` was given, and runs until SIGINT or SIGTERM.
// Call from the main thread of a process that has started no other threads.

#include <chrono>
#include <cstdio>
#include <vector>

#include "runtime/daemon/gate.h"
#include "runtime/daemon/state_dir.h"
#include "runtime/manifest/object.h"
#include "runtime/project/config.h"

namespace ticketctl::daemon {

struct ControlPlaneOptions {
  StateDir dir;
  std::vector<manifest::Object> objects;  // validated manifests to apply at start
  // ticketctl.yaml / skaffold.yaml of the directory `up` ran in: how images run.
  project::Config project;
  // Where to report progress ("deployment.apps/posts-depl created") and readiness. `up -d`
  // passes a pipe to the waiting parent and closes it once ready.
  std::FILE* report = stdout;
  bool close_report_when_ready = false;
  // When >= 0, one byte is written here and the descriptor closed once the API serves, the
  // manifests are applied and the gate (if any) ended: the waiting parent's proof that it
  // serves, '0' + the gate's exit status (a failure to start only closes it).
  int ready_fd = -1;
  // Foreground `up`: print every pod's log lines and state changes to `report`.
  bool echo_logs = false;
  // `up --timeout`: gate (gate.h) at most this long for every Deployment to be stable (0: no
  // limit in the foreground; -d does not wait). When the gate fails (1) or times out (3), the
  // foreground `up` stops everything and returns that status; `up -d` leaves the control plane
  // running and its parent exits with it. The foreground without a limit reports a failure and
  // keeps running.
  std::chrono::milliseconds stabilize_timeout{0};
  GateOptions gate;
  // -v / --v=N for the operator log (core/oplog.h): 4 and up adds debug lines.
  int verbosity = 0;
};

// Returns the process exit status: 0 after SIGTERM (`ticketctl down`), 130 after SIGINT
// (Ctrl-C), 1 when it could not start (the reason is written to `report`), and in the
// foreground with a timeout 1 when the gate failed, 3 when it timed out. `ready_fd` gets
// '0' + that status once the gate ended ('0': serving and, if gated, stable).
int run_control_plane(const ControlPlaneOptions& options);

// `ticketctl down`: asks the running control plane to stop and waits for it to be gone.
// Returns false (with a message) when none was running.
Result<bool> stop_control_plane(const StateDir& dir, std::FILE* report);

}  // namespace ticketctl::daemon
