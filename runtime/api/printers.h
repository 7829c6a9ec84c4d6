#pragma once
// What `kubectl get` prints, computed from the stored JSON the way kubectl 1.32 computes it: the
// API server's table printers (pkg/printers/internalversion) plus kubectl's tabwriter layout.
// Pure functions; any thread.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/manifest/json.h"

namespace ticketctl::api {

// kubectl's HumanDuration: "45s", "2m30s"/"5m", "3h4m", "2d3h", "400d", "3y20d" ...
std::string human_duration(std::chrono::seconds d);

// AGE column value from metadata.creationTimestamp (RFC 3339, e.g. "2026-11-25T22:06:16Z");
// "<unknown>" when absent or unparsable.
std::string age(const Json& object, std::chrono::system_clock::time_point now);

struct TableOptions {
  bool wide = false;            // -o wide: the extra columns kubectl adds
  bool with_namespace = false;  // -A: a NAMESPACE column first
  bool show_kind = false;  // `get all`: NAME column as kind.group/name (deployment.apps/posts-depl)
  bool no_headers = false;   // --no-headers: the rows alone
  bool show_labels = false;  // --show-labels: a LABELS column last, k=v,... or <none>
  // -L KEY: a column per label key, headed by the key's name part in upper case, empty where
  // an object lacks the label; after the kind's own columns, before LABELS.
  std::vector<std::string> label_columns{};
};

// kubectl's tabwriter layout of rows of cells (the first row being the header, if any): columns
// at least 3 spaces apart, trailing spaces trimmed, '\n' after each line.
std::string layout_rows(const std::vector<std::vector<std::string>>& rows);

// Renders `objects` (all of one resource, identified by its plural: "pods", "deployments",
// "replicasets", "services", "ingresses", "secrets", "configmaps", "namespaces", "endpoints",
// "events") as kubectl's table: header in upper case, columns separated by at least 3 spaces and
// left-aligned exactly as kubectl (tabwriter with padding 3), trailing spaces trimmed, one line per
// object, '\n' after each line. An empty `objects` returns "" (the caller prints "No resources
// found in NS namespace."). Any other resource gets kubectl's default NAME AGE table.
// The same table as data, for the API's `Table` responses: every column (`wide` marks those
// kubectl shows only with -o wide: priority 1) and one row of cells per object.
struct TableColumn {
  std::string name;
  bool wide = false;
};
struct TableData {
  std::vector<TableColumn> columns;
  std::vector<std::vector<std::string>> rows;
};
TableData table_data(std::string_view resource, const std::vector<Json>& objects,
                     std::chrono::system_clock::time_point now);

std::string print_table(std::string_view resource, const std::vector<Json>& objects,
                        const TableOptions& options, std::chrono::system_clock::time_point now);

}  // namespace ticketctl::api
