#include "runtime/images/resolver.h"

#include <fmt/format.h>

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "runtime/images/dockerfile.h"
#include "runtime/images/well_known.h"
#include "runtime/manifest/reasons.h"

namespace ticketctl::images {
namespace fs = std::filesystem;
namespace {

std::optional<std::vector<std::string>> strings(const Json& container, const char* key) {
  auto it = container.find(key);
  if (it == container.end() || !it->is_array()) return std::nullopt;
  return it->get<std::vector<std::string>>();
}

// Kubernetes: command replaces ENTRYPOINT (and drops CMD); args replace CMD.
std::vector<std::string> argv_for(const Json& container, const std::vector<std::string>& entrypoint,
                                  const std::vector<std::string>& cmd) {
  const auto command = strings(container, "command");
  const auto args = strings(container, "args");
  std::vector<std::string> argv = command ? *command : entrypoint;
  const std::vector<std::string>& rest =
      args ? *args : (command ? std::vector<std::string>{} : cmd);
  argv.insert(argv.end(), rest.begin(), rest.end());
  return argv;
}

const project::ImageSetting* lookup(const std::map<std::string, project::ImageSetting>& m,
                                    const std::string& image) {
  // An entry naming a tag matches only that tag; one without matches every tag.
  if (auto it = m.find(image_name(image, true)); it != m.end()) return &it->second;
  if (auto it = m.find(image_name(image, false)); it != m.end()) return &it->second;
  return nullptr;
}

}  // namespace

bool program_on_path(const std::string& program) {
  if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && ::access((fs::path(dir) / program).c_str(), X_OK) == 0) return true;
  return false;
}

std::string image_name(std::string_view image, bool keep_tag) {
  std::string name(image.substr(0, image.find('@')));  // digests never map
  const size_t slash = name.rfind('/');
  const size_t colon = name.rfind(':');
  if (!keep_tag && colon != std::string::npos && (slash == std::string::npos || colon > slash))
    name.erase(colon);
  for (std::string_view prefix : {"docker.io/", "index.docker.io/"})
    if (name.starts_with(prefix)) name.erase(0, prefix.size());
  if (name.starts_with("library/")) name.erase(0, 8);
  return name;
}

Resolver::Resolver(project::Config config, std::function<bool(const std::string&)> find_binary)
    : config_(std::move(config)),
      find_binary_(find_binary ? std::move(find_binary) : program_on_path) {}

// Dockerfiles are read again only when they change: controllers resolve every pending pod on
// every pass.
std::optional<Result<Dockerfile>> Resolver::load_dockerfile(const fs::path& file) const {
  std::error_code ec;
  const auto mtime = fs::last_write_time(file, ec);
  if (ec) return std::nullopt;
  std::lock_guard<std::mutex> lock(cache_mu_);
  if (auto it = dockerfiles_.find(file); it != dockerfiles_.end() && it->second.first == mtime)
    return it->second.second;
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::stringstream buf;
  buf << in.rdbuf();
  Result<Dockerfile> parsed = parse_dockerfile(buf.str(), file.string());
  dockerfiles_.insert_or_assign(file, std::make_pair(mtime, parsed));
  return parsed;
}

Resolution Resolver::from_setting(const project::ImageSetting& s, const Json& container,
                                  bool need_dockerfile) const {
  Resolution r;
  Dockerfile docker;
  const fs::path dockerfile = s.context / s.dockerfile;
  if (need_dockerfile || !s.command) {
    std::optional<Result<Dockerfile>> read = load_dockerfile(dockerfile);
    if (!read) {
      if (need_dockerfile || !strings(container, "command")) {
        r.reason = reasons::kErrDockerfile;
        r.message = fmt::format("{}: cannot read {}; give the image a command in ticketctl.yaml",
                                s.source, dockerfile.string());
        return r;
      }
    } else if (!read->ok()) {
      r.reason = reasons::kErrDockerfile;
      r.message = read->error().message;
      return r;
    } else {
      docker = read->value();
    }
  }
  const std::vector<std::string> entrypoint = s.command ? *s.command : docker.entrypoint;
  const std::vector<std::string> cmd =
      s.args ? *s.args : (s.command ? std::vector<std::string>{} : docker.cmd);
  ProcessSpec spec;
  spec.argv = argv_for(container, entrypoint, cmd);
  spec.working_dir = s.context;  // the image's WORKDIR holds what COPY put there: the context
  spec.env = docker.env;
  for (const auto& [k, v] : s.env) spec.env.emplace_back(k, v);
  spec.source = s.source;
  if (spec.argv.empty()) {
    r.reason = "ErrImageNoCommand";
    r.message =
        fmt::format("{}: neither ENTRYPOINT nor CMD, and the container has no command", s.source);
    return r;
  }
  r.spec = std::move(spec);
  return r;
}

// The official image's entrypoint, with the local program: its script (first-start set-up, then
// the server) under /bin/sh, or the program itself. A container `command` replaces all of it, as
// it replaces an image's ENTRYPOINT.
Resolution Resolver::well_known(const WellKnownImage& w, const std::string& image,
                                const Json& container) const {
  const std::optional<std::vector<std::string>> command = strings(container, "command");
  const std::string program =
      command && !command->empty() ? command->front() : std::string(w.program);
  std::optional<std::string> dir;
  if (command) {
    if (find_binary_(program)) dir = "";
  } else {
    dir = find_well_known_program(w, find_binary_(program));
  }
  if (!dir) {
    if (command)
      return {std::nullopt, reasons::kErrImageBinaryMissing,
              fmt::format("image {}: the container's command {} is not installed", image, program)};
    return {std::nullopt, reasons::kErrImageBinaryMissing, missing_program_message(w, image)};
  }
  std::vector<std::string> entrypoint;
  if (!w.entrypoint.empty()) {
    entrypoint = {"/bin/sh", "-c", std::string(w.entrypoint), std::string(w.image)};
  } else {
    entrypoint = {dir->empty() ? program : *dir + "/" + program};
  }
  // The server refuses root: as root it runs in a user namespace where the control plane's uid
  // maps to the server's own account, so it owns its data and can still reach the state
  // directory (owned by root, mode 0700) that no other real user could enter.
  if (!w.refuses_root_as.empty() && !command && ::geteuid() == 0) {
    const struct passwd* pw = ::getpwnam(std::string(w.refuses_root_as).c_str());
    const unsigned uid = pw ? pw->pw_uid : 65534, gid = pw ? pw->pw_gid : 65534;
    entrypoint.insert(entrypoint.begin(), {"unshare", "--user", fmt::format("--map-user={}", uid),
                                           fmt::format("--map-group={}", gid)});
  }
  ProcessSpec spec;
  spec.argv = argv_for(container, entrypoint, w.cmd);
  if (!dir->empty()) spec.env.emplace_back("TICKETCTL_PROGRAM_DIR", *dir);
  spec.volume = std::string(w.volume);
  spec.source = fmt::format("built-in mapping for {} ({})", w.image, w.program);
  return {std::move(spec), "", ""};
}

Resolution Resolver::resolve(const Json& container) const {
  const std::string image = container.value("image", "");
  if (const project::ImageSetting* s = lookup(config_.images, image))
    return from_setting(*s, container, false);
  if (const project::ImageSetting* s = lookup(config_.artifacts, image))
    return from_setting(*s, container, true);
  const std::string name = image_name(image, false);
  if (const WellKnownImage* w = find_well_known(name)) return well_known(*w, image, container);
  return {
      std::nullopt, reasons::kErrImageNotMapped,
      fmt::format("image {} is not mapped to a local command: add `images: {{{}: {{context: DIR, "
                  "command: [...]}}}}` to ticketctl.yaml, or a build.artifacts entry to "
                  "skaffold.yaml, in the directory `ticketctl up` runs in",
                  image, name)};
}

}  // namespace ticketctl::images
