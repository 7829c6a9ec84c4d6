#pragma once
// Image -> local process, in DESIGN.md's order: a ticketctl.yaml `images:` entry, else a
// skaffold.yaml artifact with the Dockerfile in its context, else a well-known infrastructure
// image mapped to a locally installed server. Container command/args override ENTRYPOINT/CMD as
// in Kubernetes. Reads Dockerfiles (cached by modification time); any thread.

#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runtime/images/dockerfile.h"
#include "runtime/manifest/json.h"
#include "runtime/project/config.h"

namespace ticketctl::images {

struct WellKnownImage;

struct ProcessSpec {
  std::vector<std::string> argv;
  std::filesystem::path working_dir;
  std::vector<std::pair<std::string, std::string>> env;  // from the Dockerfile and ticketctl.yaml
  std::string source;  // where the mapping came from, for describe and events
  // A well-known image's VOLUME ("/var/lib/postgresql/data"): the kubelet gives it a host
  // directory (a volume mounted there, else one of the pod's own) and passes it to the image's
  // entrypoint as TICKETCTL_DATA_DIR. Empty for other images.
  std::string volume;
};

// Either a spec, or why there is none: `reason` is a pod waiting reason (ErrImageNotMapped,
// ErrImageBinaryMissing, ErrDockerfile) and `message` tells the user what to add or install.
struct Resolution {
  std::optional<ProcessSpec> spec;
  std::string reason;
  std::string message;
};

// Whether `program` runs: an executable path, or a name found on $PATH.
bool program_on_path(const std::string& program);

// "docker.io/library/redis:7" -> "redis"; keeps the tag when `keep_tag`.
std::string image_name(std::string_view image, bool keep_tag);

class Resolver {
 public:
  // `find_binary` says whether a program is installed (default: searches PATH).
  explicit Resolver(project::Config config,
                    std::function<bool(const std::string&)> find_binary = {});
  Resolution resolve(const Json& container) const;

 private:
  Resolution from_setting(const project::ImageSetting& s, const Json& container,
                          bool need_dockerfile) const;
  Resolution well_known(const WellKnownImage& w, const std::string& image,
                        const Json& container) const;
  std::optional<Result<Dockerfile>> load_dockerfile(const std::filesystem::path& file) const;

  project::Config config_;
  std::function<bool(const std::string&)> find_binary_;
  mutable std::mutex cache_mu_;
  mutable std::map<std::filesystem::path,
                   std::pair<std::filesystem::file_time_type, Result<Dockerfile>>>
      dockerfiles_;
};

}  // namespace ticketctl::images
