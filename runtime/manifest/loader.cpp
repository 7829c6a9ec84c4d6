#include "runtime/manifest/loader.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "runtime/core/limits.h"
#include "runtime/core/strings.h"
#include "runtime/manifest/legacy.h"
#include "runtime/manifest/schemas.h"
#include "runtime/manifest/source.h"
#include "runtime/manifest/yaml_budget.h"

namespace ticketctl::manifest {

std::string object_ref(std::string_view kind, std::string_view ns, std::string_view name) {
  std::string n = name.empty() ? std::string("<unnamed>") : std::string(name);
  return ns.empty() ? fmt::format("{} {}", kind, n) : fmt::format("{} {}/{}", kind, ns, n);
}

std::string Object::ref() const {
  return object_ref(kind, ns, name);
}

std::string api_group(std::string_view api_version) {
  const size_t slash = api_version.find('/');
  return slash == std::string_view::npos ? std::string()
                                         : std::string(api_version.substr(0, slash));
}

std::string Object::group() const {
  return api_group(api_version);
}

std::string Object::kubectl_name() const {
  std::string k = kind;
  for (char& ch : k) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const std::string g = group();
  return g.empty() ? fmt::format("{}/{}", k, name) : fmt::format("{}.{}/{}", k, g, name);
}

namespace {

std::string scalar_or_empty(const YAML::Node& map, const char* key) {
  const YAML::Node v = child(map, key);
  return v.IsDefined() && v.IsScalar() ? v.Scalar() : std::string();
}

struct Identity {
  std::string group, kind, ns, name;
  auto operator<=>(const Identity&) const = default;
};

// Reads one file's documents into `result`; `seen` remembers objects across all files.
class DocumentReader {
 public:
  DocumentReader(const LoadOptions& options, LoadResult& result,
                 std::map<Identity, SourcePos>& seen)
      : options_(options), result_(result), seen_(seen) {}

  void read_file(const SourceFile& file) {
    ++result_.files;
    for (const DocumentText& doc : split_documents(file.text)) read_chunk(file.name, doc);
  }

 private:
  void read_chunk(const std::string& file, const DocumentText& doc) {
    // yaml-cpp passes any byte through to scalars; JSON (and so the store and the API) cannot
    // hold them, and go-yaml refuses them too.
    if (std::optional<size_t> bad = invalid_utf8_at(doc.text)) {
      const std::string_view before = doc.text.substr(0, *bad);
      const size_t line_start = before.rfind('\n');
      const size_t column = line_start == std::string_view::npos ? *bad : *bad - line_start - 1;
      const SourcePos pos{
          file,
          static_cast<int>(std::count(before.begin(), before.end(), '\n')) + 1 + doc.first_line,
          static_cast<int>(column) + 1};
      result_.diagnostics.add(
          {Severity::Error, pos, "", "",
           fmt::format("invalid UTF-8 (byte 0x{:02x}): manifests must be UTF-8 text",
                       static_cast<unsigned char>(doc.text[*bad]))});
      return;
    }
    // Budgets first: yaml-cpp shares an alias's node, but everything after it (the Walker, JSON)
    // expands aliases and recurses over nesting.
    if (std::optional<YamlBudgetError> over = check_yaml_budget(doc.text)) {
      const SourcePos pos{file, over->line + 1 + doc.first_line, over->column + 1};
      result_.diagnostics.add({Severity::Error, pos, "", "", over->message});
      return;
    }
    std::vector<YAML::Node> nodes;
    try {
      nodes = YAML::LoadAll(std::string(doc.text));
    } catch (const YAML::Exception& e) {
      SourcePos pos{file, 0, 0};
      if (!e.mark.is_null()) pos = {file, e.mark.line + 1 + doc.first_line, e.mark.column + 1};
      result_.diagnostics.add({Severity::Error, pos, "", "", "YAML syntax error: " + e.msg});
      return;
    }
    for (const YAML::Node& node : nodes) {
      if (node.IsNull()) continue;
      ++result_.documents;
      read_object(file, doc.first_line, node);
    }
  }

  void read_object(const std::string& file, int line_offset, const YAML::Node& node) {
    const std::string api_version = scalar_or_empty(node, "apiVersion");
    const std::string kind = scalar_or_empty(node, "kind");
    const YAML::Node metadata = child(node, "metadata");
    const std::string name = scalar_or_empty(metadata, "name");
    const KindInfo* info = find_kind(api_version, kind);
    std::string ns;
    if (!info || info->namespaced) {
      ns = scalar_or_empty(metadata, "namespace");
      if (ns.empty()) ns = options_.default_namespace;
    }
    const std::string ref = kind.empty() ? std::string() : object_ref(kind, ns, name);
    Walker w(file, line_offset, ref, result_.diagnostics);
    w.set_unknown_fields(options_.unknown_fields);

    if (!node.IsMap()) {
      w.error(node, "expected a Kubernetes object (a mapping with apiVersion, kind and metadata)");
      return;
    }
    if (api_version == "v1" && kind == "List") {
      read_list(file, line_offset, node, w);
      return;
    }
    if (!info) {
      report_unknown_kind(node, api_version, kind, w);
      return;
    }
    const bool legacy = !info->converts_to.empty();
    if (legacy) {
      auto scope = w.field("apiVersion", child(node, "apiVersion"));
      w.warning(child(node, "apiVersion"),
                fmt::format("{} {} is no longer served by Kubernetes (removed in v1.22); converted "
                            "to {} (`ticketctl convert -f {}` rewrites the file)",
                            api_version, kind, info->converts_to, file));
    }
    Json body = w.walk(node, *info->schema);
    Json written;
    if (legacy && w.ok()) {
      written = body;
      body = convert_legacy_ingress(body);
    }
    if (!w.ok()) return;
    if (const size_t bytes = body.dump().size(); bytes > limits::kMaxObjectBytes) {
      w.error(node, fmt::format("the object is {} bytes as JSON: Kubernetes stores objects up to "
                                "{} bytes (etcd's request limit), so no cluster accepts it",
                                bytes, limits::kMaxObjectBytes));
      return;
    }

    Identity id{api_group(info->converts_to.empty() ? api_version : info->converts_to), kind, ns,
                name};
    const SourcePos pos = w.position(node);
    auto [it, inserted] = seen_.emplace(id, pos);
    if (!inserted) {
      auto s1 = w.field("metadata", metadata);
      auto s2 = w.field("name", child(metadata, "name"));
      w.error(child(metadata, "name"),
              fmt::format("duplicate object: {} is also defined at {}:{}:{}", ref, it->second.file,
                          it->second.line, it->second.column));
      return;
    }
    result_.objects.push_back(
        Object{std::string(info->converts_to.empty() ? info->api_version : info->converts_to), kind,
               name, ns, std::move(body), std::move(written), pos});
  }

  void read_list(const std::string& file, int line_offset, const YAML::Node& node, Walker& w) {
    w.walk(node, list_schema());
    const YAML::Node items = child(node, "items");
    if (!w.ok() || !items.IsSequence()) return;
    for (const YAML::Node& item : items) read_object(file, line_offset, item);
  }

  static void report_unknown_kind(const YAML::Node& node, const std::string& api_version,
                                  const std::string& kind, Walker& w) {
    if (kind.empty()) {
      auto scope = w.field("kind", child(node, "kind"));
      w.error(child(node, "kind").IsDefined() ? child(node, "kind") : node,
              "required value is missing: every object needs apiVersion and kind");
      return;
    }
    if (api_version.empty()) {
      auto scope = w.field("apiVersion", child(node, "apiVersion"));
      w.error(child(node, "apiVersion").IsDefined() ? child(node, "apiVersion") : node,
              "required value is missing: every object needs apiVersion and kind");
      return;
    }
    std::vector<std::string> versions;
    std::vector<std::string_view> kinds;
    for (const KindInfo& k : all_kinds()) {
      if (k.kind == kind && k.converts_to.empty()) versions.push_back(quote(k.api_version));
      if (std::find(kinds.begin(), kinds.end(), k.kind) == kinds.end()) kinds.push_back(k.kind);
    }
    if (!versions.empty()) {
      auto scope = w.field("apiVersion", child(node, "apiVersion"));
      w.error(child(node, "apiVersion"),
              fmt::format("no matches for kind {} in version {}: use {}", quote(kind),
                          quote(api_version), join(versions, " or ")));
      return;
    }
    auto scope = w.field("kind", child(node, "kind"));
    std::string msg = fmt::format("unsupported kind {}", quote(kind));
    if (auto near = nearest(kind, kinds)) {
      msg += fmt::format(" (did you mean {}?)", quote(*near));
    } else {
      std::vector<std::string> names;
      for (auto k : kinds) names.emplace_back(k);
      msg += fmt::format(": ticketctl reads {}", join(names, ", "));
    }
    w.error(child(node, "kind"), std::move(msg));
  }

  const LoadOptions& options_;
  LoadResult& result_;
  std::map<Identity, SourcePos>& seen_;
};

}  // namespace

LoadResult load_manifests(const std::vector<std::string>& paths, const LoadOptions& options,
                          std::istream& stdin_stream) {
  LoadResult result;
  std::vector<SourceFile> files =
      read_sources(paths, options.recursive, stdin_stream, result.diagnostics);
  std::map<Identity, SourcePos> seen;
  DocumentReader reader(options, result, seen);
  for (const SourceFile& f : files) reader.read_file(f);
  return result;
}

LoadResult load_text(std::string_view name, std::string_view text, const LoadOptions& options) {
  LoadResult result;
  std::map<Identity, SourcePos> seen;
  DocumentReader reader(options, result, seen);
  reader.read_file(SourceFile{std::string(name), std::string(text)});
  return result;
}

}  // namespace ticketctl::manifest
