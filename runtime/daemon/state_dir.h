#pragma once
// Where a project's control plane keeps its state, and how clients find a running one.
//   state.db       the object store          pki/       CA, server certificate and key
//   token          the API's bearer token    kubeconfig for ticketctl and kubectl (0600)
//   lock           flock'd by the running control plane, holds its pid
//   apiserver.json {"pid", "port"} while the API serves
//   controlplane.log  output of a detached (`up -d`) control plane
//   stop-report    what a stopping control plane had to kill, for `down` to print
// Pure path logic plus small file reads; any thread.

#include <filesystem>
#include <string>

#include "runtime/api/client.h"
#include "runtime/core/result.h"

namespace ticketctl::daemon {

// --state-dir, else $TICKETCTL_HOME, else $XDG_STATE_HOME/ticketctl/<project> (XDG_STATE_HOME
// defaulting to ~/.local/state), the project being the current directory's name, as docker
// compose names projects.
std::filesystem::path resolve_state_dir(const std::string& flag);

struct StateDir {
  std::filesystem::path root;
  std::filesystem::path db() const { return root / "state.db"; }
  std::filesystem::path pki() const { return root / "pki"; }
  std::filesystem::path token() const { return root / "token"; }
  std::filesystem::path kubeconfig() const { return root / "kubeconfig"; }
  std::filesystem::path lock() const { return root / "lock"; }
  std::filesystem::path apiserver() const { return root / "apiserver.json"; }
  std::filesystem::path log() const { return root / "controlplane.log"; }
  std::filesystem::path stop_report() const { return root / "stop-report"; }
};

// The running control plane's API, or an error that says how to start one.
Result<api::Connection> connection_for(const StateDir& dir);

// Writes `content` to `file` with mode 0600 via a temporary file and rename, so readers never
// see half a file.
Result<bool> write_private_file(const std::filesystem::path& file, const std::string& content);

}  // namespace ticketctl::daemon
