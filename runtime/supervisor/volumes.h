#pragma once
// A pod's volumes as host directories, and a container's volumeMounts as (mountPath -> host
// directory) pairs that the preload library maps for file-system calls (docs/volumes.md):
//   emptyDir               <pod dir>/volumes/<name>, empty when the pod first starts here,
//                          removed with the pod
//   persistentVolumeClaim  <claims dir>/<ns>_<claim>_<uid>, outlives pods, removed with the claim
//   hostPath               the path as given (a warning when it is outside the project)
//   configMap / secret     <pod dir>/volumes/<name>, one file per key (secrets 0600), rewritten
//                          when the object changes
// A well-known image's VOLUME gets the directory of the volume mounted there, else one of the
// pod's own (the anonymous volume Docker would create). Called on the kubelet thread.

#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "runtime/core/result.h"
#include "runtime/manifest/json.h"

namespace ticketctl::supervisor {

struct Mount {
  std::string path;            // the container's mountPath
  std::filesystem::path host;  // what stands for it
  bool read_only = false;
};

struct VolumeInputs {
  const Json* pod = nullptr;
  const Json* container = nullptr;
  std::filesystem::path pod_dir;
  std::filesystem::path claims_dir;   // persistentVolumeClaims' directories
  std::filesystem::path project_dir;  // hostPath outside it gets a warning; empty: none
  std::string image_volume;           // the resolver's ProcessSpec::volume
  bool first_start = false;           // the pod's first start on this kubelet: emptyDirs reset
  std::function<std::optional<Json>(const std::string& resource, const std::string& ns,
                                    const std::string& name)>
      lookup;
};

struct PreparedVolumes {
  std::vector<Mount> mounts;
  std::filesystem::path data_dir;  // the image volume's host directory; empty without one
  std::vector<std::string> warnings;
};

// Creates or refreshes what the container's mounts need. An error (a missing claim, ConfigMap
// or Secret that is not optional, a bad subPath) is the container's CreateContainerConfigError.
Result<PreparedVolumes> prepare_volumes(const VolumeInputs& in);

// Rewrites the configMap and secret volumes of a running pod whose objects changed (files are
// replaced by rename, so a reader sees the old or the new content, never a mix). Returns
// whether anything changed.
bool refresh_projected_volumes(const Json& pod, const std::filesystem::path& pod_dir,
                               const VolumeInputs& lookup_from);

// TICKETCTL_MOUNTS for the preload library: "ro|rw <mountPath>=<host>" lines, longest mount
// path first.
std::string mounts_env(std::vector<Mount> mounts);

// <claims_dir>/<ns>_<name>_<uid> for a stored claim.
std::filesystem::path claim_dir(const std::filesystem::path& claims_dir, const Json& claim);
// Removes the directories of claims that are no longer stored (uids not in `claim_uids`).
void collect_claim_dirs(const std::filesystem::path& claims_dir,
                        const std::set<std::string>& claim_uids);

}  // namespace ticketctl::supervisor
