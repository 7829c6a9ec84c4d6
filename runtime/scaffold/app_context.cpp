#include "runtime/scaffold/app_context.h"

#include <fmt/format.h>

#include <cctype>

#include "runtime/manifest/loader.h"
#include "runtime/scaffold/project_edit.h"
#include "runtime/scaffold/yaml_edit.h"

namespace ticketctl::scaffold {
namespace fs = std::filesystem;
namespace {

struct DbKind {
  const char* kind;
  const char* env;
  const char* url;  // {name} is the service
};

constexpr DbKind kDbKinds[] = {
    {"redis", "REDIS_URL", "redis://{name}-redis-srv:6379"},
    {"postgres", "DATABASE_URL", "postgres://postgres:postgres@{name}-postgres-srv:5432/postgres"},
    {"mongo", "MONGO_URI", "mongodb://{name}-mongo-srv:27017/{name}"},
};

Result<bool> render_into(PlanBuilder& b, const TemplateSet& t, const std::string& tmpl,
                         const Data& data, const fs::path& out, const std::string& summary) {
  Result<std::string> text = t.render(tmpl, data);
  if (!text.ok()) return text.error();
  return b.create(out, std::move(text.value()), summary);
}

}  // namespace

std::string sanitize_name(const std::string& text) {
  std::string out;
  for (char c : text) {
    const char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9'))
      out += l;
    else if (!out.empty() && out.back() != '-')
      out += '-';
  }
  while (!out.empty() && (out.back() == '-' || out.size() > 40)) out.pop_back();
  while (!out.empty() && !(out[0] >= 'a' && out[0] <= 'z')) out.erase(0, 1);
  return out.empty() ? "app" : out;
}

AppContext app_context(const fs::path& root, const PlanBuilder& b, const std::string& app_name) {
  AppContext ctx;
  ctx.root = root;
  ctx.ticketctl_yaml = root / "ticketctl.yaml";
  ctx.skaffold_yaml = root / "skaffold.yaml";
  if (!b.exists(ctx.skaffold_yaml) && b.exists(root / "skaffold.yml"))
    ctx.skaffold_yaml = root / "skaffold.yml";
  if (const auto text = b.read(ctx.ticketctl_yaml)) {
    const std::vector<YAML::Node> docs = load_documents(*text);
    const YAML::Node manifests = docs.empty() ? YAML::Node() : child(docs[0], "manifests");
    if (manifests.IsDefined() && manifests.IsSequence())
      for (const YAML::Node& m : manifests)
        if (m.IsScalar()) ctx.manifest_paths.push_back((root / m.Scalar()).lexically_normal());
  }
  for (const fs::path& p : ctx.manifest_paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec) || (!fs::exists(p, ec) && p.extension().empty())) {
      ctx.manifests_dir = p;
      break;
    }
  }
  if (ctx.manifests_dir.empty()) ctx.manifests_dir = root / "infra" / "k8s";
  if (ctx.manifest_paths.empty()) ctx.manifest_paths.push_back(ctx.manifests_dir);
  ctx.app = app_name;
  if (ctx.app.empty()) {
    // The app's name is its Ingress host's first label (APP.localhost), else its directory's.
    if (auto ingress = find_ingress(b, manifest_files(b, ctx.manifest_paths), "");
        ingress && ingress->host.ends_with(".localhost"))
      ctx.app = ingress->host.substr(0, ingress->host.size() - 10);
    else
      ctx.app = sanitize_name(root.filename().string());
  }
  return ctx;
}

Data service_data(const AppContext& ctx, const ServiceSpec& s, bool regex) {
  Data d;
  d.set("app", ctx.app);
  d.set("host", ctx.app + ".localhost");
  d.set("name", s.name);
  d.set("image", s.image);
  d.set("template", s.template_name);
  d.set("port", std::to_string(s.port));
  d.set("path", s.path);
  d.set("replicas", std::to_string(s.replicas));
  d.set("context", s.context.empty() ? s.name : s.context);
  d.set("cmake_target", s.cmake_target.empty() ? s.name : s.cmake_target);
  // Mustache's inverted sections leave a blank line where they are skipped: positive flags.
  d.set("needs_command", !s.has_dockerfile);
  d.set("tcp_probe", s.tcp_probe);
  d.set("http_probe", !s.tcp_probe);
  d.set("ingress_path", regex ? s.path + "/?(.*)" : s.path);
  d.set("ingress_path_type", std::string(regex ? "ImplementationSpecific" : "Prefix"));
  Data secrets{Data::type::list};
  for (const ServiceSpec::Secret& sec : s.secrets) {
    Data item;
    item.set("secret", sec.secret);
    item.set("key", sec.key);
    item.set("env", sec.env);
    secrets.push_back(item);
  }
  d.set("secrets", secrets);
  d.set("has_secrets", !s.secrets.empty());
  d.set("has_env", !s.secrets.empty() || !s.db.empty());
  d.set("db", false);
  for (const DbKind& k : kDbKinds) {
    d.set(std::string("db_") + k.kind, s.db == k.kind);
    if (s.db != k.kind) continue;
    Data db;
    db.set("db_kind", std::string(k.kind));
    db.set("db_env", std::string(k.env));
    db.set("db_url", fmt::format(fmt::runtime(k.url), fmt::arg("name", s.name)));
    d.set("db", db);
  }
  return d;
}

Result<bool> add_service(PlanBuilder& b, const TemplateSet& t, const AppContext& ctx,
                         const ServiceSpec& s, bool files, bool image_entry) {
  const std::string base = "service/" + s.template_name + "/";
  const auto ingress =
      find_ingress(b, manifest_files(b, ctx.manifest_paths), ctx.app + ".localhost");
  const Data data = service_data(ctx, s, ingress && ingress->regex);
  if (files) {
    for (const std::string& rel : t.list(base + "files/")) {
      const fs::path out = ctx.root / s.name / output_name(rel);
      Result<bool> r = render_into(b, t, base + "files/" + rel, data, out, "");
      if (!r.ok()) return r;
    }
  }
  Result<bool> r =
      render_into(b, t, "k8s/depl.yaml", data, ctx.manifests_dir / (s.name + "-depl.yaml"), "");
  if (!r.ok()) return r;
  if (!s.db.empty()) {
    r = render_into(b, t, "k8s/" + s.db + ".yaml", data,
                    ctx.manifests_dir / fmt::format("{}-{}-depl.yaml", s.name, s.db), "");
    if (!r.ok()) return r;
  }
  if (image_entry && t.has(base + "image.yaml") && b.exists(ctx.ticketctl_yaml)) {
    Result<std::string> value = t.render(base + "image.yaml", data);
    if (!value.ok()) return value.error();
    r = add_image(b, ctx.ticketctl_yaml, s.image, value.value());
    if (!r.ok()) return r;
  }
  if (t.has(base + "artifact.yaml") && b.exists(ctx.skaffold_yaml)) {
    Result<std::string> item = t.render(base + "artifact.yaml", data);
    if (!item.ok()) return item.error();
    r = add_artifact(b, ctx.skaffold_yaml, s.image, item.value());
    if (!r.ok()) return r;
  }
  if (!ingress) {
    b.note(fmt::format("No Ingress in {}: {} is reachable from the other pods only.",
                       ctx.manifests_dir.lexically_relative(ctx.root).string(), s.name));
    return true;
  }
  Result<std::string> item = t.render("k8s/ingress-path.yaml", data);
  if (!item.ok()) return item.error();
  const std::string path = ingress->regex ? s.path + "/?(.*)" : s.path;
  return add_ingress_path(b, *ingress, path, item.value());
}

Result<bool> check_manifests(const Plan& plan, const AppContext& ctx) {
  std::string problems;
  for (const FileChange& c : plan.changes) {
    const std::string ext = c.path.extension().string();
    if (ext != ".yaml" && ext != ".yml") continue;
    bool in_manifests = false;
    for (const fs::path& m : ctx.manifest_paths) {
      const std::string rel = c.path.lexically_relative(m).string();
      in_manifests |= c.path == m || (!rel.empty() && !rel.starts_with(".."));
    }
    if (!in_manifests) continue;
    manifest::LoadResult r = manifest::load_text(c.path.string(), c.content, {});
    for (const Diagnostic& d : r.diagnostics.items())
      if (d.severity == Severity::Error)
        problems += fmt::format("\n  {}:{}: {}{}{}", d.pos.file, d.pos.line, d.field,
                                d.field.empty() ? "" : ": ", d.message);
  }
  if (problems.empty()) return true;
  return Error{ErrorCode::Invalid, "the manifests would not be valid:" + problems};
}

}  // namespace ticketctl::scaffold
