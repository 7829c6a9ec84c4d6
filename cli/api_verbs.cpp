#include "cli/api_verbs.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cctype>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "runtime/manifest/label_selector.h"

namespace ticketctl::cli {

std::string server_error(const Error& e) {
  switch (e.code) {
    case ErrorCode::NotFound:
      return "Error from server (NotFound): " + e.message;
    case ErrorCode::AlreadyExists:
      return "Error from server (AlreadyExists): " + e.message;
    case ErrorCode::Conflict:
      return "Error from server (Conflict): " + e.message;
    case ErrorCode::Invalid:
      return "Error from server (Invalid): " + e.message;
    case ErrorCode::Internal:
      return "error: " + e.message;
  }
  return "error: " + e.message;
}

std::string label_selector_text(const Json& selector) {
  // The objects come from the API server, which refused invalid selectors at admission.
  return manifest::label_selector_string(selector).value_or("");
}

std::string selector_query(const std::string& labels, const std::string& fields) {
  std::string q;
  auto add = [&](const char* key, const std::string& value) {
    if (value.empty()) return;
    q += q.empty() ? '?' : '&';
    q += key;
    q += '=';
    for (char c : value) {
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')
        q += c;
      else
        q += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  };
  add("labelSelector", labels);
  add("fieldSelector", fields);
  return q;
}

Result<std::vector<ObjectRef>> parse_object_refs(const std::vector<std::string>& words) {
  std::vector<ObjectRef> out;
  auto resource = [](const std::string& type) -> Result<const api::Resource*> {
    const api::Resource* r = api::find_resource(type);
    if (!r)
      return Error{ErrorCode::Invalid,
                   fmt::format("the server doesn't have a resource type \"{}\"", type)};
    return r;
  };
  if (words.empty())
    return Error{ErrorCode::Invalid, "you must provide one or more resources by argument"};
  if (words[0].find('/') != std::string::npos) {
    for (const std::string& w : words) {
      const size_t slash = w.find('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == w.size())
        return Error{ErrorCode::Invalid,
                     fmt::format("there is no need to specify a resource type as a separate "
                                 "argument when passing arguments in resource/name form (e.g. "
                                 "'ticketctl get resource/<resource_name>' instead of "
                                 "'ticketctl get resource resource/<resource_name>'): {}",
                                 w)};
      Result<const api::Resource*> r = resource(w.substr(0, slash));
      if (!r.ok()) return r.error();
      out.push_back({r.value(), w.substr(slash + 1)});
    }
    return out;
  }
  Result<const api::Resource*> r = resource(words[0]);
  if (!r.ok()) return r.error();
  if (words.size() == 1) out.push_back({r.value(), {}});
  for (size_t i = 1; i < words.size(); ++i) out.push_back({r.value(), words[i]});
  return out;
}

std::string Fetched::name() const {
  return resource->kubectl_kind() + "/" +
         json_at(json_at(object, "metadata"), "name").get<std::string>();
}

int fetch_targets(api::ApiClient& client, const std::vector<ObjectRef>& refs, const std::string& ns,
                  const std::string& labels, bool all, std::vector<Fetched>& out) {
  const bool whole_kind = refs.size() == 1 && refs[0].name.empty();
  if (whole_kind && !all && labels.empty()) {
    std::cerr << "error: resource(s) were provided, but no name was specified\n";
    return kExitUsage;
  }
  if (!whole_kind && (all || !labels.empty())) {
    std::cerr << "error: names cannot be provided when a selector or --all is specified\n";
    return kExitUsage;
  }
  if (whole_kind) {
    const api::Resource* r = refs[0].resource;
    Result<Json> list = client.get(r->path(r->namespaced ? ns : "") + selector_query(labels, {}));
    if (!list.ok()) {
      std::cerr << server_error(list.error()) << '\n';
      return kExitFailure;
    }
    for (Json& o : list.value()["items"]) {
      // A list's items carry no kind; fill it in as for a single GET.
      o["apiVersion"] = r->api_version();
      o["kind"] = r->kind;
      out.push_back({r, std::move(o)});
    }
    if (out.empty()) std::cerr << "No resources found\n";  // kubectl's words; not an error
    return kExitOk;
  }
  int status = kExitOk;
  for (const ObjectRef& ref : refs) {
    Result<Json> o = client.get(ref.resource->path(ns, ref.name));
    if (!o.ok()) {
      std::cerr << server_error(o.error()) << '\n';
      status = kExitFailure;
      continue;
    }
    out.push_back({ref.resource, std::move(o.value())});
  }
  return status;
}

Json as_new_object(Json stored) {
  stored.erase("status");
  if (stored.contains("metadata") && stored["metadata"].is_object())
    for (const char* key : {"uid", "resourceVersion", "creationTimestamp", "generation",
                            "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds"})
      stored["metadata"].erase(key);
  return stored;
}

Result<std::chrono::milliseconds> parse_duration(const std::string& text) {
  using std::chrono::milliseconds;
  const Error bad{ErrorCode::Invalid,
                  fmt::format("invalid duration \"{}\": use a number with a unit, e.g. 30s, 2m, "
                              "500ms",
                              text)};
  if (text == "0") return milliseconds(0);
  double total = 0;
  size_t i = 0;
  if (text.empty()) return bad;
  while (i < text.size()) {
    size_t used = 0;
    double value = 0;
    try {
      value = std::stod(text.substr(i), &used);
    } catch (const std::exception&) {
      return bad;
    }
    i += used;
    size_t unit_end = i;
    while (unit_end < text.size() && std::isalpha(static_cast<unsigned char>(text[unit_end])))
      ++unit_end;
    const std::string unit = text.substr(i, unit_end - i);
    i = unit_end;
    if (unit == "ms")
      total += value;
    else if (unit == "s")
      total += value * 1000;
    else if (unit == "m")
      total += value * 60'000;
    else if (unit == "h")
      total += value * 3'600'000;
    else
      return bad;
  }
  return milliseconds(static_cast<int64_t>(total));
}

}  // namespace ticketctl::cli
