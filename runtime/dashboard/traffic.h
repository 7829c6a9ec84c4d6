#pragma once
// The dashboard's Traffic view's stream: the traffic tap (tap.h) as server-sent events, read
// from the same hub as the API's tap endpoint (api/tap_stream.h), with the same objects
// (tap/tap_json.h): headers masked, the first KiB of each body.
//
//   GET /api/traffic?target=all|ingress|svc/NAME|deploy/NAME|pod/NAME&namespace=NS
//   event: subscribed  data: {"target":"all","bodies":true}
//   event: exchanges   data: [{...}, ...]   (oldest first, at most 200 an event)
//   event: dropped     data: {"count":N}
//
// A bad target is 400 {"error":...}; more than kMaxTrafficStreams open at once is 429. The
// stream ends when the page goes (noticed at the next write: a comment line every 5 s) or the
// dashboard stops. Access as every other dashboard route (the session cookie, server.cpp).
// Threads: added before the server listens; runs on httplib's workers.

#include <atomic>
#include <functional>

namespace httplib {
class Server;
}

namespace ticketctl::tap {
class Hub;
}

namespace ticketctl::dashboard {

inline constexpr int kMaxTrafficStreams = 4;  // of the dashboard's 12 workers

void add_traffic_route(httplib::Server& server, tap::Hub& hub,
                       const std::function<void()>& on_opened, std::atomic<int>& open,
                       const std::atomic<bool>& stopping);

}  // namespace ticketctl::dashboard
