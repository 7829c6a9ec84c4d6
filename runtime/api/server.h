#pragma once
// The API over HTTPS on loopback: TLS from the state directory's CA, a bearer token on every
// request (anything else gets 401 and nothing more), requests handed to ApiHandler. The TLS
// listener is StreamFront, which serves kubectl's streaming verbs (exec, attach, port-forward)
// itself and relays every other connection to httplib on a private loopback port.
// Threads: start()/stop() from the owner's thread; requests run on httplib's worker threads,
// streaming sessions on the front's I/O thread.

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "runtime/api/handler.h"
#include "runtime/core/result.h"

namespace httplib {
class Server;
}

namespace ticketctl::tap {
class Hub;
}

namespace ticketctl::api {

class StreamBackend;
class StreamFront;

struct ServerOptions {
  std::filesystem::path cert;
  std::filesystem::path key;
  std::string token;
  std::string address = "127.0.0.1";
  int port = 0;  // 0: the kernel picks one
  // Where the kubelet keeps container logs (<pods_dir>/<ns>_<pod>_<uid>/<container>/N.log), for
  // /api/v1/namespaces/NS/pods/NAME/log.
  std::filesystem::path pods_dir;
  // The traffic tap's stream, served at /apis/ticketctl.dev/v1/.../tap (tap_stream.h); null:
  // not served. Must outlive stop().
  tap::Hub* tap = nullptr;
  // Runs on the worker that opened a tap, once it is subscribed and before its SUBSCRIBED line
  // goes out (the control plane names the pods' addresses afresh).
  std::function<void()> on_tap_opened;
};

class ApiServer {
 public:
  // `on_change` runs after each write.
  ApiServer(store::Shared& store, std::function<void()> on_change, ServerOptions options);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Every committed store change must be passed here, under the store lock, for watches.
  void publish(const store::Event& e) { watches_.publish(e); }

  // What the REST API serves through, for the dashboard (runtime/dashboard) in the same process:
  // the handler exists once start() succeeded; the watch log always.
  ApiHandler* handler() { return handler_.get(); }
  WatchHub& watches() { return watches_; }

  // Binds and starts serving in the background; returns the port it listens on.
  Result<int> start();
  void stop();

 private:
  store::Shared& store_;
  std::function<void()> on_change_;
  ServerOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::unique_ptr<StreamBackend> streams_;
  std::unique_ptr<StreamFront> front_;
  std::unique_ptr<ApiHandler> handler_;
  WatchHub watches_;
  std::atomic<bool> stopping_{false};  // ends followed pods/log streams and taps
  std::atomic<int> open_taps_{0};
  std::thread thread_;
};

}  // namespace ticketctl::api
