#include "runtime/api/server.h"

#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <fmt/format.h>

namespace ticketctl::api {
namespace {

// Compares in constant time so the token cannot be guessed byte by byte from response times.
bool token_matches(const std::string& header, const std::string& token) {
  const std::string expected = "Bearer " + token;
  return header.size() == expected.size() &&
         CRYPTO_memcmp(header.data(), expected.data(), expected.size()) == 0;
}

}  // namespace

ApiServer::ApiServer(store::Store& store, std::mutex& store_mutex, std::function<void()> on_change,
                     ServerOptions options)
    : store_(store),
      store_mutex_(store_mutex),
      on_change_(std::move(on_change)),
      options_(std::move(options)) {}

ApiServer::~ApiServer() {
  stop();
}

Result<int> ApiServer::start() {
  server_ = std::make_unique<httplib::SSLServer>(options_.cert.c_str(), options_.key.c_str());
  if (!server_->is_valid())
    return Error{ErrorCode::Internal, fmt::format("api: cannot load TLS certificate {} and key {}",
                                                  options_.cert.string(), options_.key.string())};
  // Clients here never resume sessions; TLS 1.3 tickets sent after the handshake only make a
  // short-lived CLI wait (httplib sleeps 1 ms per SSL_ERROR_WANT_READ) before its reply.
  SSL_CTX_set_num_tickets(server_->ssl_context(), 0);
  server_->set_tcp_nodelay(true);  // small JSON replies must not wait for delayed ACKs
  const std::string token = options_.token;
  server_->set_pre_routing_handler([token](const httplib::Request& req, httplib::Response& res) {
    if (token_matches(req.get_header_value("Authorization"), token))
      return httplib::Server::HandlerResponse::Unhandled;
    res.status = 401;
    res.set_content(status_json(401, "Unauthorized", "Unauthorized").dump(), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  });
  auto serve = [this](const httplib::Request& req, httplib::Response& res) {
    Request r{req.method, req.path, {}, req.body, req.get_header_value("Content-Type")};
    for (const auto& [k, v] : req.params) r.query.emplace(k, v);
    Response out = handler_->handle(r);
    res.status = out.status;
    res.set_content(out.body.dump(), "application/json");
  };
  server_->Get(".*", serve);
  server_->Post(".*", serve);
  server_->Put(".*", serve);
  server_->Delete(".*", serve);
  server_->Patch(".*", serve);
  const int port =
      options_.port == 0
          ? server_->bind_to_any_port(options_.address)
          : (server_->bind_to_port(options_.address, options_.port) ? options_.port : -1);
  if (port <= 0)
    return Error{ErrorCode::Internal,
                 fmt::format("api: cannot listen on {}:{}", options_.address, options_.port)};
  handler_ = std::make_unique<ApiHandler>(store_, store_mutex_, on_change_,
                                          fmt::format("{}:{}", options_.address, port));
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return port;
}

void ApiServer::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace ticketctl::api
