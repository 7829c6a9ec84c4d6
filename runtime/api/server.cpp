#include "runtime/api/server.h"

#include <httplib.h>

#include <fmt/format.h>

#include <thread>

#include "runtime/api/stream_front.h"
#include "runtime/api/streaming.h"
#include "runtime/api/tap_stream.h"
#include "runtime/api/tls.h"
#include "runtime/core/limits.h"
#include "runtime/logs/pod_logs.h"

namespace ticketctl::api {
namespace {

constexpr const char* kTableMediaType = "application/json;as=Table;v=v1;g=meta.k8s.io";

// Streams a watch as newline-delimited JSON in chunks. Each call of the provider waits up to a
// second for events, so a closed connection or a stopping server is noticed within that time.
void stream_watch(httplib::Response& res, std::shared_ptr<WatchStream> stream) {
  // A Table stream says so in its media type, as the API server does; clients decode by it.
  const std::string type = stream->table_for.empty() ? "application/json" : kTableMediaType;
  res.set_chunked_content_provider(type, [stream](size_t, httplib::DataSink& sink) {
    // kubectl asks for Tables: each event's object becomes a one-row Table.
    const auto send = [&](const std::string& line) {
      if (stream->table_for.empty()) return sink.write(line.data(), line.size());
      const Json event = Json::parse(line);
      const std::string rv = event["object"]["metadata"].value("resourceVersion", "");
      const std::string out = watch_line(event["type"].get<std::string>(),
                                         table_json(stream->table_for, {event["object"]}, rv));
      return sink.write(out.data(), out.size());
    };
    for (const std::string& line : stream->initial_lines)
      if (!send(line)) return false;
    stream->initial_lines.clear();
    if (std::chrono::steady_clock::now() >= stream->deadline) {
      sink.done();
      return true;
    }
    std::vector<std::string> lines;
    switch (stream->hub->next(stream->after_rv, stream->filter, std::chrono::seconds(1), lines)) {
      case WatchHub::Wait::Stopped:
        sink.done();
        return true;
      case WatchHub::Wait::Gone: {
        const std::string expired =
            watch_line("ERROR", status_json(410, "Expired", "too old resource version"));
        sink.write(expired.data(), expired.size());
        sink.done();
        return true;
      }
      default:
        break;
    }
    for (const std::string& line : lines)
      if (!send(line)) return false;
    return sink.is_writable();
  });
}

std::string too_large_message() {
  return fmt::format("Request entity too large: limit is {}", limits::kMaxRequestBodyBytes);
}

void send_status(httplib::Response& res, const Json& status) {
  res.status = status.value("code", 500);
  res.set_content(status.dump(), "application/json");
}

// GET /api/v1/namespaces/NS/pods/NAME/log: the container's log as plain text, read from the
// kubelet's files; with follow=true a chunked stream that polls the file until the run ends, the
// client goes away (noticed at the next write) or the server stops.
void serve_pod_log(const httplib::Request& req, httplib::Response& res, store::Shared& store,
                   const std::filesystem::path& pods_dir, const std::atomic<bool>& stopping) {
  const std::string ns = req.matches[1], name = req.matches[2];
  Result<logs::LogOptions> options = logs::parse_log_options(
      std::multimap<std::string, std::string>(req.params.begin(), req.params.end()));
  if (!options.ok())
    return send_status(res, status_json(400, "BadRequest", options.error().message));
  Result<Json> pod = store.lock()->get({"pods", ns, name});
  if (!pod.ok())
    return send_status(res, status_json(404, "NotFound", fmt::format("pods \"{}\" not found", name),
                                        {{"name", name}, {"kind", "pods"}}));
  Result<logs::LogRun> run = logs::choose_log_run(pod.value(), pods_dir, options.value());
  if (!run.ok()) return send_status(res, status_json(400, "BadRequest", run.error().message));
  auto reader =
      std::make_shared<logs::LogReader>(run.value(), options.value(), logs::unix_now_ns());
  // httplib 0.11 gzips text/* for clients that accept it (kubectl does) and flushes its
  // compressor only at the end, which would hold a followed log back until the container exits.
  // On loopback compression buys nothing: the request's Accept-Encoding is dropped (httplib
  // passes the handler a const view of its own, mutable, request).
  const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
  res.status = 200;
  const auto provide = [reader, &stopping](size_t, httplib::DataSink& sink) {
    std::string text;
    reader->poll(text);
    if (!text.empty() && !sink.write(text.data(), text.size())) return false;
    if (reader->finished() || stopping) {
      sink.done();
      return true;
    }
    if (text.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return sink.is_writable();
  };
  res.set_chunked_content_provider("text/plain", provide);
}

}  // namespace

ApiServer::ApiServer(store::Shared& store, std::function<void()> on_change, ServerOptions options)
    : store_(store), on_change_(std::move(on_change)), options_(std::move(options)) {}

ApiServer::~ApiServer() {
  stop();
}

Result<int> ApiServer::start() {
  // httplib serves the REST API in plain HTTP on a loopback port of its own; clients reach it
  // through the TLS front (stream_front.h), which serves the upgrades httplib cannot. The token
  // is still checked here, so a local process that finds this port gets nothing without it.
  server_ = std::make_unique<httplib::Server>();
  server_->set_tcp_nodelay(true);
  // Each open watch holds a worker thread; leave room for several beside ordinary requests.
  server_->new_task_queue = [] {
    return new httplib::ThreadPool(32);
  };  // small JSON replies must not wait for delayed ACKs
  const std::string token = options_.token;
  server_->set_pre_routing_handler([token](const httplib::Request& req, httplib::Response& res) {
    if (bearer_token_matches(req.get_header_value("Authorization"), token))
      return httplib::Server::HandlerResponse::Unhandled;
    res.status = 401;
    res.set_content(status_json(401, "Unauthorized", "Unauthorized").dump(), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  });
  // Bodies over the API server's limit get 413 without being kept: httplib skips (reads and
  // drops) a Content-Length body over its payload limit before any handler runs, and the reader
  // below stops a chunked one at the limit, after which the connection cannot be reused.
  server_->set_payload_max_length(limits::kMaxRequestBodyBytes);
  // The TLS front pipes one client connection to one connection here, and closes the client's
  // when this side closes: httplib's default of 5 requests per connection made `apply` do a TLS
  // handshake (the client's certificate checks and all) for every 2-3 objects.
  server_->set_keep_alive_max_count(100000);
  server_->set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (res.status != 413 || !res.body.empty())
          return httplib::Server::HandlerResponse::Unhandled;
        res.set_content(status_json(413, "RequestEntityTooLarge", too_large_message()).dump(),
                        "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }));
  auto serve = [this](const httplib::Request& req, httplib::Response& res, std::string body) {
    Request r{req.method,
              req.path,
              {},
              std::move(body),
              req.get_header_value("Content-Type"),
              req.get_header_value("Accept")};
    for (const auto& [k, v] : req.params) r.query.emplace(k, v);
    Response out = handler_->handle(r);
    res.status = out.status;
    for (const std::string& w : out.warnings)  // RFC 7234 form, as the API server sends them
      res.set_header("Warning", fmt::format("299 - {}", Json(w).dump()));
    if (out.watch) {
      // As for followed logs: a gzipped watch would reach client-go only when it ends.
      const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
      stream_watch(res, std::move(out.watch));
      return;
    }
    const bool table = out.body.is_object() && out.body.value("kind", "") == "Table";
    res.set_content(out.body.dump(), table ? kTableMediaType : "application/json");
  };
  // Registered before the ".*" routes: httplib takes the first match.
  server_->Get(R"(/api/v1/namespaces/([^/]+)/pods/([^/]+)/log)",
               [this](const httplib::Request& req, httplib::Response& res) {
                 serve_pod_log(req, res, store_, options_.pods_dir, stopping_);
               });
  if (options_.tap)
    add_tap_routes(*server_, *options_.tap, options_.on_tap_opened, open_taps_, stopping_);
  server_->Get(
      ".*", [serve](const httplib::Request& req, httplib::Response& res) { serve(req, res, {}); });
  const auto with_body = [serve](const httplib::Request& req, httplib::Response& res,
                                 const httplib::ContentReader& reader) {
    std::string body;
    bool too_large = false;
    const bool read = reader([&](const char* data, size_t n) {
      if (body.size() + n > limits::kMaxRequestBodyBytes) {
        too_large = true;
        return false;
      }
      body.append(data, n);
      return true;
    });
    if (!read) {
      const int code = too_large || res.status == 413 ? 413 : 400;
      res.status = code;
      res.set_header("Connection", "close");  // the rest of the body is still on the way
      res.set_content(
          (code == 413 ? status_json(413, "RequestEntityTooLarge", too_large_message())
                       : status_json(400, "BadRequest", "the request body could not be read"))
              .dump(),
          "application/json");
      return;
    }
    serve(req, res, std::move(body));
  };
  server_->Post(".*", with_body);
  server_->Put(".*", with_body);
  server_->Delete(".*", with_body);
  server_->Patch(".*", with_body);
  const int backend_port = server_->bind_to_any_port("127.0.0.1");
  if (backend_port <= 0) return Error{ErrorCode::Internal, "api: cannot listen on a loopback port"};
  streams_ = std::make_unique<StreamBackend>(store_, options_.pods_dir);
  front_ =
      std::make_unique<StreamFront>(FrontOptions{options_.cert, options_.key, options_.token,
                                                 options_.address, options_.port, backend_port},
                                    *streams_);
  Result<int> listening = front_->start();
  if (!listening.ok()) return listening.error();
  const int port = listening.value();
  watches_.start_after(store_.lock()->resource_version());
  handler_ = std::make_unique<ApiHandler>(store_, on_change_,
                                          fmt::format("{}:{}", options_.address, port), &watches_);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return port;
}

void ApiServer::stop() {
  stopping_ = true;
  if (front_) front_->stop();  // first: no new connections, streaming sessions end
  watches_.stop();             // ends open watch streams, so the workers can finish
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace ticketctl::api
