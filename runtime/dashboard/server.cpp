#include "runtime/dashboard/server.h"

#include <httplib.h>

#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "runtime/api/tls.h"
#include "runtime/core/limits.h"
#include "runtime/core/oplog.h"
#include "runtime/dashboard/auth.h"
#include "runtime/dashboard/logs.h"
#include "runtime/dashboard/traffic.h"

namespace ticketctl::dashboard {
namespace {

constexpr int64_t kInitialLogLines = 500;      // per run already going when the page opens
constexpr size_t kMaxLogLinesPerEvent = 5000;  // one event's batch; the rest follows at once
constexpr auto kLogTick = std::chrono::milliseconds(150);
constexpr auto kPodRelist = std::chrono::seconds(1);
// A snapshot also goes out this often without a change: ages move, crash lines appear in logs.
constexpr auto kStateRefresh = std::chrono::seconds(5);
constexpr auto kStateDebounce = std::chrono::milliseconds(100);
constexpr size_t kMaxActionBody = 4096;

const char* content_type(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  return "application/octet-stream";
}

void json_reply(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void refuse(httplib::Response& res, int status, const std::string& message) {
  json_reply(res, status, {{"error", message}});
}

std::string sse(std::string_view event, const Json& data) {
  return fmt::format("event: {}\ndata: {}\n\n", event, data.dump());
}

Json list_pods(api::ApiHandler& api) {
  api::Request r;
  r.method = "GET";
  r.path = "/api/v1/pods";
  const api::Response out = api.handle(r);
  return out.status == 200 && out.body.contains("items") ? out.body["items"] : Json::array();
}

}  // namespace

DashboardServer::DashboardServer(api::ApiHandler& api, api::WatchHub& watches, store::Shared& store,
                                 DashboardOptions options)
    : api_(api), watches_(watches), store_(store), options_(std::move(options)) {}

DashboardServer::~DashboardServer() {
  stop();
}

Result<int> DashboardServer::start() {
  server_ = std::make_unique<httplib::Server>();
  server_->set_tcp_nodelay(true);
  // Two event streams per open page hold a worker each (three with the Traffic view open); room
  // for a few pages and their requests.
  server_->new_task_queue = [] { return new httplib::ThreadPool(12); };
  server_->set_payload_max_length(kMaxActionBody);
  int port = options_.port;
  if (port > 0) {
    if (!server_->bind_to_port("127.0.0.1", port))
      return Error{ErrorCode::Internal,
                   fmt::format("dashboard: cannot listen on 127.0.0.1:{}", port)};
  } else {
    port = server_->bind_to_any_port("127.0.0.1");
    if (port <= 0) return Error{ErrorCode::Internal, "dashboard: cannot listen on a loopback port"};
  }
  auth_ = std::make_unique<Auth>(port);
  routes();
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return port;
}

void DashboardServer::stop() {
  stopping_ = true;
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

void DashboardServer::routes() {
  server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    // Nothing here may be cached, framed by another site, or leak the login token onward.
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("Referrer-Policy", "no-referrer");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
    if (!auth_->host_allowed(req.get_header_value("Host"))) {
      refuse(res, 403, "the Host header does not name this dashboard (127.0.0.1 or localhost)");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.path == "/login-token" || (req.path == "/" && req.has_param("token")))
      return httplib::Server::HandlerResponse::Unhandled;
    const std::optional<Session> session = auth_->session(req.get_header_value("Cookie"));
    if (!session) {
      res.status = 401;
      res.set_content(
          "ticketctl dashboard: not signed in. Run `ticketctl dashboard` and open the URL it "
          "prints.\n",
          "text/plain; charset=utf-8");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.method != "GET" && req.method != "HEAD") {
      const std::string why = auth_->refuse_change(
          {req.method, req.get_header_value("Host"), "",
           req.get_header_value(std::string(kCsrfHeader).c_str()), req.get_header_value("Origin"),
           req.get_header_value("Sec-Fetch-Site")},
          *session);
      if (!why.empty()) {
        oplog::warn("dashboard", "refused {} {}: {}", req.method, req.path, why);
        refuse(res, 403, "refused: " + why);
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // The CLI, holding the API's token, asks for a login link.
  server_->Post("/login-token", [this](const httplib::Request& req, httplib::Response& res) {
    if (!api::bearer_token_matches(req.get_header_value("Authorization"), options_.api_token))
      return refuse(res, 401, "Unauthorized");
    json_reply(res, 200, {{"token", auth_->mint_login()}});
  });

  server_->Get("/", [this](const httplib::Request& req, httplib::Response& res) {
    if (req.has_param("token")) {
      const std::optional<Session> s = auth_->redeem(req.get_param_value("token"));
      if (!s) {
        res.status = 403;
        res.set_content(
            "ticketctl dashboard: this link was used already or has expired. Run `ticketctl "
            "dashboard` for a new one.\n",
            "text/plain; charset=utf-8");
        return;
      }
      // The token leaves the address bar (and the history) at once; the cookie stays.
      res.set_header("Set-Cookie", fmt::format("{}={}; HttpOnly; SameSite=Strict; Path=/",
                                               kSessionCookie, s->id));
      res.set_redirect("/", 303);
      return;
    }
    res.set_content(std::string(asset("index.html")), content_type("index.html"));
  });
  for (const char* name : {"app.js", "app.css"})
    server_->Get(fmt::format("/{}", name), [name](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(asset(name)), content_type(name));
    });

  server_->Get("/api/session", [this](const httplib::Request& req, httplib::Response& res) {
    // Checked before routing, but a newer session may have ended this one since.
    const std::optional<Session> s = auth_->session(req.get_header_value("Cookie"));
    if (!s) return refuse(res, 401, "the session ended; run `ticketctl dashboard` again");
    json_reply(res, 200, {{"csrf", s->csrf}});
  });

  server_->Get("/api/state", [this](const httplib::Request&, httplib::Response& res) {
    json_reply(res, 200, snapshot(api_, options_.logs));
  });

  server_->Get("/api/yaml", [this](const httplib::Request& req, httplib::Response& res) {
    Result<std::string> yaml =
        object_yaml(api_, req.get_param_value("resource"), req.get_param_value("namespace"),
                    req.get_param_value("name"));
    if (!yaml.ok())
      return refuse(res, yaml.error().code == ErrorCode::NotFound ? 404 : 400,
                    yaml.error().message);
    res.set_content(yaml.value(), "text/plain; charset=utf-8");
  });

  server_->Post("/api/action", [this](const httplib::Request& req, httplib::Response& res) {
    const Json request = Json::parse(req.body, nullptr, false);
    if (!request.is_object()) return refuse(res, 400, "the action is not a JSON object");
    Result<Json> done = run_action(api_, request);
    if (!done.ok()) {
      Result<std::string> command = action_command(request);
      return json_reply(
          res, done.error().code == ErrorCode::NotFound ? 404 : 422,
          {{"error", done.error().message}, {"command", command.ok() ? command.value() : ""}});
    }
    oplog::info("dashboard", "{}", done.value()["command"].get<std::string>());
    json_reply(res, 200, done.value());
  });

  // Live state: a snapshot at once, then after every committed change (the API's watch log,
  // every resource), debounced, and every few seconds regardless.
  server_->Get("/api/watch", [this](const httplib::Request& req, httplib::Response& res) {
    struct Stream {
      int64_t after_rv = 0;
      bool first = true;
      std::chrono::steady_clock::time_point sent;
    };
    auto stream = std::make_shared<Stream>();
    const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");  // see /api/logs
    stream->after_rv = store_.lock()->resource_version();
    res.set_chunked_content_provider(
        "text/event-stream", [this, stream](size_t, httplib::DataSink& sink) {
          if (stopping_) {
            sink.done();
            return true;
          }
          bool send = stream->first;
          if (!send) {
            std::vector<std::string> lines;
            switch (watches_.next(stream->after_rv, api::WatchFilter{}, std::chrono::seconds(1),
                                  lines)) {
              case api::WatchHub::Wait::Stopped:
                sink.done();
                return true;
              case api::WatchHub::Wait::Events:
                // A rollout is a burst of writes: one snapshot after it settles a little.
                std::this_thread::sleep_for(kStateDebounce);
                watches_.next(stream->after_rv, api::WatchFilter{}, std::chrono::milliseconds(0),
                              lines);
                send = true;
                break;
              case api::WatchHub::Wait::Gone: {
                stream->after_rv = store_.lock()->resource_version();
                send = true;
                break;
              }
              case api::WatchHub::Wait::Timeout:
                send = std::chrono::steady_clock::now() - stream->sent >= kStateRefresh;
                break;
            }
          }
          if (send) {
            stream->first = false;
            stream->sent = std::chrono::steady_clock::now();
            const std::string event = sse("state", snapshot(api_, options_.logs));
            if (!sink.write(event.data(), event.size())) return false;
          }
          return sink.is_writable();
        });
  });

  if (options_.tap)
    add_traffic_route(*server_, *options_.tap, options_.on_tap_opened, open_traffic_, stopping_);

  // Every pod's log as one stream of [pod, line] batches.
  server_->Get("/api/logs", [this](const httplib::Request& req, httplib::Response& res) {
    struct Stream {
      explicit Stream(const std::filesystem::path& dir) : follower(dir, kInitialLogLines) {}
      LogFollower follower;
      std::chrono::steady_clock::time_point listed;
    };
    auto stream = std::make_shared<Stream>(options_.pods_dir);
    // As for followed logs on the API: a compressed stream would arrive only when it ends.
    const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
    res.set_chunked_content_provider(
        "text/event-stream", [this, stream](size_t, httplib::DataSink& sink) {
          if (stopping_) {
            sink.done();
            return true;
          }
          const auto now = std::chrono::steady_clock::now();
          if (now - stream->listed >= kPodRelist) {
            stream->follower.track(list_pods(api_));
            stream->listed = now;
          }
          Json lines = Json::array();
          const size_t n = stream->follower.poll(lines, kMaxLogLinesPerEvent);
          if (n > 0) {
            const std::string event = sse("logs", lines);
            if (!sink.write(event.data(), event.size())) return false;
          }
          if (n < kMaxLogLinesPerEvent) std::this_thread::sleep_for(kLogTick);
          return sink.is_writable();
        });
  });
}

}  // namespace ticketctl::dashboard
