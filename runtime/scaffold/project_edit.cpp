#include "runtime/scaffold/project_edit.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>

#include "runtime/scaffold/yaml_edit.h"

namespace ticketctl::scaffold {
namespace fs = std::filesystem;
namespace {

using Planner = std::function<Result<Insertion>(std::string_view doc)>;

std::string scalar(const YAML::Node& n) {
  return n.IsDefined() && n.IsScalar() ? n.Scalar() : "";
}

// "- " before the first line of `item`, two spaces before the others: one block list item.
std::string as_list_item(const std::string& item) {
  std::string out = "- ";
  bool first = true;
  size_t pos = 0;
  while (pos < item.size()) {
    size_t nl = item.find('\n', pos);
    if (nl == std::string::npos) nl = item.size();
    const std::string line = item.substr(pos, nl - pos);
    if (!first && !line.empty()) out += "  ";
    out += line + '\n';
    first = false;
    pos = nl + 1;
  }
  return out;
}

// Makes the insertion `plan` computes in document `index` of `file`, or, when it cannot be
// made safely, records the snippet for the user to paste. AlreadyExists is passed up.
Result<bool> edit_document(PlanBuilder& b, const fs::path& file, size_t index, int line,
                           const Planner& plan, const std::string& summary,
                           const std::string& snippet) {
  const std::optional<std::string> text = b.read(file);
  const std::vector<DocumentSpan> docs =
      text ? split_documents(*text) : std::vector<DocumentSpan>{};
  Result<Insertion> r = Error{ErrorCode::NotFound, "cannot read it"};
  if (index < docs.size()) {
    const DocumentSpan& span = docs[index];
    r = plan(std::string_view(*text).substr(span.begin, span.end - span.begin));
    if (r.ok()) {
      std::string edited = text->substr(0, span.begin);
      edited += apply_insertion(std::string_view(*text).substr(span.begin, span.end - span.begin),
                                r.value());
      edited += text->substr(span.end);
      b.edit(file, std::move(edited), summary);
      return true;
    }
    if (line == 0) line = span.first_line;
  }
  if (r.error().code == ErrorCode::AlreadyExists) return r.error();
  b.manual(
      {file, line, fmt::format("cannot add {} safely ({})", summary, r.error().message), snippet});
  return false;
}

Locate at(std::vector<std::string> keys) {
  return [keys = std::move(keys)](const YAML::Node& root) {
    YAML::Node n = root;
    for (const std::string& k : keys) n = child(n, k);
    return n;
  };
}

int line_of(const YAML::Node& n, int first_line) {
  return n.IsDefined() ? first_line + n.Mark().line : first_line;
}

}  // namespace

std::string indent(const std::string& text, size_t spaces) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    if (nl > pos) out += std::string(spaces, ' ') + text.substr(pos, nl - pos);
    out += '\n';
    pos = nl + 1;
  }
  return out;
}

std::vector<YAML::Node> load_documents(const std::string& text) {
  std::vector<YAML::Node> out;
  for (const DocumentSpan& d : split_documents(text)) {
    try {
      out.push_back(YAML::Load(text.substr(d.begin, d.end - d.begin)));
    } catch (const YAML::Exception&) {
      out.emplace_back(YAML::NodeType::Null);  // keeps the indexes of the others
    }
  }
  return out;
}

std::vector<fs::path> manifest_files(const PlanBuilder& b, const std::vector<fs::path>& dirs) {
  std::vector<fs::path> out;
  for (const FileChange& c : b.plan().changes) {
    const std::string ext = c.path.extension().string();
    if (!c.created || (ext != ".yaml" && ext != ".yml")) continue;
    for (const fs::path& dir : dirs)
      if (c.path.parent_path() == dir) out.push_back(c.path);
  }
  for (const fs::path& dir : dirs) {
    std::error_code ec;
    if (fs::is_regular_file(dir, ec)) {
      out.push_back(dir);
      continue;
    }
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string ext = it->path().extension().string();
      if ((ext == ".yaml" || ext == ".yml") && it->is_regular_file(ec)) out.push_back(it->path());
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<bool> add_image(PlanBuilder& b, const fs::path& file, const std::string& image,
                       const std::string& value) {
  const std::optional<std::string> text = b.read(file);
  const std::vector<YAML::Node> docs = text ? load_documents(*text) : std::vector<YAML::Node>{};
  const YAML::Node images = docs.empty() ? YAML::Node() : child(docs[0], "images");
  if (images.IsDefined() && child(images, image).IsDefined())
    return Error{ErrorCode::AlreadyExists,
                 fmt::format("{} already has images.{}", file.filename().string(), image)};
  const std::string entry = image + ":\n" + indent(value, 2);
  const std::string summary = "images." + image;
  if (images.IsDefined())
    return edit_document(
        b, file, 0, line_of(images, 1),
        [&](std::string_view doc) { return plan_mapping_append(doc, at({"images"}), entry); },
        summary, "images:\n" + indent(entry, 2));
  const std::string block = "images:\n" + indent(entry, 2);
  return edit_document(
      b, file, 0, 0, [&](std::string_view doc) { return plan_mapping_append(doc, at({}), block); },
      summary, block);
}

Result<bool> add_artifact(PlanBuilder& b, const fs::path& file, const std::string& image,
                          const std::string& item) {
  const std::optional<std::string> text = b.read(file);
  const std::vector<YAML::Node> docs = text ? load_documents(*text) : std::vector<YAML::Node>{};
  // skaffold.yaml may hold several configs; the first one's build gets the artifact.
  size_t index = 0;
  for (size_t i = 0; i < docs.size(); ++i)
    if (scalar(child(docs[i], "kind")) == "Config") {
      index = i;
      break;
    }
  const YAML::Node root = index < docs.size() ? docs[index] : YAML::Node();
  const YAML::Node build = child(root, "build");
  const YAML::Node artifacts = child(build, "artifacts");
  if (artifacts.IsDefined() && artifacts.IsSequence())
    for (const YAML::Node& a : artifacts)
      if (scalar(child(a, "image")) == image)
        return Error{ErrorCode::AlreadyExists,
                     fmt::format("{} already builds {}", file.filename().string(), image)};
  const int first = index < docs.size() ? split_documents(*text)[index].first_line : 1;
  const std::string summary = "build.artifacts " + image;
  if (artifacts.IsDefined())
    return edit_document(
        b, file, index, line_of(artifacts, first),
        [&](std::string_view doc) {
          return plan_sequence_append(doc, at({"build", "artifacts"}), item);
        },
        summary, as_list_item(item));
  if (build.IsDefined()) {
    const std::string block = "artifacts:\n" + indent(as_list_item(item), 2);
    return edit_document(
        b, file, index, line_of(build, first),
        [&](std::string_view doc) { return plan_mapping_append(doc, at({"build"}), block); },
        summary, block);
  }
  const std::string block = "build:\n  artifacts:\n" + indent(as_list_item(item), 4);
  return edit_document(
      b, file, index, 0,
      [&](std::string_view doc) { return plan_mapping_append(doc, at({}), block); }, summary,
      block);
}

std::optional<IngressTarget> find_ingress(const PlanBuilder& b, const std::vector<fs::path>& files,
                                          const std::string& host) {
  std::optional<IngressTarget> first;
  for (const fs::path& file : files) {
    const std::optional<std::string> text = b.read(file);
    if (!text) continue;
    const std::vector<YAML::Node> docs = load_documents(*text);
    for (size_t d = 0; d < docs.size(); ++d) {
      if (scalar(child(docs[d], "kind")) != "Ingress") continue;
      IngressTarget t;
      t.file = file;
      t.document = d;
      t.name = scalar(child(child(docs[d], "metadata"), "name"));
      t.regex = scalar(child(child(child(docs[d], "metadata"), "annotations"),
                             "nginx.ingress.kubernetes.io/use-regex")) == "true";
      const YAML::Node rules = child(child(docs[d], "spec"), "rules");
      if (rules.IsDefined() && rules.IsSequence())
        for (size_t r = 0; r < rules.size(); ++r)
          if (scalar(child(rules[r], "host")) == host) {
            t.rule = r;
            t.host = host;
            return t;
          }
      if (!first) {
        if (rules.IsDefined() && rules.IsSequence() && rules.size() > 0)
          t.host = scalar(child(rules[0], "host"));
        first = t;
      }
    }
  }
  return first;
}

Result<bool> add_ingress_path(PlanBuilder& b, const IngressTarget& target, const std::string& path,
                              const std::string& item) {
  const std::optional<std::string> text = b.read(target.file);
  const std::vector<YAML::Node> docs = text ? load_documents(*text) : std::vector<YAML::Node>{};
  if (target.document >= docs.size()) return Error{ErrorCode::NotFound, "the Ingress is gone"};
  const int first = split_documents(*text)[target.document].first_line;
  const YAML::Node rules = child(child(docs[target.document], "spec"), "rules");
  const size_t r = target.rule;
  auto locate_rule = [r](const YAML::Node& root) {
    const YAML::Node rules = child(child(root, "spec"), "rules");
    return rules.IsDefined() && rules.IsSequence() && r < rules.size()
               ? rules[r]
               : YAML::Node(YAML::NodeType::Undefined);
  };
  const YAML::Node rule =
      rules.IsDefined() && rules.IsSequence() && r < rules.size() ? rules[r] : YAML::Node();
  const YAML::Node paths = child(child(rule, "http"), "paths");
  if (paths.IsDefined() && paths.IsSequence())
    for (const YAML::Node& p : paths)
      if (scalar(child(p, "path")) == path)
        return Error{ErrorCode::AlreadyExists,
                     fmt::format("Ingress {} already routes {}", target.name, path)};
  const std::string summary = "Ingress " + target.name + " path " + path;
  if (paths.IsDefined())
    return edit_document(
        b, target.file, target.document, line_of(paths, first),
        [&](std::string_view doc) {
          return plan_sequence_append(
              doc,
              [&](const YAML::Node& root) {
                return child(child(locate_rule(root), "http"), "paths");
              },
              item);
        },
        summary, as_list_item(item));
  if (!rule.IsDefined() || child(rule, "http").IsDefined()) {
    b.manual({target.file, line_of(rule, first),
              "cannot add " + summary + " safely (the rule has no list of paths to add to)",
              as_list_item(item)});
    return false;
  }
  const std::string block = "http:\n  paths:\n" + indent(as_list_item(item), 4);
  return edit_document(
      b, target.file, target.document, line_of(rule, first),
      [&](std::string_view doc) { return plan_mapping_append(doc, locate_rule, block); }, summary,
      block);
}

}  // namespace ticketctl::scaffold
