// `wait`: blocks until objects meet a condition (`--for=condition=Ready`, `--for=jsonpath=...`,
// `--for=create`) or are gone (`--for=delete`), with kubectl's semantics and messages. The
// objects are read once, then followed through a watch until the deadline; no polling.

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <iostream>
#include <map>

#include "cli/api_verbs.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/jsonpath.h"

namespace ticketctl::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct WaitArgs {
  std::vector<std::string> words;
  std::string ns = "default";
  std::string labels;
  bool all = false;
  std::string for_what;
  std::string timeout = "30s";
  StateDirArg state;
};

bool equal_fold(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// What --for asks.
struct Condition {
  enum class Kind { Delete, Create, Condition, JsonPath } kind = Kind::Condition;
  std::string name;        // condition type, or the jsonpath template
  std::string value;       // expected status or jsonpath output
  bool any_value = false;  // jsonpath without "=VALUE": any non-empty result
};

Result<Condition> parse_for(const std::string& text) {
  Condition c;
  if (text == "delete") {
    c.kind = Condition::Kind::Delete;
    return c;
  }
  if (text == "create") {
    c.kind = Condition::Kind::Create;
    return c;
  }
  if (text.starts_with("condition=")) {
    const std::string rest = text.substr(10);
    const size_t eq = rest.find('=');
    c.name = rest.substr(0, eq);
    c.value = eq == std::string::npos ? "true" : rest.substr(eq + 1);
    if (!c.name.empty()) return c;
  }
  if (text.starts_with("jsonpath=")) {
    c.kind = Condition::Kind::JsonPath;
    std::string rest = text.substr(9);
    // '{.status.phase}'=Running on a line no shell took apart: drop the quotes.
    if (rest.starts_with("'")) {
      const size_t close = rest.find('\'', 1);
      if (close != std::string::npos) rest = rest.substr(1, close - 1) + rest.substr(close + 1);
    }
    size_t end = 0;  // where the expression ends
    if (rest.starts_with("{")) {
      end = rest.find('}');
      end = end == std::string::npos ? rest.size() : end + 1;
      c.name = rest.substr(0, end);
    } else {
      end = std::min(rest.find('='), rest.size());
      c.name = "{" + rest.substr(0, end) + "}";
    }
    c.any_value = end == rest.size();
    if (!c.any_value) c.value = rest.substr(end + 1);
    if (c.name.size() > 2 && (c.any_value || rest[end] == '=')) return c;
  }
  return Error{ErrorCode::Invalid,
               fmt::format("unrecognized condition: \"{}\" (use delete, create, "
                           "condition=NAME[=VALUE] or jsonpath='{{.FIELD}}'[=VALUE])",
                           text)};
}

// Whether `object` (null when absent) meets `c`. Conditions count only once the controller has
// seen the object's current generation, as kubectl checks.
bool met(const Condition& c, const Json* object) {
  switch (c.kind) {
    case Condition::Kind::Delete:
      return object == nullptr;
    case Condition::Kind::Create:
      return object != nullptr;
    case Condition::Kind::JsonPath: {
      if (!object) return false;
      Result<std::string> out = render_jsonpath(c.name, *object);
      if (!out.ok()) return false;
      return c.any_value ? !out.value().empty() : out.value() == c.value;
    }
    case Condition::Kind::Condition:
      break;
  }
  if (!object) return false;
  const Json& status = json_at(*object, "status");
  const Json& generation = json_at(json_at(*object, "metadata"), "generation");
  for (const Json& cond : json_at(status, "conditions")) {
    if (!equal_fold(str(json_at(cond, "type")), c.name)) continue;
    const Json* observed = &json_at(cond, "observedGeneration");
    if (observed->is_null()) observed = &json_at(status, "observedGeneration");
    if (observed->is_number_integer() && generation.is_number_integer() &&
        observed->get<int64_t>() < generation.get<int64_t>())
      return false;
    return equal_fold(str(json_at(cond, "status")), c.value);
  }
  return false;
}

// Waits on the objects of one resource; prints each as it meets the condition.
int wait_for(api::ApiClient& client, const api::Resource& r, const std::string& ns,
             std::vector<std::string> names, const WaitArgs& a, const Condition& c,
             Clock::time_point deadline) {
  const bool by_name = !names.empty();
  const std::string list_path =
      r.path(r.namespaced ? ns : "") +
      selector_query(a.labels, names.size() == 1 ? "metadata.name=" + names[0] : "");
  std::map<std::string, Json> objects;  // what exists now, by name
  std::vector<std::string> pending;
  auto print_met = [&] {
    for (auto it = pending.begin(); it != pending.end();) {
      auto o = objects.find(*it);
      if (!met(c, o == objects.end() ? nullptr : &o->second)) {
        ++it;
        continue;
      }
      std::cout << r.kubectl_kind() << '/' << *it << " condition met\n" << std::flush;
      it = pending.erase(it);
    }
  };
  bool first = true;
  while (true) {
    Result<Json> list = client.get(list_path);
    if (!list.ok()) {
      std::cerr << server_error(list.error()) << '\n';
      return kExitFailure;
    }
    objects.clear();
    for (Json& o : list.value()["items"]) {
      std::string name = str(o["metadata"]["name"]);
      objects.emplace(std::move(name), std::move(o));
    }
    if (first) {
      first = false;
      if (by_name) {
        for (const std::string& n : names) {
          const bool exists = objects.count(n) > 0;
          // A named object that is already gone has nothing to wait for; one that never
          // existed is an error unless its creation is what we wait for.
          if (!exists && c.kind == Condition::Kind::Delete) continue;
          if (!exists && c.kind != Condition::Kind::Create) {
            std::cerr << "Error from server (NotFound): " << r.plural << " \"" << n
                      << "\" not found\n";
            return kExitFailure;
          }
          pending.push_back(n);
        }
      } else {
        for (const auto& [n, o] : objects) pending.push_back(n);
        if (pending.empty()) {
          if (c.kind == Condition::Kind::Delete) return kExitOk;
          std::cerr << "error: no matching resources found\n";
          return kExitFailure;
        }
      }
    }
    print_met();
    if (pending.empty()) return kExitOk;
    const auto now = Clock::now();
    if (now >= deadline) break;
    const auto left = std::chrono::ceil<std::chrono::seconds>(deadline - now);
    std::string path = list_path;
    path += path.find('?') == std::string::npos ? '?' : '&';
    path += "watch=1&resourceVersion=" + str(list.value()["metadata"]["resourceVersion"]) +
            "&timeoutSeconds=" + std::to_string(left.count());
    bool relist = false;
    Result<bool> watched = client.watch(path, [&](const Json& event) {
      const std::string type = event.value("type", "");
      if (type == "ERROR") {
        relist = true;  // e.g. 410 Gone: read again and watch from there
        return false;
      }
      const std::string name = str(event["object"]["metadata"]["name"]);
      if (type == "DELETED")
        objects.erase(name);
      else
        objects[name] = event["object"];
      print_met();
      return !pending.empty() && Clock::now() < deadline;
    });
    if (pending.empty()) return kExitOk;
    if (!watched.ok() && !relist) {
      std::cerr << "error: " << watched.error().message << '\n';
      return kExitFailure;
    }
    if (Clock::now() >= deadline) break;
  }
  std::cerr << "error: timed out waiting for the condition on " << r.plural << '/'
            << pending.front() << '\n';
  return kExitFailure;
}

}  // namespace

Handler attach_wait(CLI::App& verb) {
  auto a = std::make_shared<WaitArgs>();
  verb.add_option("resource", a->words, "TYPE/NAME..., TYPE NAME..., or TYPE with -l or --all")
      ->required();
  verb.add_option("--for", a->for_what,
                  "delete, create, condition=NAME[=VALUE] or jsonpath='{.FIELD}'[=VALUE]")
      ->required();
  verb.add_option("-l,--selector", a->labels, "Wait for every object of TYPE matching this");
  verb.add_flag("--all", a->all, "Wait for every object of TYPE in the namespace");
  verb.add_option("--timeout", a->timeout, "Give up after this long; 0: check once")
      ->capture_default_str();
  verb.add_option("-n,--namespace", a->ns, "Namespace")->capture_default_str();
  a->state.attach(verb);
  verb.footer(
      "Prints kind/name condition met for each object; exit 1 with \"timed out waiting for the\n"
      "condition on TYPE/NAME\" when the timeout passes first.");
  return [a] {
    Result<Condition> c = parse_for(a->for_what);
    if (!c.ok()) {
      std::cerr << "error: " << c.error().message << '\n';
      return kExitUsage;
    }
    Result<std::chrono::milliseconds> timeout = parse_duration(a->timeout);
    if (!timeout.ok()) {
      std::cerr << "error: " << timeout.error().message << '\n';
      return kExitUsage;
    }
    Result<std::vector<ObjectRef>> refs = parse_object_refs(a->words);
    if (!refs.ok()) {
      std::cerr << "error: " << refs.error().message << '\n';
      return kExitUsage;
    }
    const bool listed = !a->labels.empty() || a->all;
    // One resource at a time, in the order given, each with what is left of the timeout.
    std::vector<std::pair<const api::Resource*, std::vector<std::string>>> groups;
    for (const ObjectRef& ref : refs.value()) {
      if (ref.name.empty() != listed) {
        std::cerr << (listed ? "error: name objects or select them with -l/--all, not both\n"
                             : "error: resource(s) were provided, but no name was specified\n");
        return kExitUsage;
      }
      if (groups.empty() || groups.back().first != ref.resource)
        groups.push_back({ref.resource, {}});
      if (!ref.name.empty()) groups.back().second.push_back(ref.name);
    }
    Result<api::ApiClient> client = a->state.connect();
    if (!client.ok()) {
      std::cerr << "error: " << client.error().message << '\n';
      return kExitFailure;
    }
    const auto deadline = Clock::now() + timeout.value();
    for (const auto& [resource, names] : groups) {
      const int status = wait_for(client.value(), *resource, a->ns, names, *a, c.value(), deadline);
      if (status != kExitOk) return status;
    }
    return kExitOk;
  };
}

}  // namespace ticketctl::cli
