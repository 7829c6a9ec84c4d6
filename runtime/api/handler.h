#pragma once
// The Kubernetes REST semantics, without HTTP: a request (method, path, query, body) in, a status
// code and a JSON body (an object, a List, or a Status) out. The HTTPS server is a thin shell
// around it, so tests can drive the API directly.
// Threads: any; every call takes the store lock it was given, shared with the controllers.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/api/watch.h"
#include "runtime/manifest/json.h"
#include "runtime/store/shared.h"

namespace ticketctl::api {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // "/apis/apps/v1/namespaces/default/deployments"
  std::multimap<std::string, std::string> query;
  std::string body;
  std::string content_type;
  std::string accept;  // "application/json;as=Table;v=v1;g=meta.k8s.io" asks for a Table
};

// A watch request's stream: lines to send first (the current objects, when the client gave no
// resourceVersion), then events from the hub after `after_rv`, until `deadline`.
struct WatchStream {
  WatchHub* hub = nullptr;
  WatchFilter filter;
  int64_t after_rv = 0;
  std::vector<std::string> initial_lines;
  std::chrono::steady_clock::time_point deadline;
  std::string table_for;  // a resource's plural: send each object as a one-row Table
};

struct Response {
  int status = 200;
  Json body;
  std::shared_ptr<WatchStream> watch{};  // set for ?watch=1: stream instead of `body`
  std::vector<std::string> warnings{};   // HTTP Warning headers; kubectl prints "Warning: ..."
};

class ApiHandler {
 public:
  // `server_address` ("127.0.0.1:6443") goes into discovery documents; `on_change` runs after
  // every successful write (outside the lock), so controllers wake up.
  ApiHandler(store::Shared& store, std::function<void()> on_change, std::string server_address,
             WatchHub* watches = nullptr);
  Response handle(const Request& request);

 private:
  Response handle_locked(const Request& request, bool& changed);

  store::Shared& shared_;
  std::function<void()> on_change_;
  std::string server_address_;
  WatchHub* watches_;
};

// A meta.k8s.io/v1 Table of `objects` of one resource (its plural), as `kubectl get` asks for.
Json table_json(std::string_view plural, const std::vector<Json>& objects,
                const std::string& resource_version);

// A Kubernetes `Status` failure object: reason and code as the API server sends them.
Json status_json(int code, std::string_view reason, std::string_view message,
                 Json details = Json());

}  // namespace ticketctl::api
