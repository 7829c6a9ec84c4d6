#include "runtime/project/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <tuple>

#include "runtime/manifest/schema.h"
#include "runtime/manifest/yaml_budget.h"

namespace ticketctl::project {
namespace fs = std::filesystem;
namespace {

using manifest::Field;
using manifest::Schema;
using manifest::Support;
using manifest::Type;

// ticketctl.yaml as DESIGN.md defines it.
const Schema& config_schema() {
  static const Schema kString{.type = Type::String};
  static const Schema kInt{.type = Type::Integer};
  static const Schema kStrings{.type = Type::Array, .items = &kString};
  static const Schema kStringMap{.type = Type::Map, .items = &kString};
  static const Schema kImage{.type = Type::Object,
                             .fields = {{"context", &kString},
                                        {"command", &kStrings},
                                        {"args", &kStrings},
                                        {"build", &kStrings},
                                        {"env", &kStringMap}}};
  static const Schema kImages{.type = Type::Map, .items = &kImage};
  static const Schema kIngress{
      .type = Type::Object, .fields = {{"http", &kInt}, {"https", &kInt}, {"address", &kString}}};
  static const Schema kBackoff{.type = Type::Object,
                               .fields = {{"initial", &kString}, {"max", &kString}}};
  static const Schema kNetwork{.type = Type::Object,
                               .fields = {{"podCIDR", &kString}, {"serviceCIDR", &kString}}};
  static const Schema kConfig{.type = Type::Object,
                              .fields = {{"apiVersion", &kString},
                                         {"kind", &kString},
                                         {"manifests", &kStrings},
                                         {"images", &kImages},
                                         {"ingress", &kIngress},
                                         {"restartBackoff", &kBackoff},
                                         {"hostEnv", &kStrings},
                                         {"network", &kNetwork}}};
  return kConfig;
}

std::vector<std::string> strings_at(const YAML::Node& node) {
  std::vector<std::string> out;
  if (!node.IsDefined() || !node.IsSequence()) return out;
  for (const YAML::Node& n : node)
    if (n.IsScalar()) out.push_back(n.Scalar());
  return out;
}

// Relative paths in a config file are relative to that file, wherever `up` runs.
std::vector<std::string> relative_to(const fs::path& file, std::vector<std::string> paths) {
  const fs::path base = file.parent_path();
  for (std::string& p : paths)
    if (!fs::path(p).is_absolute() && !base.empty()) p = (base / p).lexically_normal().string();
  return paths;
}

bool parse(const fs::path& file, YAML::Node& root, Diagnostics& diags) {
  std::ifstream in(file);
  std::stringstream buf;
  buf << in.rdbuf();
  // A cloned repository's ticketctl.yaml or skaffold.yaml is input like any manifest.
  if (auto over = manifest::check_yaml_budget(buf.str())) {
    diags.add({Severity::Error,
               {file.string(), over->line + 1, over->column + 1},
               "",
               "",
               over->message});
    return false;
  }
  try {
    root = YAML::Load(buf.str());
    return true;
  } catch (const YAML::Exception& e) {
    diags.add({Severity::Error,
               {file.string(), e.mark.line + 1, e.mark.column + 1},
               "",
               "",
               "YAML syntax error: " + e.msg});
    return false;
  }
}

std::optional<std::vector<std::string>> optional_strings(const YAML::Node& node) {
  if (!node.IsDefined() || !node.IsSequence()) return std::nullopt;
  return strings_at(node);
}

fs::path absolute_from(const fs::path& file, const std::string& p) {
  return (fs::absolute(file).parent_path() / p).lexically_normal();
}

SourcePos mark_of(const fs::path& file, const YAML::Node& n) {
  return {file.string(), n.Mark().line + 1, n.Mark().column + 1};
}

// A build context holds what one image is built from. One that contains the whole project (a
// cloned repository's context: ../../.., or a symlink to /) would have `build` hash and watch
// everything under it, the user's home or the whole file system: refused. Folders beside the
// project (a shared library, an absolute path) are fine.
bool context_allowed(const fs::path& file, const YAML::Node& node, const fs::path& context,
                     const std::string& path, Diagnostics& diags) {
  std::error_code ec;
  const fs::path project = fs::weakly_canonical(fs::absolute(file).parent_path(), ec);
  const fs::path resolved = fs::weakly_canonical(context, ec);
  const auto [end, _] =
      std::mismatch(resolved.begin(), resolved.end(), project.begin(), project.end());
  const bool contains_project = end == resolved.end() && resolved != project;
  if (!ec && !contains_project && resolved != resolved.root_path()) return true;
  diags.add({Severity::Error, mark_of(file, node), "", path,
             fmt::format("{:?} is {}, which contains the whole project ({}): a build context is "
                         "the folder of one image, e.g. the service's own folder",
                         node.Scalar(), resolved.string(), project.string())});
  return false;
}

void read_images(const fs::path& file, const YAML::Node& root, Config& config, Diagnostics& diags) {
  const YAML::Node images = manifest::child(root, "images");
  if (!images.IsDefined() || !images.IsMap()) return;
  for (auto it = images.begin(); it != images.end(); ++it) {
    const std::string name = it->first.Scalar();
    const YAML::Node e = it->second;
    ImageSetting s;
    s.source = fmt::format("{} images.{}", file.filename().string(), name);
    const YAML::Node context = manifest::child(e, "context");
    s.context_given = context.IsDefined() && context.IsScalar();
    s.context = absolute_from(file, s.context_given ? context.Scalar() : ".");
    if (s.context_given &&
        !context_allowed(file, context, s.context, fmt::format("images.{}.context", name), diags))
      continue;
    s.command = optional_strings(manifest::child(e, "command"));
    s.args = optional_strings(manifest::child(e, "args"));
    const YAML::Node build = manifest::child(e, "build");
    s.build_given = build.IsDefined() && build.IsSequence();
    s.build = strings_at(build);
    const YAML::Node env = manifest::child(e, "env");
    if (env.IsDefined() && env.IsMap())
      for (auto kv = env.begin(); kv != env.end(); ++kv)
        s.env.emplace_back(kv->first.Scalar(), kv->second.IsScalar() ? kv->second.Scalar() : "");
    s.dockerfile = "Dockerfile";
    config.images[name] = std::move(s);
  }
}

void read_artifacts(const fs::path& file, const YAML::Node& root, Config& config,
                    Diagnostics& diags) {
  const YAML::Node artifacts = manifest::child(manifest::child(root, "build"), "artifacts");
  if (!artifacts.IsDefined() || !artifacts.IsSequence()) return;
  for (size_t i = 0; i < artifacts.size(); ++i) {
    const YAML::Node a = artifacts[i];
    const YAML::Node image = manifest::child(a, "image");
    if (!image.IsDefined() || !image.IsScalar()) continue;
    ImageSetting s;
    s.source =
        fmt::format("{} build.artifacts[{}] ({})", file.filename().string(), i, image.Scalar());
    const YAML::Node context = manifest::child(a, "context");
    s.context =
        absolute_from(file, context.IsDefined() && context.IsScalar() ? context.Scalar() : ".");
    if (context.IsDefined() && context.IsScalar() &&
        !context_allowed(file, context, s.context, fmt::format("build.artifacts[{}].context", i),
                         diags))
      continue;
    const YAML::Node dockerfile = manifest::child(manifest::child(a, "docker"), "dockerfile");
    s.dockerfile =
        dockerfile.IsDefined() && dockerfile.IsScalar() ? dockerfile.Scalar() : "Dockerfile";
    const YAML::Node manual = manifest::child(manifest::child(a, "sync"), "manual");
    if (manual.IsDefined() && manual.IsSequence())
      for (const YAML::Node& rule : manual)
        if (const YAML::Node src = manifest::child(rule, "src"); src.IsDefined() && src.IsScalar())
          s.sync_globs.push_back(src.Scalar());
    config.artifacts[image.Scalar()] = std::move(s);
  }
}

void read_settings(const fs::path& file, const YAML::Node& root, Config& config,
                   Diagnostics& diags) {
  auto error = [&](const YAML::Node& n, const std::string& path, std::string message) {
    diags.add({Severity::Error, mark_of(file, n), "", path, std::move(message)});
  };
  const YAML::Node backoff = manifest::child(root, "restartBackoff");
  for (auto [key, target] :
       {std::pair{"initial", &config.backoff_initial}, std::pair{"max", &config.backoff_max}}) {
    const YAML::Node v = manifest::child(backoff, key);
    if (!v.IsDefined() || !v.IsScalar()) continue;
    const auto d = parse_duration(v.Scalar());
    if (!d || d->count() <= 0)
      error(v, fmt::format("restartBackoff.{}", key),
            fmt::format("{:?} is not a duration (write e.g. 500ms, 1s, 2m)", v.Scalar()));
    else
      *target = *d;
  }
  if (config.backoff_max < config.backoff_initial) config.backoff_max = config.backoff_initial;
  config.host_env = strings_at(manifest::child(root, "hostEnv"));
  const YAML::Node ingress = manifest::child(root, "ingress");
  for (auto [key, target] :
       {std::pair{"http", &config.ingress_http}, std::pair{"https", &config.ingress_https}}) {
    const YAML::Node v = manifest::child(ingress, key);
    if (!v.IsDefined() || !v.IsScalar()) continue;
    const int port = v.as<int>(-2);
    if (port < -1 || port > 65535)
      error(v, fmt::format("ingress.{}", key), "a port is 0..65535 (0: any free port, -1: off)");
    else
      *target = port;
  }
  if (const YAML::Node a = manifest::child(ingress, "address"); a.IsDefined() && a.IsScalar())
    config.ingress_address = a.Scalar();
  const YAML::Node network = manifest::child(root, "network");
  for (auto [key, base, prefix] :
       {std::tuple{"podCIDR", &config.pod_cidr, &config.pod_prefix},
        std::tuple{"serviceCIDR", &config.service_cidr, &config.service_prefix}}) {
    const YAML::Node v = manifest::child(network, key);
    if (!v.IsDefined() || !v.IsScalar()) continue;
    const auto cidr = parse_loopback_cidr(v.Scalar());
    if (!cidr) {
      error(v, fmt::format("network.{}", key),
            fmt::format("{:?} is not a loopback range inside 127.0.0.0/8 with a prefix of 8 to 30",
                        v.Scalar()));
      continue;
    }
    *base = cidr->first;
    *prefix = cidr->second;
  }
  const uint64_t pod_size = 1ull << (32 - config.pod_prefix);
  const uint64_t svc_size = 1ull << (32 - config.service_prefix);
  if (config.pod_cidr < config.service_cidr + svc_size &&
      config.service_cidr < config.pod_cidr + pod_size)
    error(network, "network", "podCIDR and serviceCIDR overlap");
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && (std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '.'))
      ++j;
    if (j == i) return std::nullopt;
    const double number = std::strtod(std::string(text.substr(i, j - i)).c_str(), nullptr);
    size_t k = j;
    while (k < text.size() && std::isalpha(static_cast<unsigned char>(text[k]))) ++k;
    const std::string_view unit = text.substr(j, k - j);
    double scale;
    if (unit == "ms")
      scale = 1;
    else if (unit == "s")
      scale = 1000;
    else if (unit == "m")
      scale = 60000;
    else if (unit == "h")
      scale = 3600000;
    else
      return std::nullopt;
    total_ms += number * scale;
    i = k;
  }
  return std::chrono::milliseconds(static_cast<int64_t>(total_ms));
}

std::optional<std::pair<uint32_t, int>> parse_loopback_cidr(std::string_view text) {
  unsigned a, b, c, d;
  int prefix;
  char tail;
  if (std::sscanf(std::string(text).c_str(), "%u.%u.%u.%u/%d%c", &a, &b, &c, &d, &prefix, &tail) !=
      5)
    return std::nullopt;
  if (a != 127 || b > 255 || c > 255 || d > 255 || prefix < 8 || prefix > 30) return std::nullopt;
  const uint32_t mask = prefix == 0 ? 0 : ~0u << (32 - prefix);
  return std::pair{((a << 24) | (b << 16) | (c << 8) | d) & mask, prefix};
}

Config load(const fs::path& dir, Diagnostics& diags) {
  Config config;
  // Each key of ticketctl.yaml stands alone: one that sets only `ingress:` or `images:` still
  // deploys what skaffold.yaml names.
  bool manifests_given = false;
  if (const fs::path file = dir / "ticketctl.yaml"; fs::exists(file)) {
    config.file = file;
    YAML::Node root;
    if (parse(file, root, diags)) {
      manifest::Walker w(file.string(), 0, "", diags);
      w.walk(root, config_schema());
      if (w.ok()) {
        manifests_given = manifest::child(root, "manifests").IsDefined();
        config.manifests = relative_to(file, strings_at(manifest::child(root, "manifests")));
        read_images(file, root, config, diags);
        read_settings(file, root, config, diags);
      }
    }
  }
  for (const char* name : {"skaffold.yaml", "skaffold.yml"}) {
    const fs::path file = dir / name;
    if (!fs::exists(file)) continue;
    YAML::Node root;
    if (!parse(file, root, diags)) break;
    read_artifacts(file, root, config, diags);
    if (manifests_given) break;  // ticketctl.yaml's manifests win
    config.file = file;
    // skaffold v2 writes deploy.kubectl.manifests; v3 and later manifests.rawYaml.
    std::vector<std::string> found = strings_at(
        manifest::child(manifest::child(manifest::child(root, "deploy"), "kubectl"), "manifests"));
    for (std::string& m :
         strings_at(manifest::child(manifest::child(root, "manifests"), "rawYaml")))
      found.push_back(std::move(m));
    config.manifests = relative_to(file, std::move(found));
    break;
  }
  return config;
}

}  // namespace ticketctl::project
