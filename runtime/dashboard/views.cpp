#include "runtime/dashboard/views.h"

#include <fmt/format.h>

#include <chrono>
#include <ctime>

#include "runtime/api/printers.h"
#include "runtime/api/resources.h"
#include "runtime/core/rfc3339.h"
#include "runtime/manifest/label_selector.h"
#include "runtime/manifest/names.h"
#include "runtime/manifest/reasons.h"
#include "runtime/manifest/yaml_writer.h"

namespace ticketctl::dashboard {
namespace {

constexpr std::string_view kMask = "*****";
constexpr int64_t kMaxReplicas = 100;  // a click must not start a thousand Node processes

std::string str(const Json& v) {
  return v.is_string() ? v.get<std::string>() : "";
}

Json list(api::ApiHandler& api, const std::string& path) {
  api::Request r;
  r.method = "GET";
  r.path = path;
  const api::Response out = api.handle(r);
  if (out.status != 200 || !out.body.contains("items")) return Json::array();
  return out.body["items"];
}

Json meta_of(const Json& o) {
  const Json& m = json_at(o, "metadata");
  return {{"namespace", str(json_at(m, "namespace"))},
          {"name", str(json_at(m, "name"))},
          {"uid", str(json_at(m, "uid"))}};
}

// Why a pod is not Ready, in the words kubectl describe would use: a waiting or terminated
// container's reason and message, else the Ready condition's.
std::string not_ready_reason(const Json& pod) {
  const Json& status = json_at(pod, "status");
  for (const Json& c : json_at(status, "containerStatuses")) {
    for (const char* state : {"waiting", "terminated"}) {
      const Json& s = json_at(json_at(c, "state"), state);
      if (!s.is_object()) continue;
      std::string out = str(json_at(s, "reason"));
      const std::string message = str(json_at(s, "message"));
      if (!message.empty()) out += (out.empty() ? "" : ": ") + message;
      if (!out.empty()) return out;
    }
  }
  for (const Json& c : json_at(status, "conditions"))
    if (str(json_at(c, "type")) == reasons::kReady && str(json_at(c, "status")) != "True") {
      const std::string reason = str(json_at(c, "reason"));
      const std::string message = str(json_at(c, "message"));
      return message.empty() ? reason : (reason.empty() ? message : reason + ": " + message);
    }
  return str(json_at(status, "reason"));
}

bool pod_ready(const Json& pod) {
  for (const Json& c : json_at(json_at(pod, "status"), "conditions"))
    if (str(json_at(c, "type")) == reasons::kReady) return str(json_at(c, "status")) == "True";
  return false;
}

// The error line of the last crash: from the previous run's output when the container restarted,
// else from the current run's (a container that exited and waits for its restart).
std::string crash_line(const Json& pod, const LogSource& logs) {
  for (const Json& c : json_at(json_at(pod, "status"), "containerStatuses")) {
    const bool restarted = json_at(c, "restartCount").is_number() && c["restartCount"] > 0;
    const bool ended = json_at(json_at(c, "state"), "terminated").is_object();
    if (!restarted && !ended) continue;
    const std::vector<std::string> lines = logs(pod, str(json_at(c, "name")), !ended);
    if (!lines.empty()) return lines.front();
  }
  return "";
}

Json pods_view(const Json& items, const LogSource& logs) {
  std::vector<Json> objects(items.begin(), items.end());
  const api::TableData table = api::table_data("pods", objects, std::chrono::system_clock::now());
  const auto column = [&](std::string_view name) {
    for (size_t i = 0; i < table.columns.size(); ++i)
      if (table.columns[i].name == name) return i;
    return table.columns.size();
  };
  const size_t status_col = column("STATUS"), restarts_col = column("RESTARTS"),
               age_col = column("AGE"), ready_col = column("READY");
  const auto cell = [&](size_t row, size_t col) {
    return row < table.rows.size() && col < table.rows[row].size() ? table.rows[row][col] : "";
  };
  Json out = Json::array();
  for (size_t i = 0; i < objects.size(); ++i) {
    const Json& pod = objects[i];
    Json p = meta_of(pod);
    p["labels"] = json_at(json_at(pod, "metadata"), "labels").is_object()
                      ? pod["metadata"]["labels"]
                      : Json::object();
    p["status"] = cell(i, status_col);
    p["ready"] = cell(i, ready_col);
    p["isReady"] = pod_ready(pod);
    p["restarts"] = cell(i, restarts_col);
    p["age"] = cell(i, age_col);
    p["ip"] = str(json_at(json_at(pod, "status"), "podIP"));
    p["reason"] = p["isReady"].get<bool>() ? "" : not_ready_reason(pod);
    p["errorLine"] = crash_line(pod, logs);
    p["deleting"] = json_at(json_at(pod, "metadata"), "deletionTimestamp").is_string();
    out.push_back(std::move(p));
  }
  return out;
}

// Each Deployment with the names of the pods its whole selector (matchExpressions included)
// selects, so the page draws no edge by matchLabels alone.
Json deployments_view(const Json& items, const Json& pods) {
  Json out = Json::array();
  for (const Json& d : items) {
    Json v = meta_of(d);
    const Json& spec = json_at(d, "spec");
    const std::string ns = str(json_at(json_at(d, "metadata"), "namespace"));
    Json selected = Json::array();
    if (json_at(spec, "selector").is_object() && pods.is_array())
      for (const Json& p : pods) {
        const Json& meta = json_at(p, "metadata");
        if (str(json_at(meta, "namespace")) == ns &&
            manifest::label_selector_matches(spec["selector"], json_at(meta, "labels")))
          selected.push_back(str(json_at(meta, "name")));
      }
    v["pods"] = std::move(selected);
    const Json& status = json_at(d, "status");
    v["replicas"] = json_at(spec, "replicas").is_number() ? spec["replicas"] : Json(1);
    v["readyReplicas"] =
        json_at(status, "readyReplicas").is_number() ? status["readyReplicas"] : Json(0);
    v["selector"] = json_at(json_at(spec, "selector"), "matchLabels").is_object()
                        ? spec["selector"]["matchLabels"]
                        : Json::object();
    out.push_back(std::move(v));
  }
  return out;
}

Json services_view(const Json& items) {
  Json out = Json::array();
  for (const Json& s : items) {
    Json v = meta_of(s);
    const Json& spec = json_at(s, "spec");
    v["type"] = str(json_at(spec, "type"));
    v["clusterIP"] = str(json_at(spec, "clusterIP"));
    v["selector"] = json_at(spec, "selector").is_object() ? spec["selector"] : Json::object();
    Json ports = Json::array();
    for (const Json& p : json_at(spec, "ports"))
      if (json_at(p, "port").is_number()) ports.push_back(p["port"]);
    v["ports"] = ports;
    out.push_back(std::move(v));
  }
  return out;
}

Json ingresses_view(const Json& items) {
  Json out = Json::array();
  for (const Json& ing : items) {
    Json v = meta_of(ing);
    Json rules = Json::array();
    for (const Json& rule : json_at(json_at(ing, "spec"), "rules"))
      for (const Json& path : json_at(json_at(rule, "http"), "paths")) {
        const Json& svc = json_at(json_at(path, "backend"), "service");
        const Json& port = json_at(svc, "port");
        rules.push_back({{"host", str(json_at(rule, "host"))},
                         {"path", str(json_at(path, "path"))},
                         {"service", str(json_at(svc, "name"))},
                         {"port", json_at(port, "number").is_number()
                                      ? fmt::format("{}", port["number"].get<int64_t>())
                                      : str(json_at(port, "name"))}});
      }
    v["rules"] = rules;
    out.push_back(std::move(v));
  }
  return out;
}

Json events_view(const Json& items) {
  Json out = Json::array();
  for (const Json& e : items) {
    const Json& involved = json_at(e, "involvedObject");
    std::string last = str(json_at(e, "lastTimestamp"));
    if (last.empty()) last = str(json_at(e, "eventTime"));
    if (last.empty()) last = str(json_at(json_at(e, "metadata"), "creationTimestamp"));
    out.push_back({{"namespace", str(json_at(json_at(e, "metadata"), "namespace"))},
                   {"type", str(json_at(e, "type"))},
                   {"reason", str(json_at(e, "reason"))},
                   {"object", fmt::format("{}/{}", str(json_at(involved, "kind")),
                                          str(json_at(involved, "name")))},
                   {"message", str(json_at(e, "message"))},
                   {"count", json_at(e, "count").is_number() ? e["count"] : Json(1)},
                   {"last", last}});
  }
  return out;
}

void mask_values(Json& map) {
  if (!map.is_object()) return;
  for (auto& [key, value] : map.items()) value = kMask;
}

// Secret values appear in data, stringData and in kubectl's last-applied annotation (a JSON
// copy of the manifest); all three are masked.
void mask_secret(Json& secret) {
  mask_values(secret["data"]);
  if (secret.contains("stringData")) mask_values(secret["stringData"]);
  if (secret["data"].is_null()) secret.erase("data");
  Json& annotations = secret["metadata"]["annotations"];
  constexpr const char* kLast = "kubectl.kubernetes.io/last-applied-configuration";
  if (annotations.is_object() && annotations.contains(kLast)) {
    Json last = Json::parse(str(annotations[kLast]), nullptr, false);
    if (last.is_object()) {
      if (last.contains("data")) mask_values(last["data"]);
      if (last.contains("stringData")) mask_values(last["stringData"]);
      annotations[kLast] = last.dump();
    } else {
      annotations[kLast] = kMask;
    }
  }
  if (annotations.is_null()) secret["metadata"].erase("annotations");
}

Result<std::string> checked_name(const Json& request, const char* field) {
  const std::string value = str(json_at(request, field));
  if (value.empty()) return Error{ErrorCode::Invalid, fmt::format("the action has no {}", field)};
  if (auto bad = manifest::check_dns1123_subdomain(value))
    return Error{ErrorCode::Invalid, fmt::format("{} \"{}\": {}", field, value, *bad)};
  return value;
}

std::string api_error(const api::Response& out) {
  const std::string message = str(json_at(out.body, "message"));
  return message.empty() ? fmt::format("the API answered {}", out.status) : message;
}

}  // namespace

Json snapshot(api::ApiHandler& api, const LogSource& logs) {
  const Json pods = list(api, "/api/v1/pods");
  return {{"pods", pods_view(pods, logs)},
          {"deployments", deployments_view(list(api, "/apis/apps/v1/deployments"), pods)},
          {"services", services_view(list(api, "/api/v1/services"))},
          {"ingresses", ingresses_view(list(api, "/apis/networking.k8s.io/v1/ingresses"))},
          {"events", events_view(list(api, "/api/v1/events"))}};
}

Result<std::string> object_yaml(api::ApiHandler& api, const std::string& resource,
                                const std::string& ns, const std::string& name) {
  const api::Resource* r = api::find_resource(resource);
  if (!r) return Error{ErrorCode::Invalid, fmt::format("unknown resource \"{}\"", resource)};
  for (const std::string* s : {&ns, &name})
    if (auto bad = manifest::check_dns1123_subdomain(*s))
      return Error{ErrorCode::Invalid, fmt::format("\"{}\": {}", *s, *bad)};
  api::Request req;
  req.method = "GET";
  req.path = r->path(ns, name);
  api::Response out = api.handle(req);
  if (out.status != 200)
    return Error{out.status == 404 ? ErrorCode::NotFound : ErrorCode::Invalid, api_error(out)};
  if (r->plural == "secrets") mask_secret(out.body);
  return manifest::to_yaml(out.body);
}

Result<std::string> action_command(const Json& request) {
  const std::string action = str(json_at(request, "action"));
  Result<std::string> ns = checked_name(request, "namespace");
  if (!ns.ok()) return ns.error();
  Result<std::string> name = checked_name(request, "name");
  if (!name.ok()) return name.error();
  const std::string n = ns.value() == "default" ? "" : " -n " + ns.value();
  if (action == "restart")
    return fmt::format("ticketctl rollout restart deployment/{}{}", name.value(), n);
  if (action == "delete") return fmt::format("ticketctl delete pod/{}{}", name.value(), n);
  if (action == "scale") {
    const Json& replicas = json_at(request, "replicas");
    if (!replicas.is_number_integer() || replicas.get<int64_t>() < 0 ||
        replicas.get<int64_t>() > kMaxReplicas)
      return Error{ErrorCode::Invalid,
                   fmt::format("replicas must be a whole number from 0 to {}", kMaxReplicas)};
    return fmt::format("ticketctl scale deployment/{} --replicas={}{}", name.value(),
                       replicas.get<int64_t>(), n);
  }
  return Error{ErrorCode::Invalid,
               fmt::format("unknown action \"{}\" (restart, scale or delete)", action)};
}

Result<Json> run_action(api::ApiHandler& api, const Json& request) {
  Result<std::string> command = action_command(request);
  if (!command.ok()) return command.error();
  const std::string action = request["action"], ns = request["namespace"], name = request["name"];
  const api::Resource* deployments = api::find_resource("deployments");
  api::Request req;
  std::string message;
  if (action == "restart") {
    // What `rollout restart` writes: a new template annotation, so the controller rolls pods.
    req.method = "PATCH";
    req.path = deployments->path(ns, name);
    req.content_type = "application/strategic-merge-patch+json";
    req.body = Json{{"spec",
                     {{"template",
                       {{"metadata",
                         {{"annotations",
                           {{"kubectl.kubernetes.io/restartedAt", rfc3339::now_seconds()}}}}}}}}}}
                   .dump();
    message = fmt::format("deployment.apps/{} restarted", name);
  } else if (action == "scale") {
    req.method = "PUT";
    req.path = deployments->path(ns, name) + "/scale";
    req.content_type = "application/json";
    req.body = Json{{"apiVersion", "autoscaling/v1"},
                    {"kind", "Scale"},
                    {"metadata", {{"name", name}, {"namespace", ns}}},
                    {"spec", {{"replicas", request["replicas"]}}}}
                   .dump();
    message = fmt::format("deployment.apps/{} scaled", name);
  } else {
    req.method = "DELETE";
    req.path = api::find_resource("pods")->path(ns, name);
    message = fmt::format("pod \"{}\" deleted", name);
  }
  const api::Response out = api.handle(req);
  if (out.status >= 300)
    return Error{out.status == 404 ? ErrorCode::NotFound : ErrorCode::Invalid, api_error(out)};
  return Json{{"command", command.value()}, {"message", message}};
}

}  // namespace ticketctl::dashboard
