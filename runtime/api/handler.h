#pragma once
// The Kubernetes REST semantics, without HTTP: a request (method, path, query, body) in, a status
// code and a JSON body (an object, a List, or a Status) out. The HTTPS server is a thin shell
// around it, so tests can drive the API directly.
// Threads: any; every call takes the store's lock.

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
};

struct Response {
  int status = 200;
  Json body;
};

class ApiHandler {
 public:
  // `server_address` ("127.0.0.1:6443") goes into discovery documents.
  ApiHandler(store::Store& store, std::string server_address);
  Response handle(const Request& request);

 private:
  store::Store& store_;
  std::string server_address_;
  std::mutex mu_;
};

// A Kubernetes `Status` failure object: reason and code as the API server sends them.
Json status_json(int code, std::string_view reason, std::string_view message,
                 Json details = Json());

}  // namespace ticketctl::api
