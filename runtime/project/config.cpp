#include "runtime/project/config.h"

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

// ticketctl.yaml as DESIGN.md defines it. Only `manifests` is acted on yet; the other settings
// are checked and accepted with a warning until the parts that use them exist.
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
                                         {"images", &kImages, false, Support::Ignored},
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

}  // namespace

Config load(const fs::path& dir, Diagnostics& diags) {
  Config config;
  if (const fs::path file = dir / "ticketctl.yaml"; fs::exists(file)) {
    config.file = file;
    YAML::Node root;
    if (!parse(file, root, diags)) return config;
    manifest::Walker w(file.string(), 0, "", diags);
    w.walk(root, config_schema());
    if (w.ok())
      config.manifests = relative_to(file, strings_at(manifest::child(root, "manifests")));
    return config;
  }
  for (const char* name : {"skaffold.yaml", "skaffold.yml"}) {
    const fs::path file = dir / name;
    if (!fs::exists(file)) continue;
    config.file = file;
    YAML::Node root;
    if (!parse(file, root, diags)) return config;
    // skaffold v2 writes deploy.kubectl.manifests; v3 and later manifests.rawYaml.
    std::vector<std::string> found = strings_at(
        manifest::child(manifest::child(manifest::child(root, "deploy"), "kubectl"), "manifests"));
    for (std::string& m :
         strings_at(manifest::child(manifest::child(root, "manifests"), "rawYaml")))
      found.push_back(std::move(m));
    config.manifests = relative_to(file, std::move(found));
    return config;
  }
  return config;
}

}  // namespace ticketctl::project
