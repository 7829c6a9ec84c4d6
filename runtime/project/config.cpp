#include "runtime/project/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "runtime/manifest/schema.h"

namespace ticketctl::project {
namespace fs = std::filesystem;
namespace {

using manifest::Field;
using manifest::Schema;
using manifest::Support;
using manifest::Type;

// ticketctl.yaml as DESIGN.md defines it. `manifests` and `images` are acted on; the other
// settings are checked and accepted with a warning until the parts that use them exist.
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
                                         {"ingress", &kIngress, false, Support::Ignored},
                                         {"restartBackoff", &kBackoff, false, Support::Ignored},
                                         {"hostEnv", &kStrings, false, Support::Ignored},
                                         {"network", &kNetwork, false, Support::Ignored}}};
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

void read_images(const fs::path& file, const YAML::Node& root, Config& config) {
  const YAML::Node images = manifest::child(root, "images");
  if (!images.IsDefined() || !images.IsMap()) return;
  for (auto it = images.begin(); it != images.end(); ++it) {
    const std::string name = it->first.Scalar();
    const YAML::Node e = it->second;
    ImageSetting s;
    s.source = fmt::format("{} images.{}", file.filename().string(), name);
    const YAML::Node context = manifest::child(e, "context");
    s.context =
        absolute_from(file, context.IsDefined() && context.IsScalar() ? context.Scalar() : ".");
    s.command = optional_strings(manifest::child(e, "command"));
    s.args = optional_strings(manifest::child(e, "args"));
    s.build = strings_at(manifest::child(e, "build"));
    const YAML::Node env = manifest::child(e, "env");
    if (env.IsDefined() && env.IsMap())
      for (auto kv = env.begin(); kv != env.end(); ++kv)
        s.env.emplace_back(kv->first.Scalar(), kv->second.IsScalar() ? kv->second.Scalar() : "");
    s.dockerfile = "Dockerfile";
    config.images[name] = std::move(s);
  }
}

void read_artifacts(const fs::path& file, const YAML::Node& root, Config& config) {
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
    const YAML::Node dockerfile = manifest::child(manifest::child(a, "docker"), "dockerfile");
    s.dockerfile =
        dockerfile.IsDefined() && dockerfile.IsScalar() ? dockerfile.Scalar() : "Dockerfile";
    config.artifacts[image.Scalar()] = std::move(s);
  }
}

}  // namespace

Config load(const fs::path& dir, Diagnostics& diags) {
  Config config;
  if (const fs::path file = dir / "ticketctl.yaml"; fs::exists(file)) {
    config.file = file;
    YAML::Node root;
    if (parse(file, root, diags)) {
      manifest::Walker w(file.string(), 0, "", diags);
      w.walk(root, config_schema());
      if (w.ok()) {
        config.manifests = relative_to(file, strings_at(manifest::child(root, "manifests")));
        read_images(file, root, config);
      }
    }
  }
  for (const char* name : {"skaffold.yaml", "skaffold.yml"}) {
    const fs::path file = dir / name;
    if (!fs::exists(file)) continue;
    YAML::Node root;
    if (!parse(file, root, diags)) break;
    read_artifacts(file, root, config);
    if (!config.file.empty()) break;  // ticketctl.yaml's manifests win
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
