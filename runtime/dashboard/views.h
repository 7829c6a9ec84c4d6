#pragma once
// What the dashboard's page shows and does, without HTTP: a snapshot of the app read through the
// API handler (the same REST semantics the CLI reads), an object's YAML with Secret values
// masked, and the actions (rollout restart, scale, delete pod) as API requests together with
// the CLI command each one equals.
// Threads: any; every read goes through ApiHandler, which takes the store lock.

#include <functional>
#include <string>
#include <vector>

#include "runtime/api/handler.h"
#include "runtime/core/result.h"
#include "runtime/manifest/json.h"

namespace ticketctl::dashboard {

// The error lines of a container's current run, or of its previous one: the daemon passes the
// readiness gate's log source reduced to its error excerpt (daemon/gate.h), so the dashboard
// depends on no module above it.
using LogSource = std::function<std::vector<std::string>(
    const Json& pod, const std::string& container, bool previous)>;

// {"pods": [...], "deployments": [...], "services": [...], "ingresses": [...], "events": [...]}:
// each object cut to the fields the page shows; pods with kubectl's STATUS, RESTARTS and AGE,
// the reason when not Ready and the last crash's error line.
Json snapshot(api::ApiHandler& api, const LogSource& logs);

// The object as YAML, Secret data and stringData values (also inside the last-applied
// annotation) replaced by "*****". Errors name the object.
Result<std::string> object_yaml(api::ApiHandler& api, const std::string& resource,
                                const std::string& ns, const std::string& name);

// An action from the page: {"action": "restart"|"scale"|"delete", "namespace", "name",
// "replicas" (scale)}. Returns {"command": the CLI command it equals, "message": what happened};
// an error carries the API's message.
Result<Json> run_action(api::ApiHandler& api, const Json& request);

// The CLI command an action equals, or an error naming the bad field.
Result<std::string> action_command(const Json& request);

}  // namespace ticketctl::dashboard
