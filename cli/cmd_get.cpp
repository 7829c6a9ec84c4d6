#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <iostream>

#include "cli/api_verbs.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/jsonpath.h"
#include "runtime/api/printers.h"
#include "runtime/api/resources.h"
#include "runtime/manifest/names.h"
#include "runtime/manifest/yaml_writer.h"

namespace ticketctl::cli {
namespace {

struct GetArgs {
  std::vector<std::string> words;  // KIND[,KIND] [NAME...]
  std::string ns = "default";
  bool all_namespaces = false;
  std::string labels, fields, output;
  bool watch = false;
  bool no_headers = false, show_labels = false;
  std::vector<std::string> label_columns;
  StateDirArg state;
};

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string name_of(const api::Resource& r, const Json& o) {
  return r.kubectl_kind() + "/" + o["metadata"].value("name", "");
}

// Prints every change after `from_rv` the way the first listing printed objects.
int watch_changes(api::ApiClient& client, const api::Resource& r, const GetArgs& a,
                  const std::string& ns, const std::string& from_rv) {
  std::string path = r.path(r.namespaced ? ns : "") + selector_query(a.labels, a.fields);
  path += path.find('?') == std::string::npos ? '?' : '&';
  path += "watch=1&resourceVersion=" + from_rv;
  api::TableOptions t;
  t.wide = a.output == "wide";
  t.with_namespace = a.all_namespaces && r.namespaced;
  t.show_labels = a.show_labels;
  t.label_columns = a.label_columns;
  Result<bool> done = client.watch(path, [&](const Json& event) {
    if (event.value("type", "") == "ERROR") {
      std::cerr << "error: " << event["object"].value("message", "the watch ended") << '\n';
      return false;
    }
    const Json& o = event["object"];
    if (a.output == "name") {
      std::cout << name_of(r, o) << '\n';
    } else if (a.output == "json") {
      std::cout << o.dump(4) << '\n';
    } else if (a.output == "yaml") {
      std::cout << "---\n" << manifest::to_yaml(o);
    } else {
      // The row alone: the header was printed with the listing.
      const std::string table =
          api::print_table(r.plural, {o}, t, std::chrono::system_clock::now());
      std::cout << table.substr(table.find('\n') + 1);
    }
    std::cout << std::flush;
    return true;
  });
  if (!done.ok()) {
    std::cerr << "error: " << done.error().message << '\n';
    return kExitFailure;
  }
  return kExitOk;
}

// -o custom-columns=HEADER:EXPR,...: the columns, or why the spec is wrong.
struct Column {
  std::string header, expr;
};
Result<std::vector<Column>> parse_custom_columns(const std::string& spec) {
  if (spec.empty())
    return Error{ErrorCode::Invalid, "custom-columns format specified but no custom columns given"};
  std::vector<Column> columns;
  for (const std::string& part : split_commas(spec)) {
    const size_t colon = part.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == part.size())
      return Error{ErrorCode::Invalid, fmt::format("unexpected custom-columns spec: {}, expected "
                                                   "<header>:<json-path-expr>",
                                                   part)};
    Column c{part.substr(0, colon), part.substr(colon + 1)};
    // A syntax error shows on any object: find it before asking the server.
    Result<std::vector<std::string>> checked = jsonpath_values(c.expr, Json::object());
    if (!checked.ok()) return checked.error();
    columns.push_back(std::move(c));
  }
  return columns;
}

std::string custom_columns_table(const std::vector<Column>& columns,
                                 const std::vector<Json>& objects, bool no_headers) {
  std::vector<std::vector<std::string>> rows;
  if (!no_headers) {
    rows.emplace_back();
    for (const Column& c : columns) rows.back().push_back(c.header);
  }
  for (const Json& o : objects) {
    rows.emplace_back();
    for (const Column& c : columns) {
      Result<std::vector<std::string>> values = jsonpath_values(c.expr, o);
      const std::string cell =
          values.ok() ? fmt::format("{}", fmt::join(values.value(), ",")) : std::string();
      rows.back().push_back(cell.empty() ? "<none>" : cell);
    }
  }
  return api::layout_rows(rows);
}

// What to get: a kind with the names asked for (none: list them all).
struct Group {
  const api::Resource* resource;
  std::vector<std::string> names;
};

}  // namespace

Handler attach_get(CLI::App& verb) {
  auto a = std::make_shared<GetArgs>();
  verb.add_option("resource", a->words, "KIND[,KIND...] [NAME...], KIND/NAME..., or `all`")
      ->required();
  verb.add_option("-n,--namespace", a->ns, "Namespace")->capture_default_str();
  verb.add_flag("-A,--all-namespaces", a->all_namespaces, "List across all namespaces");
  verb.add_flag("--no-headers", a->no_headers, "Tables without their header line");
  verb.add_flag("--show-labels", a->show_labels, "A LABELS column last in tables");
  verb.add_option("-L,--label-columns", a->label_columns,
                  "A column per label key (-L app,tier or -L app -L tier)")
      ->delimiter(',');
  verb.add_option("-l,--selector", a->labels, "Label selector, e.g. app=posts,tier!=db");
  verb.add_option("--field-selector", a->fields,
                  "metadata.name, metadata.namespace or status.phase");
  verb.add_flag("-w,--watch", a->watch,
                "After listing, print each change as it happens (one kind; until Ctrl-C)");
  verb.add_option("-o,--output", a->output,
                  "json, yaml, name, wide, jsonpath=TEMPLATE or custom-columns=HEADER:EXPR,...")
      ->check([](const std::string& v) -> std::string {
        if (v == "json" || v == "yaml" || v == "name" || v == "wide" ||
            v.starts_with("jsonpath=") || v.starts_with("custom-columns="))
          return {};
        return "must be json, yaml, name, wide, jsonpath=TEMPLATE or custom-columns=SPEC";
      });
  a->state.attach(verb);
  return [a] {
    std::vector<Group> groups;
    std::vector<std::string> names;
    if (a->words[0].find('/') != std::string::npos) {
      // kubectl's TYPE/NAME form: each word names its own kind.
      Result<std::vector<ObjectRef>> refs = parse_object_refs(a->words);
      if (!refs.ok()) {
        std::cerr << "error: " << refs.error().message << '\n';
        return kExitFailure;
      }
      for (const ObjectRef& ref : refs.value()) {
        if (groups.empty() || groups.back().resource != ref.resource)
          groups.push_back({ref.resource, {}});
        groups.back().names.push_back(ref.name);
        names.push_back(ref.name);
      }
    } else {
      names.assign(a->words.begin() + 1, a->words.end());
      for (const std::string& kind : split_commas(a->words[0])) {
        if (kind == "all") {
          for (const api::Resource& r : api::all_resources())
            if (std::find(r.categories.begin(), r.categories.end(), "all") != r.categories.end())
              groups.push_back({&r, names});
          continue;
        }
        const api::Resource* r = api::find_resource(kind);
        if (!r) {
          std::cerr << "error: the server doesn't have a resource type \"" << kind << "\"\n";
          return kExitFailure;
        }
        groups.push_back({r, names});
      }
    }
    std::vector<Column> columns;
    const bool custom = a->output.starts_with("custom-columns=");
    if (custom) {
      Result<std::vector<Column>> parsed = parse_custom_columns(a->output.substr(15));
      if (!parsed.ok()) {
        std::cerr << "error: " << parsed.error().message << '\n';
        return kExitUsage;
      }
      columns = std::move(parsed.value());
    }
    for (const std::string& key : a->label_columns)
      if (manifest::Invalid bad = manifest::check_label_key(key)) {
        std::cerr << "error: -L " << key << ": not a label key: " << *bad << '\n';
        return kExitUsage;
      }
    if (a->watch) {
      if (groups.size() != 1 || names.size() > 1) {
        std::cerr
            << "error: watch is only supported on a single resource type and at most one name\n";
        return kExitUsage;
      }
      // A watched name is a list narrowed to it, so the watch can start where the list ended.
      if (!names.empty()) {
        a->fields += (a->fields.empty() ? "" : ",") + std::string("metadata.name=") + names[0];
        names.clear();
        groups[0].names.clear();
      }
    }
    std::string list_rv;
    Result<api::ApiClient> client = a->state.connect();
    if (!client.ok()) {
      std::cerr << "error: " << client.error().message << '\n';
      return kExitFailure;
    }
    const std::string ns = a->all_namespaces ? std::string() : a->ns;
    const auto now = std::chrono::system_clock::now();
    int status = kExitOk;
    Json everything = Json::array();
    std::vector<Json> for_columns;
    bool printed_any = false;
    for (const Group& g : groups) {
      const api::Resource* r = g.resource;
      std::vector<Json> objects;
      if (g.names.empty()) {
        Result<Json> list = client.value().get(r->path(r->namespaced ? ns : "") +
                                               selector_query(a->labels, a->fields));
        if (!list.ok()) {
          std::cerr << server_error(list.error()) << '\n';
          return kExitFailure;
        }
        list_rv = list.value()["metadata"].value("resourceVersion", "");
        for (Json& o : list.value()["items"]) {
          // A list's items carry no kind; kubectl fills it in for output.
          o["apiVersion"] = r->api_version();
          o["kind"] = r->kind;
          objects.push_back(std::move(o));
        }
      } else {
        for (const std::string& name : g.names) {
          Result<Json> o = client.value().get(r->path(r->namespaced ? a->ns : "", name));
          if (!o.ok()) {
            std::cerr << server_error(o.error()) << '\n';
            status = kExitFailure;
            continue;
          }
          objects.push_back(std::move(o.value()));
        }
      }
      if (a->output == "name") {
        for (const Json& o : objects) std::cout << name_of(*r, o) << '\n';
      } else if (a->output == "json" || a->output == "yaml" || a->output.starts_with("jsonpath=")) {
        for (Json& o : objects) everything.push_back(std::move(o));
      } else if (custom) {
        for (Json& o : objects) for_columns.push_back(std::move(o));
      } else if (!objects.empty()) {
        api::TableOptions t;
        t.wide = a->output == "wide";
        t.with_namespace = a->all_namespaces && r->namespaced;
        t.show_kind = groups.size() > 1;
        t.no_headers = a->no_headers;
        t.show_labels = a->show_labels;
        t.label_columns = a->label_columns;
        if (printed_any) std::cout << '\n';
        std::cout << api::print_table(r->plural, objects, t, now);
        printed_any = true;
      }
    }
    if (custom && !for_columns.empty()) {
      std::cout << custom_columns_table(columns, for_columns, a->no_headers);
      printed_any = true;
    }
    const bool structured =
        a->output == "json" || a->output == "yaml" || a->output.starts_with("jsonpath=");
    if (structured && (names.empty() || !everything.empty())) {
      // One object by name prints as itself; anything else as a List, as kubectl does.
      Json out = (names.size() == 1 && groups.size() == 1 && everything.size() == 1)
                     ? everything[0]
                     : Json{{"apiVersion", "v1"},
                            {"kind", "List"},
                            {"items", everything},
                            {"metadata", {{"resourceVersion", ""}}}};
      if (a->output.starts_with("jsonpath=")) {
        Result<std::string> text = render_jsonpath(a->output.substr(9), out);
        if (!text.ok()) {
          std::cerr << "error: " << text.error().message << '\n';
          return kExitFailure;
        }
        std::cout << text.value();
      } else {
        std::cout << (a->output == "json" ? out.dump(4) + "\n" : manifest::to_yaml(out));
      }
    } else if (!printed_any && names.empty() &&
               (a->output.empty() || a->output == "wide" || custom)) {
      if (a->all_namespaces)
        std::cerr << "No resources found\n";
      else
        std::cerr << "No resources found in " << a->ns << " namespace.\n";
    }
    if (!a->watch || status != kExitOk) return status;
    return watch_changes(client.value(), *groups[0].resource, *a, ns, list_rv);
  };
}

}  // namespace ticketctl::cli
