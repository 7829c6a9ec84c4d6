#pragma once
// What `up`, `build`, `apply` and `dev` share: running image builds, preparing and starting a
// detached control plane, and applying objects through the API. Main thread of the CLI.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cli/connection.h"
#include "cli/manifest_args.h"
#include "runtime/api/client.h"
#include "runtime/daemon/control_plane.h"
#include "runtime/manifest/object.h"
#include "runtime/project/config.h"

namespace ticketctl::cli {

// Where a verb's lines go (stdout or stderr, or a mutex-guarded printer in `dev`).
using LineSink = std::function<void(const std::string& line)>;

// `ticketctl build`: runs the build command of each image of `config.images` that has one (or
// of the `names` given) when its inputs changed (always when `force`), each output line prefixed
// with "[image] ". Returns the number of failed builds, or -1 when a name given has no build
// command (said on `err`).
int run_builds(const project::Config& config, const daemon::StateDir& dir,
               const std::vector<std::string>& names, bool force, const LineSink& out,
               const LineSink& err);

// `up` up to the start: the project of the current directory, the manifests (-f, else
// ticketctl.yaml's or skaffold.yaml's), validated, and the state directory. Nothing to deploy
// (none of those, and no state from an earlier run) is an error unless `allow_empty`. Returns the
// exit status to stop with, or nullopt to go on with `options`.
std::optional<int> prepare_up(ManifestArgs& args, const StateDirArg& state,
                              const std::string& timeout, daemon::ControlPlaneOptions& options,
                              bool allow_empty = false);

// `up -d`: starts the control plane in a child of its own session and returns once it serves
// and applied the manifests (0), or failed (1). Call before the process starts any thread.
int run_detached(daemon::ControlPlaneOptions options);

// `apply`: creates or updates each object, printing "kind/name created|configured|unchanged";
// returns kExitOk, or kExitFailure when one failed. `replace_immutable` (apply --force, dev):
// an object whose update the server would refuse for a field that cannot change (a Deployment's
// selector, an immutable ConfigMap's or Secret's data) is deleted and created again, printed
// as "kind/name replaced (...)"; when the new object is refused, the old one is created again.
int apply_objects(api::ApiClient& client, std::vector<manifest::Object>& objects,
                  const LineSink& out, const LineSink& err, bool replace_immutable = false);

}  // namespace ticketctl::cli
