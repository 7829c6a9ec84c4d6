#include "app.h"

#include <cstdlib>
#include <string>

void add_routes(httplib::Server& server) {
  // The readiness probe asks this: the pod receives traffic once it answers.
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok", "text/plain");
  });
  server.Get("{{path}}", [](const httplib::Request&, httplib::Response& res) {
    std::string body = R"({"service":"{{name}}","secrets":{)";
    bool first = true;
    // A secret shows only as whether it is set.
    for (const char* name : { {{#secrets}}"{{env}}", {{/secrets}}static_cast<const char*>(nullptr)}) {
      if (name == nullptr) break;
      body += std::string(first ? "" : ",") + "\"" + name + "\":" +
              (std::getenv(name) != nullptr ? "true" : "false");
      first = false;
    }
    body += "}}";
    res.set_content(body, "application/json");
  });
}
