#pragma once
// What an observing relay connection learns from the bytes it forwards (service_proxy.h,
// Observe): HTTP/1.1 requests and responses parsed in both directions and matched
// in order, or, for a connection that does not speak HTTP/1.x, only its byte counts.
//
// Owns: two incremental parsers (Boost.Beast's basic_parser, in http_observer.cpp only, so Beast
// compiles in that one unit) and the requests waiting for their responses. It never changes or
// holds back a byte: the relay forwards what it read whatever the parser thinks, and a parse
// error only turns the rest of the connection into counted bytes.
//
// Threads: one connection's observer is used by the loop thread that owns the connection.
//
// Bounds: a request or response head up to kHeadLimit bytes (more is a parse error), at most
// kMaxPending requests awaiting responses (more: the rest is counted), each body's first
// ExchangeObserver::body_limit bytes kept, only when want_bodies() said so as the message began.

#include <chrono>
#include <memory>
#include <string>

#include "runtime/net/service_proxy.h"

namespace ticketctl::net {

class HttpObserver {
 public:
  static constexpr size_t kHeadLimit = 16 << 10;  // Node's default max header size
  static constexpr size_t kMaxPending = 16;

  // `base` carries what the relay knows of the connection (listener, addresses); every report
  // is a copy of it with the exchange filled in.
  HttpObserver(std::shared_ptr<const ExchangeObserver> hooks, ObservedExchange base);
  ~HttpObserver();
  HttpObserver(const HttpObserver&) = delete;
  HttpObserver& operator=(const HttpObserver&) = delete;

  // Bytes the relay read from the client (to the backend) or from the backend (to the client).
  void from_client(const char* data, size_t n);
  void from_backend(const char* data, size_t n);
  // How many of the next bytes from one side the observer does not need to see: the rest of a
  // Content-Length body it keeps nothing of, or everything once it only counts. The relay may
  // splice them past user space and report them with skipped().
  uint64_t skippable(bool from_client) const;
  void skipped(bool from_client, size_t n);
  // The backend closed its side: a response without a length ends here.
  void backend_eof();
  // The connection is over (closed or reset): reports what is still open (requests without a
  // response with status 0; the connection itself when it was not HTTP or was upgraded).
  void finish();

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace ticketctl::net
