#include <cstdio>
#include <cstdlib>

#include "app.h"

int main() {
  // Fail at start, in the pod's log, rather than on the first request.
  for (const char* name : { {{#secrets}}"{{env}}", {{/secrets}}{{#db}}"{{db_env}}", {{/db}}static_cast<const char*>(nullptr)}) {
    if (name != nullptr && std::getenv(name) == nullptr) {
      std::fprintf(stderr, "%s must be defined\n", name);
      return 1;
    }
  }
  httplib::Server server;
  add_routes(server);
  std::printf("{{name}} listening on port {{port}}\n");
  std::fflush(stdout);
  return server.listen("0.0.0.0", {{port}}) ? 0 : 1;
}
