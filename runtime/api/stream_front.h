#pragma once
// The API's TLS listener. cpp-httplib (which serves the REST API) cannot hand an upgraded
// connection over to another protocol, and kubectl's streaming verbs are upgrades: exec and
// attach speak WebSocket (`v5.channel.k8s.io`, `v4.channel.k8s.io`), port-forward tunnels SPDY/3.1
// through WebSocket (`SPDY/3.1+portforward.k8s.io`) or, as kubectl's fallback, upgrades to SPDY
// directly. So this front terminates TLS, reads the first request head of each connection, and
// either serves the upgrade itself (Boost.Beast; pods/exec, attach, portforward, after the bearer
// token is checked) or relays the connection's bytes, untouched, to the httplib server on a
// loopback port that serves everything else (and checks the token again).
// Threads: start()/stop() from the owner's thread; connections run on one I/O thread of its own.

#include <filesystem>
#include <memory>
#include <string>

#include "runtime/core/result.h"

namespace ticketctl::api {

class StreamBackend;

struct FrontOptions {
  std::filesystem::path cert, key;
  std::string token;
  std::string address = "127.0.0.1";
  int port = 0;          // 0: the kernel picks one
  int backend_port = 0;  // the plain HTTP server on 127.0.0.1 that serves the rest
};

class StreamFront {
 public:
  StreamFront(FrontOptions options, StreamBackend& backend);
  ~StreamFront();
  StreamFront(const StreamFront&) = delete;
  StreamFront& operator=(const StreamFront&) = delete;

  // Binds and starts serving; returns the port.
  Result<int> start();
  // Ends every connection (commands started by exec are killed) and joins the I/O thread.
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ticketctl::api
