#include "runtime/api/tap_stream.h"

#include <httplib.h>

#include <fmt/format.h>

#include <chrono>
#include <memory>

#include "runtime/api/handler.h"
#include "runtime/tap/tap.h"
#include "runtime/tap/tap_json.h"

namespace ticketctl::api {
namespace {

constexpr auto kWaitSlice = std::chrono::milliseconds(500);  // how soon a stop is noticed
// How soon a reader that left is noticed: the TLS front passes the client's end on only when a
// write to it fails, so it takes two or three of these.
constexpr auto kKeepAlive = std::chrono::seconds(2);

void send_status(httplib::Response& res, const Json& status) {
  res.status = status.value("code", 500);
  res.set_content(status.dump(), "application/json");
}

// One open stream: its subscription and its place among the open ones, both given back when
// httplib drops the content provider (the client went, or the stream ended).
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

void serve_tap(const httplib::Request& req, httplib::Response& res, const std::string& ns,
               tap::Hub& hub, const std::function<void()>& on_opened, std::atomic<int>& open,
               const std::atomic<bool>& stopping) {
  Result<tap::Query> q =
      tap::parse_query(req.get_param_value("target"), ns, req.get_param_value("bodies"),
                       req.get_param_value("showSecrets"));
  if (!q.ok()) return send_status(res, status_json(400, "BadRequest", q.error().message));
  if (open.fetch_add(1) >= kMaxOpenTaps) {
    open.fetch_sub(1);
    return send_status(res, status_json(429, "TooManyRequests",
                                        fmt::format("too many open taps ({} at most); end one "
                                                    "first",
                                                    kMaxOpenTaps)));
  }
  auto reader = std::make_shared<Reader>(open, hub.subscribe(q.value().target, q.value().bodies),
                                         std::move(q.value()));
  if (on_opened) on_opened();
  // As for watches: a gzipped stream would reach the client only when it ends.
  const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
  res.status = 200;
  res.set_chunked_content_provider(
      "application/json", [reader, &stopping](size_t, httplib::DataSink& sink) {
        Reader& r = *reader;
        const auto write = [&](const std::string& line) {
          r.last_write = std::chrono::steady_clock::now();
          return sink.write(line.data(), line.size());
        };
        if (!r.greeted) {
          r.greeted = true;
          if (!write(tap::subscribed_line(r.q))) return false;
        }
        if (stopping || r.sub->closed()) {
          sink.done();
          return true;
        }
        const std::vector<tap::Exchange> batch = r.sub->wait(kWaitSlice);
        if (const uint64_t dropped = r.sub->dropped(); dropped > r.dropped_said) {
          if (!write(tap::dropped_line(dropped - r.dropped_said))) return false;
          r.dropped_said = dropped;
        }
        for (const tap::Exchange& e : batch)
          if (!write(tap::exchange_line(e, r.q.bodies, r.q.show_secrets))) return false;
        if (std::chrono::steady_clock::now() - r.last_write >= kKeepAlive && !write("\n"))
          return false;
        return sink.is_writable();
      });
}

}  // namespace

void add_tap_routes(httplib::Server& server, tap::Hub& hub, const std::function<void()>& on_opened,
                    std::atomic<int>& open, const std::atomic<bool>& stopping) {
  server.Get(
      R"(/apis/ticketctl\.dev/v1/namespaces/([^/]+)/tap)",
      [&hub, &on_opened, &open, &stopping](const httplib::Request& req, httplib::Response& res) {
        serve_tap(req, res, req.matches[1], hub, on_opened, open, stopping);
      });
  server.Get(
      R"(/apis/ticketctl\.dev/v1/tap)",
      [&hub, &on_opened, &open, &stopping](const httplib::Request& req, httplib::Response& res) {
        serve_tap(req, res, "", hub, on_opened, open, stopping);
      });
  server.Get(R"(/apis/ticketctl\.dev/v1/taps)",
             [&hub](const httplib::Request&, httplib::Response& res) {
               Json targets = Json::array();
               for (const tap::Target& t : hub.targets()) targets.push_back(tap::to_string(t));
               const Json body = {{"kind", "TapStatus"},
                                  {"apiVersion", "ticketctl.dev/v1"},
                                  {"subscriptions", hub.subscriptions()},
                                  {"published", hub.published()},
                                  {"targets", targets}};
               res.set_content(body.dump(), "application/json");
             });
}

}  // namespace ticketctl::api
