#include "runtime/dashboard/traffic.h"

#include <httplib.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "runtime/tap/tap.h"
#include "runtime/tap/tap_json.h"

namespace ticketctl::dashboard {
namespace {

constexpr auto kWaitSlice = std::chrono::milliseconds(500);
constexpr auto kKeepAlive = std::chrono::seconds(5);
constexpr size_t kPerEvent = 200;

struct Reader {
  Reader(std::atomic<int>& open_count, std::shared_ptr<tap::Hub::Subscription> s, tap::Query query)
      : open(open_count), sub(std::move(s)), q(std::move(query)) {}
  ~Reader() { open.fetch_sub(1); }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  std::atomic<int>& open;
  std::shared_ptr<tap::Hub::Subscription> sub;
  tap::Query q;
  bool greeted = false;
  uint64_t dropped_said = 0;
  std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();
};

std::string sse(std::string_view event, const Json& data) {
  // A body is whatever bytes a service sent: replaced, not thrown on, when not UTF-8.
  return fmt::format("event: {}\ndata: {}\n\n", event,
                     data.dump(-1, ' ', false, Json::error_handler_t::replace));
}

void refuse(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(Json{{"error", message}}.dump(), "application/json");
}

}  // namespace

void add_traffic_route(httplib::Server& server, tap::Hub& hub,
                       const std::function<void()>& on_opened, std::atomic<int>& open,
                       const std::atomic<bool>& stopping) {
  server.Get("/api/traffic", [&hub, &on_opened, &open, &stopping](const httplib::Request& req,
                                                                  httplib::Response& res) {
    const std::string ns =
        req.has_param("namespace") ? req.get_param_value("namespace") : std::string("default");
    // The view shows headers masked and the first KiB of each body, whatever the page asks.
    Result<tap::Query> q = tap::parse_query(req.get_param_value("target"), ns, "true", "false");
    if (!q.ok()) return refuse(res, 400, q.error().message);
    if (open.fetch_add(1) >= kMaxTrafficStreams) {
      open.fetch_sub(1);
      return refuse(res, 429,
                    fmt::format("too many Traffic views open ({} at most); close one first",
                                kMaxTrafficStreams));
    }
    auto reader = std::make_shared<Reader>(open, hub.subscribe(q.value().target, q.value().bodies),
                                           std::move(q.value()));
    if (on_opened) on_opened();
    const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");  // see /api/logs
    res.set_chunked_content_provider(
        "text/event-stream", [reader, &stopping](size_t, httplib::DataSink& sink) {
          Reader& r = *reader;
          const auto write = [&](const std::string& text) {
            r.last_write = std::chrono::steady_clock::now();
            return sink.write(text.data(), text.size());
          };
          if (!r.greeted) {
            r.greeted = true;
            if (!write(sse("subscribed",
                           {{"target", tap::to_string(r.q.target)}, {"bodies", r.q.bodies}})))
              return false;
          }
          if (stopping || r.sub->closed()) {
            sink.done();
            return true;
          }
          const std::vector<tap::Exchange> batch = r.sub->wait(kWaitSlice);
          if (const uint64_t dropped = r.sub->dropped(); dropped > r.dropped_said) {
            if (!write(sse("dropped", {{"count", dropped - r.dropped_said}}))) return false;
            r.dropped_said = dropped;
          }
          for (size_t at = 0; at < batch.size(); at += kPerEvent) {
            Json items = Json::array();
            for (size_t i = at; i < std::min(batch.size(), at + kPerEvent); ++i)
              items.push_back(tap::exchange_json(batch[i], true, false));
            if (!write(sse("exchanges", items))) return false;
          }
          if (std::chrono::steady_clock::now() - r.last_write >= kKeepAlive &&
              !write(": keep-alive\n\n"))
            return false;
          return sink.is_writable();
        });
  });
}

}  // namespace ticketctl::dashboard
