#include <fmt/format.h>

#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>

#include "runtime/manifest/names.h"
#include "runtime/scaffold/app_context.h"
#include "runtime/scaffold/project_edit.h"
#include "runtime/scaffold/scaffold.h"
#include "runtime/scaffold/yaml_edit.h"

namespace ticketctl::scaffold {
namespace fs = std::filesystem;
namespace {

Error invalid(std::string message) {
  return Error{ErrorCode::Invalid, std::move(message)};
}

// "JWT_KEY" stays; "jwt.key" -> "JWT_KEY": the variable the service reads the key from.
std::string env_name(const std::string& key) {
  std::string out;
  for (char c : key)
    out += std::isalnum(static_cast<unsigned char>(c))
               ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
               : '_';
  if (out.empty() || !std::isdigit(static_cast<unsigned char>(out[0]))) return out;
  std::string prefixed = "_";  // (not insert(0, ...): GCC 12 warns wrongly, -Wrestrict)
  prefixed += out;
  return prefixed;
}

Result<std::vector<ServiceSpec::Secret>> parse_secrets(const std::vector<std::string>& given) {
  std::vector<ServiceSpec::Secret> out;
  for (const std::string& s : given) {
    const size_t colon = s.find(':');
    if (colon == std::string::npos)
      return invalid(fmt::format("--secret {:?}: write NAME:KEY (e.g. jwt-secret:JWT_KEY)", s));
    ServiceSpec::Secret sec{s.substr(0, colon), s.substr(colon + 1), ""};
    if (auto why = manifest::check_dns1123_subdomain(sec.secret))
      return invalid(fmt::format("--secret {:?}: the Secret's name {}", s, *why));
    if (auto why = manifest::check_config_key(sec.key))
      return invalid(fmt::format("--secret {:?}: the key {}", s, *why));
    sec.env = env_name(sec.key);
    for (const auto& o : out)
      if (o.env == sec.env)
        return invalid(
            fmt::format("--secret {:?}: {} is already read from another secret", s, sec.env));
    out.push_back(std::move(sec));
  }
  return out;
}

// An Ingress path and an Express/httplib route at once: plain segments only.
std::optional<std::string> check_path(const std::string& path) {
  if (path.empty() || path[0] != '/') return "must start with /";
  if (path.size() > 200) return "is longer than 200 characters";
  for (char c : path)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '-' && c != '_' &&
        c != '.')
      return fmt::format("may hold letters, digits, '/', '-', '_' and '.' only, not {:?}", c);
  if (path.find("//") != std::string::npos) return "has an empty segment (//)";
  return std::nullopt;
}

fs::path find_app_root(const fs::path& cwd) {
  for (fs::path p = fs::absolute(cwd);; p = p.parent_path()) {
    std::error_code ec;
    if (fs::exists(p / "ticketctl.yaml", ec)) return p;
    if (p == p.parent_path()) return {};
  }
}

}  // namespace

std::optional<std::string> check_service_name(const std::string& name) {
  if (name.empty()) return "is empty";
  if (name.size() > 40) return "is longer than 40 characters (its objects add suffixes)";
  if (!(name[0] >= 'a' && name[0] <= 'z')) return "must start with a lowercase letter";
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
      return "may hold lowercase letters, digits and '-' only";
  if (name.back() == '-') return "must not end with '-'";
  return std::nullopt;
}

Result<Plan> plan_new_service(const fs::path& cwd, const ServiceOptions& o) {
  if (auto why = check_service_name(o.name))
    return invalid(fmt::format("service name {:?} {}", o.name, *why));
  if (o.port < 1 || o.port > 65535) return invalid(fmt::format("--port {}: not 1..65535", o.port));
  if (o.replicas < 0 || o.replicas > 100)
    return invalid(fmt::format("--replicas {}: not 0..100", o.replicas));
  if (!o.db.empty() && o.db != "redis" && o.db != "postgres" && o.db != "mongo")
    return invalid(fmt::format("--db {:?}: one of redis, postgres, mongo", o.db));
  Result<std::vector<ServiceSpec::Secret>> secrets = parse_secrets(o.secrets);
  if (!secrets.ok()) return secrets.error();
  ServiceSpec s;
  s.name = o.name;
  s.template_name = o.template_name;
  s.port = o.port;
  s.replicas = o.replicas;
  s.db = o.db;
  s.secrets = std::move(secrets.value());
  s.path = o.path.empty() ? "/api/" + o.name : o.path;
  while (s.path.size() > 1 && s.path.back() == '/') s.path.pop_back();
  if (auto why = check_path(s.path)) return invalid(fmt::format("--path {:?} {}", s.path, *why));

  Result<TemplateSet> templates = TemplateSet::load(o.template_dir);
  if (!templates.ok()) return templates.error();
  const std::vector<std::string> known = templates.value().children("service/");
  if (std::find(known.begin(), known.end(), s.template_name) == known.end())
    return invalid(
        fmt::format("--template {:?}: not one of {}", s.template_name, fmt::join(known, ", ")));

  const fs::path root = find_app_root(cwd);
  if (root.empty())
    return Error{ErrorCode::NotFound,
                 "no ticketctl.yaml here or in a parent directory: run `ticketctl init` first"};
  PlanBuilder b;
  const AppContext ctx = app_context(root, b, "");
  s.image = ctx.app + "/" + s.name;
  if (b.exists(root / s.name))
    return Error{ErrorCode::AlreadyExists,
                 fmt::format("{} already exists: choose another name, or remove it first",
                             (root / s.name).string())};
  // A Deployment or Service of that name anywhere in the manifests is the same service.
  for (const fs::path& f : manifest_files(b, ctx.manifest_paths)) {
    const auto text = b.read(f);
    if (!text) continue;
    for (const YAML::Node& doc : load_documents(*text)) {
      const YAML::Node name = child(child(doc, "metadata"), "name");
      if (name.IsDefined() && name.IsScalar() &&
          (name.Scalar() == s.name + "-depl" || name.Scalar() == s.name + "-srv"))
        return Error{ErrorCode::AlreadyExists,
                     fmt::format("{} already defines {}", f.string(), name.Scalar())};
    }
  }
  Result<bool> added = add_service(b, templates.value(), ctx, s, true, true);
  if (!added.ok()) return added.error();
  Plan plan = b.take();
  Result<bool> valid = check_manifests(plan, ctx);
  if (!valid.ok()) return valid.error();
  for (const auto& sec : s.secrets)
    plan.notes.push_back(fmt::format(
        "{} waits for its Secret: ticketctl create secret generic {} --from-literal={}=...", s.name,
        sec.secret, sec.key));
  plan.notes.push_back(
      fmt::format("Next: ticketctl up --build, then http://{}.localhost:8080{}", ctx.app, s.path));
  return plan;
}

}  // namespace ticketctl::scaffold
