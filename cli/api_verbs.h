#pragma once
// What the verbs that talk to the API share: kubectl's way of printing server errors.

#include <chrono>
#include <string>
#include <vector>

#include "runtime/api/client.h"
#include "runtime/api/resources.h"
#include "runtime/core/result.h"
#include "runtime/manifest/json.h"

namespace ticketctl::cli {

// "Error from server (NotFound): deployments.apps "x" not found"
std::string server_error(const Error& e);

// "?labelSelector=app%3Dposts&fieldSelector=..." for a list request; "" when both are empty.
std::string selector_query(const std::string& labels, const std::string& fields);

// A LabelSelector object (matchLabels, matchExpressions) as -l / labelSelector text:
// "app=posts,tier in (a,b),!canary".
std::string label_selector_text(const Json& selector);

// Objects named on the command line as kubectl takes them: "TYPE/NAME..." or "TYPE NAME...".
// A lone "TYPE" gives one ref with an empty name (for -l and --all).
struct ObjectRef {
  const api::Resource* resource = nullptr;
  std::string name;
};
Result<std::vector<ObjectRef>> parse_object_refs(const std::vector<std::string>& words);

// The objects a verb acts on, fetched: each named one, or every one of the lone kind matching
// `labels` (or all of them with `all`). Says on stderr what is wrong with the command line (and
// returns kExitUsage) or which object the server did not find (kExitFailure, the others kept).
struct Fetched {
  const api::Resource* resource = nullptr;
  Json object;
  std::string name() const;  // "deployment.apps/posts-depl", as kubectl prints it
};
int fetch_targets(api::ApiClient& client, const std::vector<ObjectRef>& refs, const std::string& ns,
                  const std::string& labels, bool all, std::vector<Fetched>& out);

// A stored object as a request to create it again (after a delete): without status and the
// metadata the server sets (uid, resourceVersion, creationTimestamp, generation, managedFields,
// deletionTimestamp, deletionGracePeriodSeconds).
Json as_new_object(Json stored);

// kubectl's durations: "30s", "1m30s", "500ms", "2h", "0"; anything else is an Invalid error.
Result<std::chrono::milliseconds> parse_duration(const std::string& text);

}  // namespace ticketctl::cli
