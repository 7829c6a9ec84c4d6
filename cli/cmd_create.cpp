#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "cli/api_verbs.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "runtime/api/resources.h"
#include "runtime/core/strings.h"
#include "runtime/manifest/names.h"
#include "runtime/manifest/yaml_writer.h"

namespace ticketctl::cli {
namespace {
namespace fs = std::filesystem;

// --from-literal, --from-file and --from-env-file, as kubectl reads them.
struct Sources {
  std::vector<std::string> literals, files, env_files;

  void attach(CLI::App& cmd) {
    cmd.add_option("--from-literal", literals, "KEY=VALUE; repeatable");
    cmd.add_option("--from-file", files,
                   "[KEY=]PATH: the file's bytes under KEY (default: its name); repeatable");
    cmd.add_option("--from-env-file", env_files,
                   "PATH of KEY=VALUE lines (# comments, blank lines skipped)");
  }

  // Collects key -> bytes; the first problem is the error.
  Result<std::vector<std::pair<std::string, std::string>>> collect() const {
    std::vector<std::pair<std::string, std::string>> out;
    auto add = [&](std::string key, std::string value) -> std::optional<Error> {
      if (auto bad = manifest::check_config_key(key))
        return Error{ErrorCode::Invalid,
                     fmt::format("{} is not a valid key name: {}", quote(key), *bad)};
      for (const auto& [k, v] : out)
        if (k == key)
          return Error{
              ErrorCode::Invalid,
              fmt::format("cannot add key {}, another key by that name already exists", key)};
      out.emplace_back(std::move(key), std::move(value));
      return std::nullopt;
    };
    for (const std::string& l : literals) {
      const size_t eq = l.find('=');
      if (eq == std::string::npos || eq == 0)
        return Error{ErrorCode::Invalid,
                     fmt::format("invalid literal source {}, expected key=value", l)};
      if (auto e = add(l.substr(0, eq), l.substr(eq + 1))) return *e;
    }
    for (const std::string& f : files) {
      const size_t eq = f.find('=');
      const std::string path = eq == std::string::npos ? f : f.substr(eq + 1);
      const std::string key =
          eq == std::string::npos ? fs::path(f).filename().string() : f.substr(0, eq);
      std::ifstream in(path, std::ios::binary);
      if (!in)
        return Error{ErrorCode::Invalid,
                     fmt::format("error reading {}: no such file or directory", path)};
      std::stringstream buf;
      buf << in.rdbuf();
      if (auto e = add(key, buf.str())) return *e;
    }
    for (const std::string& f : env_files) {
      std::ifstream in(f);
      if (!in)
        return Error{ErrorCode::Invalid,
                     fmt::format("error reading {}: no such file or directory", f)};
      int line_no = 0;
      for (std::string line; std::getline(in, line);) {
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const size_t start = line.find_first_not_of(" \t");
        if (start == std::string::npos || line[start] == '#') continue;
        const size_t eq = line.find('=');
        if (eq == std::string::npos)
          return Error{ErrorCode::Invalid, fmt::format("{}:{}: expected KEY=VALUE", f, line_no)};
        if (auto e = add(line.substr(start, eq - start), line.substr(eq + 1))) return *e;
      }
    }
    return out;
  }
};

struct CreateArgs {
  std::string name, ns = "default", type, output;
  Sources sources;
  StateDirArg state;
};

void common_flags(CLI::App& cmd, CreateArgs& a, bool namespaced) {
  cmd.add_option("name", a.name, "Object name")->required();
  if (namespaced) cmd.add_option("-n,--namespace", a.ns, "Namespace")->capture_default_str();
  cmd.add_option("-o,--output", a.output, "Print the object instead of creating it: yaml or json")
      ->check(CLI::IsMember({"yaml", "json"}));
  a.state.attach(cmd);
}

bool is_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = s[i];
    const size_t len = c < 0x80         ? 1
                       : (c >> 5) == 6  ? 2
                       : (c >> 4) == 14 ? 3
                       : (c >> 3) == 30 ? 4
                                        : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    i += len;
  }
  return true;
}

int create(const CreateArgs& a, const api::Resource& r, Json object) {
  if (a.output == "json" || a.output == "yaml") {
    std::cout << (a.output == "json" ? object.dump(4) + "\n" : manifest::to_yaml(object));
    return kExitOk;
  }
  Result<api::ApiClient> client = a.state.connect();
  if (!client.ok()) {
    std::cerr << "error: " << client.error().message << '\n';
    return kExitFailure;
  }
  Result<Json> created = client.value().post(r.path(r.namespaced ? a.ns : ""), object);
  if (!created.ok()) {
    std::cerr << "error: failed to create " << r.singular << ' ' << created.error().message << '\n';
    return kExitFailure;
  }
  std::cout << r.kubectl_kind() << '/' << a.name << " created\n";
  return kExitOk;
}

Json metadata(const CreateArgs& a, bool namespaced) {
  Json meta = {{"name", a.name}};
  if (namespaced) meta["namespace"] = a.ns;
  return meta;
}

}  // namespace

Handler attach_create(CLI::App& verb) {
  verb.require_subcommand(1);
  auto secret = std::make_shared<CreateArgs>();
  auto configmap = std::make_shared<CreateArgs>();
  auto ns = std::make_shared<CreateArgs>();
  CLI::App* secret_cmd = verb.add_subcommand("secret", "Create a Secret")->require_subcommand(1);
  CLI::App* generic =
      secret_cmd->add_subcommand("generic", "Create a Secret from literals, files or env files");
  common_flags(*generic, *secret, true);
  secret->sources.attach(*generic);
  generic->add_option("--type", secret->type, "Secret type (default Opaque)");
  CLI::App* cm_cmd =
      verb.add_subcommand("configmap", "Create a ConfigMap from literals, files or env files");
  cm_cmd->alias("cm");
  common_flags(*cm_cmd, *configmap, true);
  configmap->sources.attach(*cm_cmd);
  CLI::App* ns_cmd = verb.add_subcommand("namespace", "Create a Namespace");
  ns_cmd->alias("ns");
  common_flags(*ns_cmd, *ns, false);
  verb.footer(
      "Secret values are sent base64-encoded and never printed unless asked for with -o.\n"
      "Example: ticketctl create secret generic jwt-secret --from-literal=JWT_KEY=asdf");

  return [=]() -> int {
    if (generic->parsed()) {
      auto data = secret->sources.collect();
      if (!data.ok()) {
        std::cerr << "error: " << data.error().message << '\n';
        return kExitFailure;
      }
      Json object = {{"apiVersion", "v1"},
                     {"kind", "Secret"},
                     {"metadata", metadata(*secret, true)},
                     {"type", secret->type.empty() ? "Opaque" : secret->type},
                     {"data", Json::object()}};
      for (const auto& [k, v] : data.value()) object["data"][k] = base64_encode(v);
      return create(*secret, *api::find_resource("secrets"), std::move(object));
    }
    if (cm_cmd->parsed()) {
      auto data = configmap->sources.collect();
      if (!data.ok()) {
        std::cerr << "error: " << data.error().message << '\n';
        return kExitFailure;
      }
      Json object = {
          {"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", metadata(*configmap, true)}};
      for (const auto& [k, v] : data.value()) {
        // Text goes to data; bytes that are not UTF-8 go to binaryData, base64-encoded.
        if (is_utf8(v))
          object["data"][k] = v;
        else
          object["binaryData"][k] = base64_encode(v);
      }
      return create(*configmap, *api::find_resource("configmaps"), std::move(object));
    }
    Json object = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", metadata(*ns, false)}};
    return create(*ns, *api::find_resource("namespaces"), std::move(object));
  };
}

}  // namespace ticketctl::cli
