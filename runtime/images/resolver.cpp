#include "runtime/images/resolver.h"

#include <fmt/format.h>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "runtime/images/dockerfile.h"

namespace ticketctl::images {
namespace fs = std::filesystem;
namespace {

struct WellKnown {
  std::string_view image;
  std::vector<std::string> argv;
  std::string_view package;  // what to install when the binary is missing
};

// Infrastructure images the course uses, mapped to servers Debian packages.
const std::vector<WellKnown>& well_known() {
  static const std::vector<WellKnown> table = {
      {"redis",
       {"redis-server", "--save", "", "--appendonly", "no"},
       "apt-get install redis-server"},
      {"nats", {"nats-server"}, "apt-get install nats-server"},
      {"nats-streaming",
       {"nats-streaming-server"},
       "nats-streaming-server (not packaged by Debian)"},
      {"postgres", {"postgres"}, "apt-get install postgresql (and put its bin directory on PATH)"},
      {"mongo", {"mongod"}, "MongoDB's mongod (not packaged by Debian)"},
  };
  return table;
}

bool on_path(const std::string& program) {
  if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && ::access((fs::path(dir) / program).c_str(), X_OK) == 0) return true;
  return false;
}

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
    : config_(std::move(config)), find_binary_(find_binary ? std::move(find_binary) : on_path) {}

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
        r.reason = "ErrDockerfile";
        r.message = fmt::format("{}: cannot read {}; give the image a command in ticketctl.yaml",
                                s.source, dockerfile.string());
        return r;
      }
    } else if (!read->ok()) {
      r.reason = "ErrDockerfile";
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

Resolution Resolver::resolve(const Json& container) const {
  const std::string image = container.value("image", "");
  if (const project::ImageSetting* s = lookup(config_.images, image))
    return from_setting(*s, container, false);
  if (const project::ImageSetting* s = lookup(config_.artifacts, image))
    return from_setting(*s, container, true);
  const std::string name = image_name(image, false);
  for (const WellKnown& w : well_known()) {
    if (w.image != name) continue;
    std::vector<std::string> argv = argv_for(container, w.argv, {});
    if (!find_binary_(argv[0]))
      return {
          std::nullopt, "ErrImageBinaryMissing",
          fmt::format("image {} runs {}, which is not installed: {}", image, argv[0], w.package)};
    return {ProcessSpec{std::move(argv), {}, {}, fmt::format("built-in mapping for {}", name)}, "",
            ""};
  }
  return {
      std::nullopt, "ErrImageNotMapped",
      fmt::format("image {} is not mapped to a local command: add `images: {{{}: {{context: DIR, "
                  "command: [...]}}}}` to ticketctl.yaml, or a build.artifacts entry to "
                  "skaffold.yaml, in the directory `ticketctl up` runs in",
                  image, name)};
}

}  // namespace ticketctl::images
