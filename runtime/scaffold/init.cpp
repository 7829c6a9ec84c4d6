#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>

#include "runtime/scaffold/app_context.h"
#include "runtime/scaffold/project_edit.h"
#include "runtime/scaffold/scaffold.h"
#include "runtime/scaffold/yaml_edit.h"

namespace ticketctl::scaffold {
namespace fs = std::filesystem;
namespace {

// Reading a repository's code to guess ports is bounded: it may be large.
constexpr size_t kMaxScannedFiles = 300;
constexpr uintmax_t kMaxScannedBytes = 256 << 10;

std::string scalar(const YAML::Node& n) {
  return n.IsDefined() && n.IsScalar() ? n.Scalar() : "";
}

std::string slurp(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_regular_file(p, ec) || fs::file_size(p, ec) > kMaxScannedBytes) return "";
  std::ifstream in(p, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

bool skipped_dir(const std::string& name) {
  return name.empty() || name[0] == '.' || name == "node_modules" || name == "infra" ||
         name == "build" || name == "dist";
}

struct Found {
  int port = 0;
  std::string how;
};

// The port a service listens on: its Dockerfile's EXPOSE, else a listen call in its code.
Found find_port(const fs::path& dir) {
  static const std::regex expose(R"((^|\n)\s*EXPOSE\s+(\d{1,5}))", std::regex::icase);
  static const std::regex listen(R"((listen|PORT\s*\|\||port\s*=)\s*\(?\s*(\d{2,5})\b)");
  std::smatch m;
  const std::string dockerfile = slurp(dir / "Dockerfile");
  if (std::regex_search(dockerfile, m, expose)) return {std::stoi(m[2]), "the Dockerfile's EXPOSE"};
  size_t scanned = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec) && skipped_dir(it->path().filename().string())) {
      it.disable_recursion_pending();
      continue;
    }
    const std::string ext = it->path().extension().string();
    if (ext != ".js" && ext != ".ts" && ext != ".mjs" && ext != ".cpp" && ext != ".cc") continue;
    if (++scanned > kMaxScannedFiles) break;
    const std::string code = slurp(it->path());
    if (std::regex_search(code, m, listen)) {
      const int port = std::stoi(m[2]);
      if (port > 0 && port < 65536)
        return {port, fmt::format("the code ({})", it->path().lexically_relative(dir).string())};
    }
  }
  return {};
}

std::string cmake_executable(const fs::path& dir) {
  static const std::regex exe(R"(add_executable\s*\(\s*([A-Za-z0-9_.+-]+))");
  std::smatch m;
  const std::string cmake = slurp(dir / "CMakeLists.txt");
  return std::regex_search(cmake, m, exe) ? m[1].str() : "";
}

// The images the manifests already run, and the artifacts skaffold.yaml already builds.
struct Existing {
  std::vector<std::string> images;
  std::map<std::string, std::string> artifact_by_context;  // context dir -> image
  std::vector<std::string> skaffold_manifests;
};

Existing existing(const PlanBuilder& b, const fs::path& root,
                  const std::vector<fs::path>& manifests) {
  Existing e;
  for (const fs::path& f : manifest_files(b, manifests)) {
    const auto text = b.read(f);
    if (!text) continue;
    for (const YAML::Node& doc : load_documents(*text)) {
      const YAML::Node containers =
          child(child(child(child(doc, "spec"), "template"), "spec"), "containers");
      if (containers.IsDefined() && containers.IsSequence())
        for (const YAML::Node& c : containers) e.images.push_back(scalar(child(c, "image")));
    }
  }
  for (const char* name : {"skaffold.yaml", "skaffold.yml"}) {
    const auto text = b.read(root / name);
    if (!text) continue;
    for (const YAML::Node& doc : load_documents(*text)) {
      const YAML::Node artifacts = child(child(doc, "build"), "artifacts");
      if (artifacts.IsDefined() && artifacts.IsSequence())
        for (const YAML::Node& a : artifacts) {
          const std::string context = scalar(child(a, "context"));
          e.artifact_by_context
              [(root / (context.empty() ? "." : context)).lexically_normal().filename().string()] =
              scalar(child(a, "image"));
        }
      const YAML::Node m = child(child(child(doc, "deploy"), "kubectl"), "manifests");
      if (m.IsDefined() && m.IsSequence())
        for (const YAML::Node& p : m) {
          std::string s = scalar(p);
          // ticketctl.yaml takes directories: "./infra/k8s/*" -> "infra/k8s".
          if (s.ends_with("/*")) s.resize(s.size() - 2);
          if (!s.empty()) e.skaffold_manifests.push_back(fs::path(s).lexically_normal().string());
        }
    }
    break;
  }
  return e;
}

bool runs_image(const Existing& e, const std::string& image) {
  for (const std::string& i : e.images)
    if (i == image || i.starts_with(image + ":")) return true;
  return false;
}

}  // namespace

Result<Plan> plan_init(const InitOptions& o) {
  const fs::path dir = fs::absolute(o.dir).lexically_normal();
  fs::path named = dir;
  if (named.filename().empty()) named = named.parent_path();
  const std::string app = o.app.empty() ? sanitize_name(named.filename().string()) : o.app;
  if (auto why = check_service_name(app))
    return Error{ErrorCode::Invalid, fmt::format("app name {:?} {}", app, *why)};
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    return Error{ErrorCode::Invalid, fmt::format("{} is not a directory", dir.string())};
  Result<TemplateSet> templates = TemplateSet::load(o.template_dir);
  if (!templates.ok()) return templates.error();
  const TemplateSet& t = templates.value();

  PlanBuilder b;
  const Existing before = existing(b, dir, {});
  const bool has_ticketctl = b.exists(dir / "ticketctl.yaml");
  const bool has_skaffold = b.exists(dir / "skaffold.yaml") || b.exists(dir / "skaffold.yml");
  Data data;
  data.set("app", app);
  data.set("host", app + ".localhost");
  Data manifests{Data::type::list};
  if (before.skaffold_manifests.empty()) manifests.push_back(Data(std::string("infra/k8s")));
  for (const std::string& m : before.skaffold_manifests) manifests.push_back(Data(m));
  data.set("manifests", manifests);

  // The app's own files, except an Ingress when the manifests have one already.
  const AppContext probe = app_context(dir, b, app);
  const bool has_ingress =
      has_ticketctl && find_ingress(b, manifest_files(b, probe.manifest_paths), "").has_value();
  for (const std::string& rel : t.list("app/")) {
    const fs::path out = dir / output_name(rel);
    if (b.exists(out)) continue;
    if (rel == "skaffold.yaml" && has_skaffold) continue;
    if (rel.starts_with("infra/") && (has_ingress || !before.skaffold_manifests.empty())) continue;
    Result<std::string> text = t.render("app/" + rel, data);
    if (!text.ok()) return text.error();
    Result<bool> r = b.create(out, std::move(text.value()), "");
    if (!r.ok()) return r.error();
  }
  const AppContext ctx = app_context(dir, b, app);
  const Existing now = existing(b, dir, ctx.manifest_paths);

  std::vector<fs::path> dirs;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec) && !skipped_dir(it->path().filename().string()))
      dirs.push_back(it->path());
  std::sort(dirs.begin(), dirs.end());
  size_t services = 0;
  for (const fs::path& d : dirs) {
    const bool node = fs::exists(d / "package.json", ec);
    const bool cpp = !node && fs::exists(d / "CMakeLists.txt", ec);
    const bool docker = fs::exists(d / "Dockerfile", ec);
    if (!node && !cpp && !docker) continue;
    ++services;
    ServiceSpec s;
    s.context = d.filename().string();
    s.name = sanitize_name(s.context);
    s.template_name =
        cpp    ? "cpp"
        : node ? (slurp(d / "package.json").find("\"typescript\"") != std::string::npos ? "node-ts"
                                                                                        : "node")
               : "cpp";
    s.has_dockerfile = docker;
    s.cmake_target = cpp ? cmake_executable(d) : "";
    s.tcp_probe = true;
    s.path = "/api/" + s.name;
    auto artifact = now.artifact_by_context.find(s.context);
    s.image = artifact != now.artifact_by_context.end() ? artifact->second : app + "/" + s.name;
    const Found port = find_port(d);
    s.port = port.port != 0 && !o.port_given ? port.port : o.port;
    const std::string how = o.port_given     ? "--port"
                            : port.port != 0 ? port.how
                                             : "a guess: say --port N if not";
    if (runs_image(now, s.image) || b.exists(ctx.manifests_dir / (s.name + "-depl.yaml"))) {
      b.note(fmt::format("{}: has manifests already (image {})", s.context, s.image));
      continue;
    }
    if (!docker) {
      // A real cluster needs an image: the template's Dockerfile, as `new service` writes it.
      const std::string base = "service/" + s.template_name + "/files/";
      const Data sd = service_data(ctx, s, false);
      for (const char* f : {"Dockerfile", "dot-dockerignore"}) {
        if (!t.has(base + f) || b.exists(d / output_name(f))) continue;
        Result<std::string> text = t.render(base + f, sd);
        if (!text.ok()) return text.error();
        Result<bool> r = b.create(d / output_name(f), std::move(text.value()), "");
        if (!r.ok()) return r.error();
      }
    }
    Result<bool> r = add_service(b, t, ctx, s, false, node || cpp);
    if (!r.ok() && r.error().code != ErrorCode::AlreadyExists) return r.error();
    if (!r.ok()) b.note(fmt::format("{}: {}", s.context, r.error().message));
    b.note(fmt::format("{}: {} service {} on port {} (from {}), routed at {}", s.context,
                       s.template_name, s.name, s.port, how, s.path));
  }
  Plan plan = b.take();
  Result<bool> valid = check_manifests(plan, ctx);
  if (!valid.ok()) return valid.error();
  if (services == 0)
    plan.notes.push_back(
        fmt::format("Next: cd {} && ticketctl new service NAME (--template node | node-ts | cpp)",
                    o.dir.string()));
  else
    plan.notes.push_back("Next: ticketctl up --build");
  return plan;
}

}  // namespace ticketctl::scaffold
