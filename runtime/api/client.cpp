#include "runtime/api/client.h"

#include <httplib.h>

#include <fmt/format.h>

namespace ticketctl::api {

Error status_error(int status, std::string_view body) {
  const Json parsed = Json::parse(body, nullptr, false);
  const auto field = [&parsed](const char* key) {
    if (!parsed.is_object()) return std::string();
    const auto it = parsed.find(key);
    return it != parsed.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string message = field("message");
  if (message.empty()) message = fmt::format("the server answered {} {}", status, body);
  ErrorCode code = ErrorCode::Internal;
  if (status == 404)
    code = ErrorCode::NotFound;
  else if (field("reason") == "AlreadyExists")
    code = ErrorCode::AlreadyExists;
  else if (status == 409)
    code = ErrorCode::Conflict;
  else if (status == 422 || status == 400)
    code = ErrorCode::Invalid;
  return Error{code, std::move(message)};
}

ApiClient::ApiClient(Connection c) : c_(std::move(c)) {
  http_ = std::make_unique<httplib::SSLClient>(c_.host, c_.port);
  http_->set_ca_cert_path(c_.ca_cert.c_str());
  http_->enable_server_certificate_verification(true);
  http_->set_bearer_token_auth(c_.token);
  http_->set_connection_timeout(5);
  http_->set_read_timeout(30);
  http_->set_keep_alive(true);
  // Without it Nagle and delayed ACKs add 40 ms to every small request.
  http_->set_tcp_nodelay(true);
}

ApiClient::~ApiClient() = default;
ApiClient::ApiClient(ApiClient&&) noexcept = default;

Result<std::pair<int, std::string>> ApiClient::raw(const std::string& method,
                                                   const std::string& path, const std::string& body,
                                                   const char* content_type) {
  httplib::Result res = method == "GET"      ? http_->Get(path)
                        : method == "DELETE" ? http_->Delete(path)
                        : method == "POST"   ? http_->Post(path, body, content_type)
                        : method == "PUT"    ? http_->Put(path, body, content_type)
                                             : http_->Patch(path, body, content_type);
  if (!res)
    return Error{ErrorCode::Internal,
                 fmt::format("cannot reach the control plane at https://{}:{}: {}", c_.host,
                             c_.port, httplib::to_string(res.error()))};
  return std::make_pair(res->status, res->body);
}

Result<Json> ApiClient::call(const std::string& method, const std::string& path,
                             const std::string& body, const char* content_type) {
  Result<std::pair<int, std::string>> r = raw(method, path, body, content_type);
  if (!r.ok()) return r.error();
  const auto& [status, text] = r.value();
  Json parsed = Json::parse(text, nullptr, false);
  if (status >= 200 && status < 300 && !parsed.is_discarded()) return parsed;
  return status_error(status, text);
}

Result<Json> ApiClient::get(const std::string& path) {
  return call("GET", path, {});
}
Result<Json> ApiClient::post(const std::string& path, const Json& body) {
  return call("POST", path, body.dump());
}
Result<Json> ApiClient::put(const std::string& path, const Json& body) {
  return call("PUT", path, body.dump());
}
Result<Json> ApiClient::remove(const std::string& path) {
  return call("DELETE", path, {});
}
Result<Json> ApiClient::patch(const std::string& path, const std::string& content_type,
                              const std::string& body) {
  return call("PATCH", path, body, content_type.c_str());
}

Result<bool> ApiClient::stream(const std::string& path,
                               const std::function<bool(std::string_view chunk)>& on_chunk) {
  return open_stream(path, "stream from", on_chunk);
}

Result<bool> ApiClient::watch(const std::string& path,
                              const std::function<bool(const Json&)>& on_event) {
  std::string pending;
  return open_stream(path, "watch on", [&](std::string_view chunk) {
    pending.append(chunk);
    for (size_t eol; (eol = pending.find('\n')) != std::string::npos;) {
      const Json event = Json::parse(pending.substr(0, eol), nullptr, false);
      pending.erase(0, eol + 1);
      if (!event.is_discarded() && !on_event(event)) return false;
    }
    return true;
  });
}

Result<bool> ApiClient::open_stream(const std::string& path, std::string_view what,
                                    const std::function<bool(std::string_view chunk)>& on_chunk) {
  // A followed log or a watch may stay quiet for a long time: its own connection, without the
  // 30 s read timeout.
  httplib::SSLClient http(c_.host, c_.port);
  http.set_ca_cert_path(c_.ca_cert.c_str());
  http.enable_server_certificate_verification(true);
  http.set_bearer_token_auth(c_.token);
  http.set_tcp_nodelay(true);
  http.set_read_timeout(24 * 3600);
  std::string error_body;
  bool stopped = false;
  int status = 0;
  httplib::Result res = http.Get(
      path,
      [&](const httplib::Response& r) {
        status = r.status;
        return true;
      },
      [&](const char* data, size_t len) {
        if (status != 200) {
          error_body.append(data, len);  // a Status, read whole below
          return true;
        }
        if (on_chunk(std::string_view(data, len))) return true;
        stopped = true;
        return false;
      });
  if (stopped) return true;
  if (!res)
    return Error{ErrorCode::Internal, fmt::format("{} https://{}:{} ended: {}", what, c_.host,
                                                  c_.port, httplib::to_string(res.error()))};
  if (status != 200) return status_error(status, error_body);
  return true;
}

}  // namespace ticketctl::api
