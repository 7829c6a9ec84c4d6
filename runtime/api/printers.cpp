#include "runtime/api/printers.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <utility>

#include "runtime/api/printer_rows.h"
#include "runtime/core/strings.h"

namespace ticketctl::api {
namespace {

using namespace rows;  // the row functions, their types and dig
constexpr auto at = &json_at;

// ---- Resources: the server's column definitions (all of them: the server always prints wide and
// kubectl drops the wide-only ones), and where `get all` puts kind.group/.

struct Column {
  std::string_view header;
  bool wide_only = false;
};

struct Printer {
  std::string_view resource, kind, group;
  bool namespaced = true;
  size_t name_column = 0;
  std::vector<Column> columns;
  Cells (*row)(const Json&, TimePoint) = nullptr;
};

const std::vector<Printer>& printers() {
  static const std::vector<Printer> kPrinters = {
      {"pods",
       "Pod",
       "",
       true,
       0,
       {{"NAME"},
        {"READY"},
        {"STATUS"},
        {"RESTARTS"},
        {"AGE"},
        {"IP", true},
        {"NODE", true},
        {"NOMINATED NODE", true},
        {"READINESS GATES", true}},
       pod_row},
      {"deployments",
       "Deployment",
       "apps",
       true,
       0,
       {{"NAME"},
        {"READY"},
        {"UP-TO-DATE"},
        {"AVAILABLE"},
        {"AGE"},
        {"CONTAINERS", true},
        {"IMAGES", true},
        {"SELECTOR", true}},
       deployment_row},
      {"replicasets",
       "ReplicaSet",
       "apps",
       true,
       0,
       {{"NAME"},
        {"DESIRED"},
        {"CURRENT"},
        {"READY"},
        {"AGE"},
        {"CONTAINERS", true},
        {"IMAGES", true},
        {"SELECTOR", true}},
       replicaset_row},
      {"services",
       "Service",
       "",
       true,
       0,
       {{"NAME"},
        {"TYPE"},
        {"CLUSTER-IP"},
        {"EXTERNAL-IP"},
        {"PORT(S)"},
        {"AGE"},
        {"SELECTOR", true}},
       service_row},
      {"ingresses",
       "Ingress",
       "networking.k8s.io",
       true,
       0,
       {{"NAME"}, {"CLASS"}, {"HOSTS"}, {"ADDRESS"}, {"PORTS"}, {"AGE"}},
       ingress_row},
      {"secrets", "Secret", "", true, 0, {{"NAME"}, {"TYPE"}, {"DATA"}, {"AGE"}}, secret_row},
      {"configmaps", "ConfigMap", "", true, 0, {{"NAME"}, {"DATA"}, {"AGE"}}, configmap_row},
      {"persistentvolumeclaims",
       "PersistentVolumeClaim",
       "",
       true,
       0,
       {{"NAME"},
        {"STATUS"},
        {"VOLUME"},
        {"CAPACITY"},
        {"ACCESS MODES"},
        {"STORAGECLASS"},
        {"VOLUMEATTRIBUTESCLASS"},
        {"AGE"},
        {"VOLUMEMODE", true}},
       pvc_row},
      // Cluster-scoped: kubectl drops the NAMESPACE column even with -A.
      {"namespaces", "Namespace", "", false, 0, {{"NAME"}, {"STATUS"}, {"AGE"}}, namespace_row},
      {"endpoints", "Endpoints", "", true, 0, {{"NAME"}, {"ENDPOINTS"}, {"AGE"}}, endpoints_row},
      {"nodes",
       "Node",
       "",
       false,
       0,
       {{"NAME"},
        {"STATUS"},
        {"ROLES"},
        {"AGE"},
        {"VERSION"},
        {"INTERNAL-IP", true},
        {"EXTERNAL-IP", true},
        {"OS-IMAGE", true},
        {"KERNEL-VERSION", true},
        {"CONTAINER-RUNTIME", true}},
       node_row},
      {"endpointslices",
       "EndpointSlice",
       "discovery.k8s.io",
       true,
       0,
       {{"NAME"}, {"ADDRESSTYPE"}, {"PORTS"}, {"ENDPOINTS"}, {"AGE"}},
       endpointslice_row},
      {"events",
       "Event",
       "",
       true,
       9,
       {{"LAST SEEN"},
        {"TYPE"},
        {"REASON"},
        {"OBJECT"},
        {"SUBOBJECT", true},
        {"SOURCE", true},
        {"MESSAGE"},
        {"FIRST SEEN", true},
        {"COUNT", true},
        {"NAME", true}},
       event_row},
  };
  return kPrinters;
}

const Printer& printer_for(std::string_view resource) {
  static const Printer kDefault{"", "", "", true, 0, {{"NAME"}, {"AGE"}}, default_row};
  for (const Printer& p : printers())
    if (p.resource == resource) return p;
  return kDefault;
}

// strings.ToLower(GroupKind.String()): "deployment.apps", "pod". Known resources use their
// mapping's kind; anything else the object's own kind and apiVersion.
std::string kind_prefix(const Printer& p, const Json& object) {
  std::string kind(p.kind), group(p.group);
  if (kind.empty()) {
    kind = str(at(object, "kind"));
    const std::string api_version = str(at(object, "apiVersion"));
    const size_t slash = api_version.find('/');
    if (slash != std::string::npos) group = api_version.substr(0, slash);
  }
  if (kind.empty()) return {};
  std::string out = group.empty() ? kind : fmt::format("{}.{}", kind, group);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// What kubectl's table printer writes for a cell: only its first line, marked "...", and ESC
// made visible so that a message cannot drive the terminal.
std::string printable(std::string_view cell) {
  const size_t cut = cell.find_first_of("\f\n\r");
  std::string out;
  for (char c : cell.substr(0, cut)) {
    if (c == '\x1b')
      out += "^[";
    else
      out += c;
  }
  if (cut != std::string_view::npos) out += "...";
  return out;
}

Cells header(const Printer& p, bool wide, bool with_namespace) {
  Cells out;
  if (with_namespace) out.emplace_back("NAMESPACE");
  for (const Column& c : p.columns)
    if (wide || !c.wide_only) out.emplace_back(c.header);
  return out;
}

Cells table_row(const Printer& p, const Json& object, const TableOptions& options,
                bool with_namespace, TimePoint now) {
  Cells all = p.row(object, now);
  if (options.show_kind) {
    const std::string prefix = kind_prefix(p, object);
    if (!prefix.empty()) all[p.name_column] = fmt::format("{}/{}", prefix, all[p.name_column]);
  }
  Cells out;
  if (with_namespace) out.push_back(printable(str(dig(object, {"metadata", "namespace"}))));
  for (size_t i = 0; i < all.size() && i < p.columns.size(); ++i)
    if (options.wide || !p.columns[i].wide_only) out.push_back(printable(all[i]));
  return out;
}

// ---- Layout: Go's text/tabwriter as kubectl configures it (minwidth 6, padding 3, spaces,
// align left). A column's width is set per block of consecutive lines that have a cell in it;
// the last cell of a line is not in any column and is not padded.

constexpr size_t kMinWidth = 6;
constexpr size_t kPadding = 3;

struct Cell {
  std::string text;
  size_t width = 0;  // in runes, as tabwriter counts
};
using Line = std::vector<Cell>;

// utf8.RuneCountInString: an invalid byte counts as one rune.
size_t rune_count(std::string_view s) {
  size_t runes = 0;
  for (size_t i = 0; i < s.size(); ++runes) {
    const auto lead = static_cast<unsigned char>(s[i]);
    size_t len = lead < 0x80                    ? 1
                 : lead >= 0xC2 && lead <= 0xDF ? 2
                 : lead >= 0xE0 && lead <= 0xEF ? 3
                 : lead >= 0xF0 && lead <= 0xF4 ? 4
                                                : 1;
    for (size_t k = 1; k < len; ++k)
      if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) len = 1;
    i += len;
  }
  return runes;
}

// The cells as tabwriter sees them: a tab inside a value starts a new cell, as it does in kubectl.
Line split_cells(const Cells& cells) {
  Line line;
  std::string joined = join(cells, "\t");
  size_t start = 0;
  for (size_t tab; (tab = joined.find('\t', start)) != std::string::npos; start = tab + 1)
    line.push_back({joined.substr(start, tab - start), 0});
  line.push_back({joined.substr(start), 0});
  for (Cell& c : line) c.width = rune_count(c.text);
  return line;
}

void write_lines(const std::vector<Line>& lines, const std::vector<size_t>& widths, size_t from,
                 size_t to, std::string* out) {
  for (size_t i = from; i < to; ++i) {
    std::string text;
    for (size_t j = 0; j < lines[i].size(); ++j) {
      const Cell& c = lines[i][j];
      text += c.text;
      if (j < widths.size() && widths[j] > c.width) text.append(widths[j] - c.width, ' ');
    }
    text.erase(text.find_last_not_of(' ') + 1);
    *out += text;
    *out += '\n';
  }
}

// tabwriter's Writer.format: lines [line0, line1) with the widths of columns left of `widths`.
void format(const std::vector<Line>& lines, std::vector<size_t>* widths, size_t line0, size_t line1,
            std::string* out) {
  const size_t column = widths->size();
  for (size_t row = line0; row < line1; ++row) {
    if (column + 1 >= lines[row].size()) continue;
    write_lines(lines, *widths, line0, row, out);
    line0 = row;
    size_t width = kMinWidth;
    for (; row < line1 && column + 1 < lines[row].size(); ++row)
      width = std::max(width, lines[row][column].width + kPadding);
    widths->push_back(width);
    format(lines, widths, line0, row, out);
    widths->pop_back();
    line0 = row;
  }
  write_lines(lines, *widths, line0, line1, out);
}

std::string layout(const std::vector<Cells>& rows) {
  std::vector<Line> lines;
  lines.reserve(rows.size());
  for (const Cells& r : rows) lines.push_back(split_cells(r));
  std::vector<size_t> widths;
  std::string out;
  format(lines, &widths, 0, lines.size(), &out);
  return out;
}

}  // namespace

std::string layout_rows(const std::vector<std::vector<std::string>>& rows) {
  return layout(rows);
}

TableData table_data(std::string_view resource, const std::vector<Json>& objects,
                     std::chrono::system_clock::time_point now) {
  const Printer& p = printer_for(resource);
  TableData out;
  for (const Column& c : p.columns) out.columns.push_back({std::string(c.header), c.wide_only});
  for (const Json& object : objects) {
    Cells cells = p.row(object, now);
    for (std::string& c : cells) c = printable(c);
    out.rows.push_back(std::move(cells));
  }
  return out;
}

std::string print_table(std::string_view resource, const std::vector<Json>& objects,
                        const TableOptions& options, std::chrono::system_clock::time_point now) {
  if (objects.empty()) return "";
  const Printer& p = printer_for(resource);
  const bool with_namespace = options.with_namespace && p.namespaced;
  std::vector<Cells> rows;
  rows.reserve(objects.size() + 1);
  rows.push_back(header(p, options.wide, with_namespace));
  for (const std::string& key : options.label_columns) {
    const std::string name = key.substr(key.rfind('/') + 1);
    std::string upper;
    for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    rows.back().push_back(upper);
  }
  if (options.show_labels) rows.back().push_back("LABELS");
  for (const Json& object : objects) {
    rows.push_back(table_row(p, object, options, with_namespace, now));
    const Json& have = json_at(json_at(object, "metadata"), "labels");
    for (const std::string& key : options.label_columns) {
      const Json& v = json_at(have, key);
      rows.back().push_back(v.is_string() ? v.get<std::string>() : "");
    }
    if (!options.show_labels) continue;
    // As kubectl prints them: sorted by key (a JSON object is kept in insertion order here).
    std::vector<std::string> labels;
    if (have.is_object())
      for (const auto& [k, v] : have.items())
        labels.push_back(k + "=" + (v.is_string() ? v.get<std::string>() : v.dump()));
    std::sort(labels.begin(), labels.end());
    rows.back().push_back(labels.empty() ? "<none>" : join(labels, ","));
  }
  if (options.no_headers) rows.erase(rows.begin());
  return layout(rows);
}

}  // namespace ticketctl::api
