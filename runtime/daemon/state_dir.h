#pragma once
// Where a project's control plane keeps its state, and how clients find a running one.
//   state.db       the object store          pki/       CA, server certificate and key
//   token          the API's bearer token    kubeconfig for ticketctl and kubectl (0600)
//   lock           flock'd by the running control plane, holds its pid
//   apiserver.json {"pid", "port"} while the API serves
//   dashboard.json {"port"} of the dashboard's loopback web server while it serves
//   controlplane.log  output of a detached (`up -d`) control plane (stdout/stderr)
//   operator.log   the control plane's own log (core/oplog.h), rotated as operator.N.log
//   stop-report    what a stopping control plane had to kill, for `down` to print
// Pure path logic plus small file reads; any thread.

#include <filesystem>
#include <string>
#include <vector>

#include "runtime/api/client.h"
#include "runtime/core/files.h"
#include "runtime/core/result.h"

namespace ticketctl::daemon {

// --state-dir, else $TICKETCTL_HOME, else $XDG_STATE_HOME/ticketctl/<project> (XDG_STATE_HOME
// defaulting to ~/.local/state), the project being the current directory's name, as docker
// compose names projects. Without HOME: $XDG_RUNTIME_DIR/ticketctl/<project>, else an error;
// never a directory anyone could have created first.
Result<std::filesystem::path> resolve_state_dir(const std::string& flag);

struct StateDir {
  std::filesystem::path root;
  std::filesystem::path db() const { return root / "state.db"; }
  std::filesystem::path pki() const { return root / "pki"; }
  std::filesystem::path token() const { return root / "token"; }
  std::filesystem::path kubeconfig() const { return root / "kubeconfig"; }
  std::filesystem::path lock() const { return root / "lock"; }
  std::filesystem::path apiserver() const { return root / "apiserver.json"; }
  std::filesystem::path dashboard() const { return root / "dashboard.json"; }
  std::filesystem::path log() const { return root / "controlplane.log"; }
  std::filesystem::path operator_log() const { return root / "operator.log"; }
  std::filesystem::path stop_report() const { return root / "stop-report"; }
};

// Directories below the state directory whose contents belong to pods' own programs (volumes):
// the trust check looks at them, not into them.
inline const std::vector<std::string> kPodDataDirs = {"volumes"};

// The state directory for `flag`, once it is known to be the invoking user's alone: it, its
// files and its ancestors cannot have been planted or changed by another user (a token or pid
// file there decides what runs as this user). The error names the offending path and the fix.
Result<StateDir> open_state_dir(const std::string& flag);

// The running control plane's API, or an error that says how to start one.
Result<api::Connection> connection_for(const StateDir& dir);

}  // namespace ticketctl::daemon
