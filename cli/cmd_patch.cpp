// `patch` and `set image`: changes to stored objects sent as PATCH requests, which the API
// applies to what it stores (runtime/api/patch.h) and validates like any other write.

#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "cli/api_verbs.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "runtime/core/limits.h"

namespace ticketctl::cli {
namespace {

struct PatchArgs {
  std::vector<std::string> words;  // TYPE/NAME... or TYPE NAME...
  std::string ns = "default";
  std::string patch, patch_file, type = "strategic";
  StateDirArg state;
};

const char* content_type_of(const std::string& type) {
  if (type == "json") return "application/json-patch+json";
  if (type == "merge") return "application/merge-patch+json";
  return "application/strategic-merge-patch+json";
}

std::string namespace_of(const Fetched& t, const std::string& fallback) {
  const Json& ns = json_at(json_at(t.object, "metadata"), "namespace");
  return ns.is_string() ? ns.get<std::string>() : fallback;
}

std::string name_of(const Fetched& t) {
  return t.object["metadata"]["name"].get<std::string>();
}

// The patch text, from -p or --patch-file, checked to be what --type expects.
Result<std::string> read_patch(const PatchArgs& a) {
  std::string text = a.patch;
  if (!a.patch_file.empty()) {
    std::ifstream in(a.patch_file, std::ios::binary);
    if (!in)
      return Error{ErrorCode::Invalid, fmt::format("cannot read --patch-file {}", a.patch_file)};
    std::ostringstream buf;
    buf << in.rdbuf();
    text = buf.str();
  }
  // The API server refuses bodies over its request limit anyway; refuse them before sending.
  if (text.size() > limits::kMaxRequestBodyBytes)
    return Error{ErrorCode::Invalid, "the patch is larger than the API's 3 MiB request limit"};
  const Json parsed = Json::parse(text, nullptr, false);
  if (parsed.is_discarded())
    return Error{ErrorCode::Invalid,
                 fmt::format("unable to parse \"{}\": the patch must be JSON", text)};
  if (a.type == "json" && !parsed.is_array())
    return Error{ErrorCode::Invalid,
                 "a --type json patch must be a JSON array of operations, e.g. "
                 "[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":2}]"};
  if (a.type != "json" && !parsed.is_object())
    return Error{ErrorCode::Invalid,
                 fmt::format("a --type {} patch must be a JSON object", a.type)};
  return text;
}

// The container lists a kind's pod template keeps, as JSON pointers' parents.
const Json* pod_spec_of(const Fetched& t) {
  if (t.resource->plural == "pods") return &json_at(t.object, "spec");
  if (t.resource->plural == "deployments" || t.resource->plural == "replicasets")
    return &json_at(json_at(json_at(t.object, "spec"), "template"), "spec");
  return nullptr;
}

}  // namespace

Handler attach_patch(CLI::App& verb) {
  auto a = std::make_shared<PatchArgs>();
  verb.add_option("resource", a->words, "TYPE/NAME or TYPE NAME")->required();
  verb.add_option("-p,--patch", a->patch, "The patch, as JSON");
  verb.add_option("--patch-file", a->patch_file, "A file holding the patch, as JSON");
  verb.add_option("--type", a->type, "strategic (the default), merge or json")
      ->check(CLI::IsMember({"strategic", "merge", "json"}));
  verb.add_option("-n,--namespace", a->ns, "Namespace")->capture_default_str();
  a->state.attach(verb);
  verb.footer(
      "merge is RFC 7386 (null removes a field); json is RFC 6902 (a list of operations);\n"
      "strategic merges lists of containers, env, ports, volumes and mounts by their names, as\n"
      "Kubernetes does for the kinds served here, and replaces every other list as merge does.\n"
      "Prints kind/name patched, or patched (no change).");
  return [a] {
    if (a->patch.empty() == a->patch_file.empty()) {
      std::cerr << "error: give the patch with -p or --patch-file (one of them)\n";
      return kExitUsage;
    }
    Result<std::string> patch = read_patch(*a);
    if (!patch.ok()) {
      std::cerr << "error: " << patch.error().message << '\n';
      return kExitUsage;
    }
    Result<std::vector<ObjectRef>> refs = parse_object_refs(a->words);
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
    int status = fetch_targets(client.value(), refs.value(), a->ns, {}, false, targets);
    if (status == kExitUsage) return status;
    for (const Fetched& t : targets) {
      Result<Json> written =
          client.value().patch(t.resource->path(namespace_of(t, a->ns), name_of(t)),
                               content_type_of(a->type), patch.value());
      if (!written.ok()) {
        std::cerr << server_error(written.error()) << '\n';
        status = kExitFailure;
        continue;
      }
      // The store keeps an unchanged write as it was, resourceVersion included.
      const bool same = json_at(written.value()["metadata"], "resourceVersion") ==
                        json_at(t.object["metadata"], "resourceVersion");
      std::cout << t.name() << (same ? " patched (no change)\n" : " patched\n");
    }
    return status;
  };
}

namespace {

struct SetImageArgs {
  std::vector<std::string> words;  // TYPE/NAME... CONTAINER=IMAGE...
  std::string ns = "default";
  std::string labels;
  bool all = false;
  StateDirArg state;
};

Handler attach_set_image(CLI::App& verb) {
  auto a = std::make_shared<SetImageArgs>();
  verb.add_option("args", a->words,
                  "TYPE/NAME... (deployments, replicasets, pods), then CONTAINER=IMAGE... "
                  "(*=IMAGE: every container)")
      ->required();
  verb.add_option("-l,--selector", a->labels, "Every object of TYPE matching this label selector");
  verb.add_flag("--all", a->all, "Every object of TYPE in the namespace");
  verb.add_option("-n,--namespace", a->ns, "Namespace")->capture_default_str();
  a->state.attach(verb);
  verb.footer(
      "Changes the image of containers (and init containers) by name. A Deployment then rolls\n"
      "out a new ReplicaSet (`ticketctl rollout status` follows it). Prints kind/name image\n"
      "updated; an object whose images are already these is left alone and said so.\n\n"
      "Examples:\n"
      "  ticketctl set image deploy/posts-depl posts=demo/posts:2\n"
      "  ticketctl set image deployment posts-depl '*=demo/posts:2'\n"
      "  ticketctl set image deploy -l app=posts posts=demo/posts:2 sidecar=busybox");
  return [a] {
    std::vector<std::string> objects;
    std::map<std::string, std::string> images;
    for (const std::string& w : a->words) {
      const size_t eq = w.find('=');
      if (eq == std::string::npos) {
        objects.push_back(w);
        continue;
      }
      if (eq == 0 || eq + 1 == w.size()) {
        std::cerr << "error: invalid image update \"" << w << "\": write CONTAINER=IMAGE\n";
        return kExitUsage;
      }
      images[w.substr(0, eq)] = w.substr(eq + 1);
    }
    if (images.empty()) {
      std::cerr << "error: at least one image update is required (CONTAINER=IMAGE)\n";
      return kExitUsage;
    }
    Result<std::vector<ObjectRef>> refs = parse_object_refs(objects);
    if (!refs.ok()) {
      std::cerr << "error: " << refs.error().message << '\n';
      return kExitUsage;
    }
    for (const ObjectRef& ref : refs.value())
      if (ref.resource->plural != "deployments" && ref.resource->plural != "replicasets" &&
          ref.resource->plural != "pods") {
        std::cerr << "error: cannot set the image of " << ref.resource->kubectl_kind()
                  << ": only deployments, replicasets and pods have containers\n";
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
      const Json& spec = *pod_spec_of(t);
      // A strategic merge patch: containers merge by name, so only their images change.
      Json lists = Json::object();
      std::map<std::string, bool> found;
      bool changed = false;
      for (const char* list : {"initContainers", "containers"})
        for (const Json& c : json_at(spec, list)) {
          const std::string name =
              json_at(c, "name").is_string() ? c["name"].get<std::string>() : "";
          auto it = images.find(name);
          if (it == images.end()) it = images.find("*");
          if (it == images.end()) continue;
          found[it->first] = true;
          changed = changed || json_at(c, "image") != it->second;
          lists[list].push_back({{"name", name}, {"image", it->second}});
        }
      bool missing = false;
      for (const auto& [container, image] : images)
        if (!found[container]) {
          std::cerr << "error: unable to find container named \"" << container << "\" in "
                    << t.name() << '\n';
          missing = true;
        }
      if (missing) {
        status = kExitFailure;
        continue;
      }
      if (!changed) {
        std::cerr << "info: " << t.name() << " was not changed\n";
        continue;
      }
      const Json patch = t.resource->plural == "pods"
                             ? Json{{"spec", lists}}
                             : Json{{"spec", {{"template", {{"spec", lists}}}}}};
      Result<Json> written =
          client.value().patch(t.resource->path(namespace_of(t, a->ns), name_of(t)),
                               "application/strategic-merge-patch+json", patch.dump());
      if (!written.ok()) {
        std::cerr << server_error(written.error()) << '\n';
        status = kExitFailure;
        continue;
      }
      std::cout << t.name() << " image updated\n";
    }
    return status;
  };
}

}  // namespace

Handler attach_set(CLI::App& verb) {
  verb.require_subcommand(1);
  CLI::App* image = verb.add_subcommand("image", "Change the image of containers by name");
  auto run_image = std::make_shared<Handler>(attach_set_image(*image));
  return [run_image] { return (*run_image)(); };
}

}  // namespace ticketctl::cli
