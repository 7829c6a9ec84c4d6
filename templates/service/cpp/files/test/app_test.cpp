// `ctest`: the routes on a free port, asked by a real client.
#include <cstdio>
#include <string>
#include <thread>

#include "app.h"

int main() {
  httplib::Server server;
  add_routes(server);
  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) {
    std::fprintf(stderr, "cannot bind\n");
    return 1;
  }
  std::thread serving([&] { server.listen_after_bind(); });
  httplib::Client client("127.0.0.1", port);
  int failures = 0;
  const auto health = client.Get("/healthz");
  if (!health || health->status != 200) {
    std::fprintf(stderr, "FAIL: /healthz\n");
    ++failures;
  }
  const auto root = client.Get("{{path}}");
  if (!root || root->status != 200 ||
      root->body.find(R"("service":"{{name}}")") == std::string::npos) {
    std::fprintf(stderr, "FAIL: {{path}}\n");
    ++failures;
  }
  // The server answered (or the client gave up): make sure its loop runs before stopping it.
  while (!server.is_running()) std::this_thread::yield();
  server.stop();
  serving.join();
  std::printf("%s\n", failures == 0 ? "ok" : "failed");
  return failures == 0 ? 0 : 1;
}
