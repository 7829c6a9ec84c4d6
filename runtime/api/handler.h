#pragma once
// The Kubernetes REST semantics, without HTTP: a request (method, path, query, body) in, a status
// code and a JSON body (an object, a List, or a Status) out. The HTTPS server is a thin shell
// around it, so tests can drive the API directly.
// Threads: any; every call takes the store lock it was given, shared with the controllers.

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "runtime/manifest/json.h"
#include "runtime/store/store.h"

namespace ticketctl::api {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // "/apis/apps/v1/namespaces/default/deployments"
  std::multimap<std::string, std::string> query;
  std::string body;
  std::string content_type;
};

struct Response {
  int status = 200;
  Json body;
};

class ApiHandler {
 public:
  // `server_address` ("127.0.0.1:6443") goes into discovery documents; `on_change` runs after
  // every successful write (outside the lock), so controllers wake up.
  ApiHandler(store::Store& store, std::mutex& store_mutex, std::function<void()> on_change,
             std::string server_address);
  Response handle(const Request& request);

 private:
  Response handle_locked(const Request& request, bool& changed);

  store::Store& store_;
  std::mutex& mu_;
  std::function<void()> on_change_;
  std::string server_address_;
};

// A Kubernetes `Status` failure object: reason and code as the API server sends them.
Json status_json(int code, std::string_view reason, std::string_view message,
                 Json details = Json());

}  // namespace ticketctl::api
