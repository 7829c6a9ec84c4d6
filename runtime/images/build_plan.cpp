#include "runtime/images/build_plan.h"

#include <fnmatch.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

#include "runtime/images/resolver.h"

namespace ticketctl::images {
namespace fs = std::filesystem;
namespace {

using Words = std::vector<std::string>;

// What COPY put where: an image path (absolute, normalised) and the host file or directory its
// content came from.
struct Mapping {
  std::string image;
  fs::path host;
  bool is_dir = false;
};

std::string image_path(const std::string& workdir, const std::string& p) {
  const fs::path joined = p.starts_with("/") ? fs::path(p) : fs::path(workdir) / p;
  std::string s = joined.lexically_normal().generic_string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

bool has_glob(std::string_view s) {
  return s.find_first_of("*?[") != std::string_view::npos;
}

// The host entries a COPY source names: a path, or a glob matched in its directory (Docker's
// `*` does not cross `/`).
std::vector<fs::path> expand_source(const fs::path& context, std::string src) {
  while (src.starts_with("./")) src.erase(0, 2);
  if (src.empty() || src == ".") return {context};
  std::error_code ec;
  if (!has_glob(src)) {
    const fs::path p = (context / src).lexically_normal();
    if (fs::exists(p, ec)) return {p};
    return {};
  }
  const fs::path pattern(src);
  const fs::path dir = (context / pattern.parent_path()).lexically_normal();
  const std::string name = pattern.filename().string();
  std::vector<fs::path> out;
  for (fs::directory_iterator it(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
    if (::fnmatch(name.c_str(), it->path().filename().c_str(), FNM_PERIOD) == 0)
      out.push_back(it->path());
  std::sort(out.begin(), out.end());
  return out;
}

void record_copy(const BuildStep& step, const fs::path& context, std::vector<Mapping>& mappings) {
  if (!step.from.empty() || step.words.size() < 2) return;  // another stage's files
  const std::string& dest_word = step.words.back();
  const std::string dest = image_path(step.workdir, dest_word);
  const size_t sources = step.words.size() - 1;
  const bool dest_is_dir = dest_word.ends_with("/") || dest_word == "." || sources > 1;
  for (size_t i = 0; i < sources; ++i) {
    const std::string& src = step.words[i];
    if (src.find("://") != std::string::npos) continue;  // ADD from a URL
    for (const fs::path& host : expand_source(context, src)) {
      std::error_code ec;
      if (fs::is_directory(host, ec)) {
        mappings.push_back({dest, host, true});  // a directory's contents go into dest
      } else {
        const bool into_dir = dest_is_dir || has_glob(src);
        mappings.push_back(
            {into_dir ? image_path(dest, host.filename().string()) : dest, host, false});
      }
    }
  }
}

// The host file behind an image path, looking at the latest COPY first.
std::optional<fs::path> host_of(const std::vector<Mapping>& mappings, const std::string& path) {
  for (auto it = mappings.rbegin(); it != mappings.rend(); ++it) {
    if (!it->is_dir) {
      if (it->image == path) return it->host;
      continue;
    }
    const fs::path rel = fs::path(path).lexically_relative(it->image);
    if (rel.empty() || rel.begin()->string() == "..") continue;
    std::error_code ec;
    const fs::path host = (it->host / rel).lexically_normal();
    if (fs::exists(host, ec)) return host;
  }
  return std::nullopt;
}

// Splits a RUN line into its commands at && || ; | and newlines, each as words (quotes removed).
std::vector<Words> shell_commands(std::string_view line) {
  std::vector<Words> out(1);
  std::string cur;
  bool any = false;
  char quote = 0;
  auto end_word = [&] {
    if (any) out.back().push_back(cur);
    cur.clear();
    any = false;
  };
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quote) {
      if (c == quote)
        quote = 0;
      else if (c == '\\' && quote == '"' && i + 1 < line.size())
        cur += line[++i];
      else
        cur += c;
      continue;
    }
    if (c == '"' || c == '\'') {
      quote = c;
      any = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      cur += line[++i];
      any = true;
    } else if (c == ' ' || c == '\t') {
      end_word();
    } else if (c == '&' || c == '|' || c == ';' || c == '\n') {
      end_word();
      if (i + 1 < line.size() && (line[i + 1] == '&' || line[i + 1] == '|') && c != ';') ++i;
      if (!out.back().empty()) out.emplace_back();
    } else {
      cur += c;
      any = true;
    }
  }
  end_word();
  if (out.back().empty()) out.pop_back();
  return out;
}

bool is_env_assignment(const std::string& w) {
  const size_t eq = w.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  return std::all_of(w.begin(), w.begin() + static_cast<long>(eq), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// npm/yarn/pnpm flags whose value is the next word when not written as --flag=value.
bool takes_value(std::string_view flag) {
  static const std::vector<std::string_view> kFlags = {
      "--only",  "--omit",   "--include",         "--registry",       "--loglevel",
      "--cache", "--prefix", "--network-timeout", "--modules-folder", "--filter"};
  return std::find(kFlags.begin(), kFlags.end(), flag) != kFlags.end();
}

enum class Kind { Install, Ignore, Skip };
struct Classified {
  Kind kind = Kind::Skip;
  std::string why;
};

// Is `argv` (env assignments removed) a project dependency install?
Classified classify(const Words& argv) {
  const std::string tool = fs::path(argv[0]).filename().string();
  if (tool == "corepack") return {Kind::Ignore, ""};  // yarn/pnpm go through it when needed
  if (tool != "npm" && tool != "yarn" && tool != "pnpm")
    return {Kind::Skip, "only dependency installs (npm, yarn, pnpm) run on the host"};
  Words positional;
  bool global = false;
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string& w = argv[i];
    if (w == "-g" || w == "--global" || w == "--location=global") global = true;
    if (w.starts_with("-")) {
      if (takes_value(w) && i + 1 < argv.size()) ++i;
      continue;
    }
    positional.push_back(w);
  }
  if (tool == "yarn" && !positional.empty() && positional[0] == "global") global = true;
  if (global) return {Kind::Skip, "a global install would change the host"};
  const std::string sub = positional.empty() ? "" : positional[0];
  const bool install = (tool == "npm" && (sub == "install" || sub == "i" || sub == "ci")) ||
                       (tool == "yarn" && (sub.empty() || sub == "install")) ||
                       (tool == "pnpm" && (sub == "install" || sub == "i"));
  if (!install) return {Kind::Skip, "only dependency installs (npm, yarn, pnpm) run on the host"};
  if (positional.size() > 1)
    return {Kind::Skip, "installing named packages would change package.json on the host"};
  return {Kind::Install, ""};
}

// A package.json that declares no dependencies has nothing to install: running npm would only
// write a lockfile into the user's sources.
bool declares_dependencies(const fs::path& package_json) {
  std::ifstream in(package_json);
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_object()) return true;  // let the installer report what is wrong with it
  for (const char* key : {"dependencies", "devDependencies", "optionalDependencies"})
    if (auto it = j.find(key); it != j.end() && it->is_object() && !it->empty()) return true;
  return false;
}

std::string step_text(const BuildStep& step) {
  if (!step.shell.empty()) return "RUN " + step.shell;
  return fmt::format("RUN {}", fmt::join(step.words, " "));
}

void add_unique(std::vector<fs::path>& v, const fs::path& p) {
  if (std::find(v.begin(), v.end(), p) == v.end()) v.push_back(p);
}

void plan_run(const BuildStep& step, const std::vector<Mapping>& mappings, BuildPlan& plan) {
  const std::vector<Words> commands =
      step.shell.empty() ? std::vector<Words>{step.words} : shell_commands(step.shell);
  std::string workdir = step.workdir;
  std::vector<std::string> skipped_why;
  for (Words argv : commands) {
    std::vector<std::pair<std::string, std::string>> env;
    while (!argv.empty() && is_env_assignment(argv[0])) {
      const size_t eq = argv[0].find('=');
      env.emplace_back(argv[0].substr(0, eq), argv[0].substr(eq + 1));
      argv.erase(argv.begin());
    }
    if (argv.empty()) continue;
    if (argv[0] == "cd" && argv.size() == 2) {
      workdir = image_path(workdir, argv[1]);
      continue;
    }
    const Classified c = classify(argv);
    if (c.kind == Kind::Ignore) continue;
    if (c.kind == Kind::Skip) {
      skipped_why.push_back(fmt::format("`{}`: {}", fmt::join(argv, " "), c.why));
      continue;
    }
    const std::optional<fs::path> manifest = host_of(mappings, image_path(workdir, "package.json"));
    if (!manifest) {
      skipped_why.push_back(fmt::format("`{}`: no package.json was copied into {} before it",
                                        fmt::join(argv, " "), workdir));
      continue;
    }
    if (!declares_dependencies(*manifest)) continue;
    BuildCommand cmd;
    cmd.dir = manifest->parent_path();
    cmd.text = fmt::format("{}", fmt::join(argv, " "));
    cmd.argv = std::move(argv);
    // The Dockerfile's ENV and ARG values reach the install as they would in the image (so
    // NODE_ENV=production still leaves devDependencies out), except what finds the host's tools.
    for (const auto& kv : step.env)
      if (kv.first != "PATH" && kv.first != "HOME") cmd.env.push_back(kv);
    for (auto& kv : env) cmd.env.push_back(std::move(kv));
    // Docker's layer cache: the install depends on what was copied before it, nothing later.
    for (const Mapping& m : mappings) add_unique(plan.inputs, m.host);
    add_unique(plan.outputs, cmd.dir / "node_modules");
    plan.commands.push_back(std::move(cmd));
  }
  if (!skipped_why.empty())
    plan.skipped.push_back(
        {step.line, step_text(step), fmt::format("{}", fmt::join(skipped_why, "; "))});
}

}  // namespace

BuildPlan plan_from_dockerfile(const Dockerfile& dockerfile, const fs::path& context,
                               const std::string& origin) {
  BuildPlan plan;
  plan.origin = origin;
  std::vector<Mapping> mappings;
  for (const BuildStep& step : dockerfile.steps) {
    if (step.keyword == "RUN")
      plan_run(step, mappings, plan);
    else
      record_copy(step, context, mappings);
  }
  return plan;
}

BuildPlan plan_build(const project::ImageSetting& s) {
  if (s.build_given) {
    BuildPlan plan;
    if (s.build.empty()) return plan;
    plan.origin = s.source + ".build";
    plan.commands.push_back({s.build, s.context, {}, fmt::format("{}", fmt::join(s.build, " "))});
    plan.inputs.push_back(s.context);
    return plan;
  }
  const fs::path file = s.context / s.dockerfile;
  std::ifstream in(file);
  if (!in) return {};
  std::stringstream text;
  text << in.rdbuf();
  const Result<Dockerfile> parsed = parse_dockerfile(text.str(), file.string());
  if (!parsed.ok()) return {};
  return plan_from_dockerfile(parsed.value(), s.context, file.string());
}

const project::ImageSetting* find_image_setting(const project::Config& config,
                                                std::string_view image) {
  for (const auto* settings : {&config.images, &config.artifacts}) {
    if (auto it = settings->find(image_name(image, true)); it != settings->end())
      return &it->second;
    if (auto it = settings->find(image_name(image, false)); it != settings->end())
      return &it->second;
  }
  return nullptr;
}

std::string build_key(std::string_view image) {
  std::string key = image_name(image, false);
  for (char& ch : key)
    if (ch == '/' || ch == ':') ch = '_';
  return key;
}

}  // namespace ticketctl::images
