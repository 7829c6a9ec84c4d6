#pragma once
// The traffic tap on the API (issue 19): what the ingress and the observing relay saw, as a
// watch-style stream of JSON lines, for `ticketctl tap`, the dashboard and scripts.
//
//   GET /apis/ticketctl.dev/v1/namespaces/NS/tap?target=svc/NAME&bodies=true&showSecrets=true
//   GET /apis/ticketctl.dev/v1/tap?target=all|ingress
//   GET /apis/ticketctl.dev/v1/taps   → {"subscriptions":N,"published":M,"targets":[...]}
//
// The stream (chunked, application/json, one object a line): first {"type":"SUBSCRIBED",...}
// once the subscription is in place, then {"type":"EXCHANGE","object":{...}} per exchange
// (tap/tap_json.h) and {"type":"DROPPED","object":{"count":N}} when this reader fell behind and
// lost N; a blank line after 2 s without one, so a reader that left is noticed. It ends when the
// client goes (noticed within a few keep-alives) or the server stops (within half a
// second). Each open stream holds one of httplib's worker threads: at most kMaxOpenTaps at once,
// the next gets 429. Memory per reader: the hub's queue bound (tap.h) of exchanges with bodies
// cut to 1 KiB.
//
// Threads: routes are added from the owner's thread before the server listens; the handlers run
// on httplib's workers.

#include <atomic>
#include <functional>

namespace httplib {
class Server;
}

namespace ticketctl::tap {
class Hub;
}

namespace ticketctl::api {

inline constexpr int kMaxOpenTaps = 8;  // of the API's 32 workers; watches need the rest

// Adds the routes above to `server` (before its catch-all routes). `on_opened` (may be empty)
// runs once a stream is subscribed, before its first line. Everything passed must outlive the
// server's worker threads.
void add_tap_routes(httplib::Server& server, tap::Hub& hub, const std::function<void()>& on_opened,
                    std::atomic<int>& open, const std::atomic<bool>& stopping);

}  // namespace ticketctl::api
