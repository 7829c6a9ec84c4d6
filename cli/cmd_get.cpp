#include <chrono>
#include <iostream>

#include "cli/api_verbs.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/jsonpath.h"
#include "runtime/api/printers.h"
#include "runtime/api/resources.h"
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

}  // namespace

Handler attach_get(CLI::App& verb) {
  auto a = std::make_shared<GetArgs>();
  verb.add_option("resource", a->words, "KIND[,KIND...] [NAME...], or `all`")->required();
  verb.add_option("-n,--namespace", a->ns, "Namespace")->capture_default_str();
  verb.add_flag("-A,--all-namespaces", a->all_namespaces, "List across all namespaces");
  verb.add_flag("--no-headers", a->no_headers, "Tables without their header line");
  verb.add_flag("--show-labels", a->show_labels, "A LABELS column last in tables");
  verb.add_option("-l,--selector", a->labels, "Label selector, e.g. app=posts,tier!=db");
  verb.add_option("--field-selector", a->fields,
                  "metadata.name, metadata.namespace or status.phase");
  verb.add_flag("-w,--watch", a->watch,
                "After listing, print each change as it happens (one kind; until Ctrl-C)");
  verb.add_option("-o,--output", a->output, "json, yaml, name, wide or jsonpath=TEMPLATE")
      ->check([](const std::string& v) -> std::string {
        if (v == "json" || v == "yaml" || v == "name" || v == "wide" || v.starts_with("jsonpath="))
          return {};
        return "must be json, yaml, name, wide or jsonpath=TEMPLATE";
      });
  a->state.attach(verb);
  return [a] {
    std::vector<const api::Resource*> resources;
    for (const std::string& kind : split_commas(a->words[0])) {
      if (kind == "all") {
        for (const api::Resource& r : api::all_resources())
          if (std::find(r.categories.begin(), r.categories.end(), "all") != r.categories.end())
            resources.push_back(&r);
        continue;
      }
      const api::Resource* r = api::find_resource(kind);
      if (!r) {
        std::cerr << "error: the server doesn't have a resource type \"" << kind << "\"\n";
        return kExitFailure;
      }
      resources.push_back(r);
    }
    std::vector<std::string> names(a->words.begin() + 1, a->words.end());
    if (a->watch) {
      if (resources.size() != 1 || names.size() > 1) {
        std::cerr
            << "error: watch is only supported on a single resource type and at most one name\n";
        return kExitUsage;
      }
      // A watched name is a list narrowed to it, so the watch can start where the list ended.
      if (!names.empty()) {
        a->fields += (a->fields.empty() ? "" : ",") + std::string("metadata.name=") + names[0];
        names.clear();
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
    bool printed_any = false;
    for (const api::Resource* r : resources) {
      std::vector<Json> objects;
      if (names.empty()) {
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
        for (const std::string& name : names) {
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
      } else if (!objects.empty()) {
        api::TableOptions t;
        t.wide = a->output == "wide";
        t.with_namespace = a->all_namespaces && r->namespaced;
        t.show_kind = resources.size() > 1;
        t.no_headers = a->no_headers;
        t.show_labels = a->show_labels;
        if (printed_any) std::cout << '\n';
        std::cout << api::print_table(r->plural, objects, t, now);
        printed_any = true;
      }
    }
    const bool structured =
        a->output == "json" || a->output == "yaml" || a->output.starts_with("jsonpath=");
    if (structured && (names.empty() || !everything.empty())) {
      // One object by name prints as itself; anything else as a List, as kubectl does.
      Json out = (names.size() == 1 && resources.size() == 1 && everything.size() == 1)
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
    } else if (!printed_any && names.empty() && (a->output.empty() || a->output == "wide")) {
      if (a->all_namespaces)
        std::cerr << "No resources found\n";
      else
        std::cerr << "No resources found in " << a->ns << " namespace.\n";
    }
    if (!a->watch || status != kExitOk) return status;
    return watch_changes(client.value(), *resources[0], *a, ns, list_rv);
  };
}

}  // namespace ticketctl::cli
