// `label` and `annotate`: add, change (--overwrite) or remove (KEY-) labels or annotations of
// objects named, selected with -l, or all of a kind, as kubectl does: each object is read, the
// change checked against what it has, then sent as a JSON merge patch of just those keys. Like
// kubectl, the patch carries no resourceVersion: controllers rewrite pods' and Deployments'
// status all the time, and a label change must not fail on that.

#include <fmt/format.h>

#include <iostream>
#include <map>
#include <optional>
#include <set>

#include "cli/api_verbs.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "runtime/manifest/names.h"

namespace ticketctl::cli {
namespace {

// What differs between the two verbs.
struct MetaKind {
  const char* field;     // "labels"
  const char* singular;  // "label"
  const char* done;      // "labeled"
  bool check_values;     // label values have a syntax; annotation values are any string
};
constexpr MetaKind kLabels{"labels", "label", "labeled", true};
constexpr MetaKind kAnnotations{"annotations", "annotation", "annotated", false};

struct MetaArgs {
  std::vector<std::string> words;  // TYPE/NAME... or TYPE NAME..., then KEY=VALUE... and KEY-...
  std::string ns = "default";
  std::string labels;
  bool all = false, overwrite = false;
  StateDirArg state;
};

struct Changes {
  std::map<std::string, std::string> set;
  std::set<std::string> remove;
};

// kubectl tells the objects from the changes by their shape: "k=v" or "k-".
bool is_change(const std::string& w) {
  return w.find('=') != std::string::npos || (w.size() > 1 && w.back() == '-');
}

Result<Changes> parse_changes(const std::vector<std::string>& words, const MetaKind& kind) {
  Changes c;
  auto invalid = [&](const std::string& w, std::string_view part, const std::string& why) {
    return Error{ErrorCode::Invalid,
                 fmt::format("invalid {} spec \"{}\": {}: {}", kind.singular, w, part, why)};
  };
  for (const std::string& w : words) {
    const size_t eq = w.find('=');
    const std::string key = eq == std::string::npos ? w.substr(0, w.size() - 1) : w.substr(0, eq);
    if (manifest::Invalid bad = manifest::check_label_key(key)) return invalid(w, "key", *bad);
    if (eq == std::string::npos) {
      c.remove.insert(key);
      continue;
    }
    const std::string value = w.substr(eq + 1);
    if (kind.check_values)
      if (manifest::Invalid bad = manifest::check_label_value(value))
        return invalid(w, "value", *bad);
    if (c.set.contains(key) && c.set[key] != value)
      return Error{ErrorCode::Invalid,
                   fmt::format("{} \"{}\" is given two values", kind.singular, key)};
    c.set[key] = value;
  }
  for (const std::string& key : c.remove)
    if (c.set.contains(key))
      return Error{ErrorCode::Invalid, fmt::format("can not both modify and remove {} \"{}\" in "
                                                   "the same command",
                                                   kind.singular, key)};
  if (c.set.empty() && c.remove.empty())
    return Error{ErrorCode::Invalid,
                 fmt::format("at least one {} update is required", kind.singular)};
  return c;
}

// The merge patch for one object, or the reason it is refused; nullopt patch = nothing changes.
Result<std::optional<Json>> patch_for(const Fetched& t, const Changes& c, const MetaKind& kind,
                                      bool overwrite) {
  const Json& metadata = json_at(t.object, "metadata");
  const Json& have = json_at(metadata, kind.field);
  auto current = [&](const std::string& key) -> std::optional<std::string> {
    const Json& v = json_at(have, key);
    if (v.is_null()) return std::nullopt;
    return v.is_string() ? v.get<std::string>() : v.dump();
  };
  Json changes = Json::object();
  for (const auto& [key, value] : c.set) {
    const std::optional<std::string> old = current(key);
    if (old == value) continue;
    if (old && !overwrite) {
      if (kind.check_values)
        return Error{
            ErrorCode::Invalid,
            fmt::format("'{}' already has a value ({}), and --overwrite is false", key, *old)};
      return Error{ErrorCode::Invalid,
                   fmt::format("--overwrite is false but found the following declared "
                               "annotation(s): '{}' already has a value ({})",
                               key, *old)};
    }
    changes[key] = value;
  }
  for (const std::string& key : c.remove) {
    if (!current(key)) {
      if (kind.check_values) std::cerr << "label \"" << key << "\" not found.\n";
      continue;
    }
    changes[key] = nullptr;  // merge patch: null removes the key
  }
  if (changes.empty()) return std::optional<Json>();
  return std::optional<Json>(Json{{"metadata", {{kind.field, changes}}}});
}

Handler attach_meta(CLI::App& verb, const MetaKind& kind) {
  auto a = std::make_shared<MetaArgs>();
  verb.add_option("args", a->words,
                  fmt::format("TYPE/NAME... or TYPE NAME..., then KEY=VALUE to set and KEY- to "
                              "remove {}",
                              kind.field))
      ->required();
  verb.add_flag("--overwrite", a->overwrite,
                fmt::format("Allow changing a {} that already has a value", kind.singular));
  verb.add_option("-l,--selector", a->labels, "Every object of TYPE matching this label selector");
  verb.add_flag("--all", a->all, "Every object of TYPE in the namespace");
  verb.add_option("-n,--namespace", a->ns, "Namespace")->capture_default_str();
  a->state.attach(verb);
  return [a, &kind] {
    std::vector<std::string> objects, words;
    for (const std::string& w : a->words) (is_change(w) ? words : objects).push_back(w);
    Result<Changes> changes = parse_changes(words, kind);
    if (!changes.ok()) {
      std::cerr << "error: " << changes.error().message << '\n';
      return kExitUsage;
    }
    Result<std::vector<ObjectRef>> refs = parse_object_refs(objects);
    if (!refs.ok()) {
      std::cerr << "error: " << refs.error().message << '\n';
      return kExitUsage;
    }
    Result<api::ApiClient> client = a->state.connect();
    if (!client.ok()) {
      std::cerr << "error: " << client.error().message << '\n';
      return kExitFailure;
    }
    std::vector<Fetched> targets;
    int status = fetch_targets(client.value(), refs.value(), a->ns, a->labels, a->all, targets);
    if (status == kExitUsage) return status;
    for (const Fetched& t : targets) {
      Result<std::optional<Json>> patch = patch_for(t, changes.value(), kind, a->overwrite);
      if (!patch.ok()) {
        std::cerr << "error: " << patch.error().message << '\n';
        status = kExitFailure;
        continue;
      }
      std::string done = kind.done;
      if (!patch.value()) {
        // kubectl's words: a label left as it was is "not labeled"; annotate always says so.
        if (kind.check_values) done = "not labeled";
      } else {
        const Json& metadata = t.object["metadata"];
        Result<Json> written =
            client.value().patch(t.resource->path(json_at(metadata, "namespace").is_string()
                                                      ? metadata["namespace"].get<std::string>()
                                                      : a->ns,
                                                  metadata["name"].get<std::string>()),
                                 "application/merge-patch+json", patch.value()->dump());
        if (!written.ok()) {
          std::cerr << server_error(written.error()) << '\n';
          status = kExitFailure;
          continue;
        }
        bool only_removed = true;
        for (const auto& [key, value] : (*patch.value())["metadata"][kind.field].items())
          only_removed = only_removed && value.is_null();
        if (kind.check_values && only_removed) done = "unlabeled";
      }
      std::cout << t.name() << ' ' << done << '\n';
    }
    return status;
  };
}

}  // namespace

Handler attach_label(CLI::App& verb) {
  verb.footer(
      "Keys and values follow Kubernetes' label syntax ([prefix/]name, 63 characters, "
      "alphanumerics,\n'-', '_' and '.'). A key that already has another value is refused unless "
      "--overwrite.");
  return attach_meta(verb, kLabels);
}

Handler attach_annotate(CLI::App& verb) {
  verb.footer(
      "Keys follow Kubernetes' label key syntax; values are any text. A key that already has\n"
      "another value is refused unless --overwrite.");
  return attach_meta(verb, kAnnotations);
}

}  // namespace ticketctl::cli
