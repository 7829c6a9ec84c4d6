#pragma once
// The CLI's side of the API: HTTPS to the control plane on loopback, verifying its certificate
// against the state directory's CA and sending the bearer token. Errors come back as the
// server's Status message with its reason. One client per thread.

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "runtime/core/result.h"
#include "runtime/manifest/json.h"

namespace httplib {
class SSLClient;
}

namespace ticketctl::api {

struct Connection {
  std::string host = "127.0.0.1";
  int port = 0;
  std::filesystem::path ca_cert;
  std::string token;
};

// What a non-2xx answer (or a 2xx one that is not JSON) means: the Status body's message, else
// the status and the body as sent, and a code from the status and the Status reason. The body
// is the server's, so a field of the wrong type is ignored, not trusted.
Error status_error(int status, std::string_view body);

class ApiClient {
 public:
  explicit ApiClient(Connection c);
  ~ApiClient();
  ApiClient(ApiClient&&) noexcept;

  // Where this client connects, so a caller can open more connections to the same API.
  const Connection& connection() const { return c_; }

  Result<Json> get(const std::string& path);
  Result<Json> post(const std::string& path, const Json& body);
  Result<Json> put(const std::string& path, const Json& body);
  Result<Json> remove(const std::string& path);
  // PATCH with `content_type` naming the format: application/merge-patch+json,
  // application/json-patch+json or application/strategic-merge-patch+json.
  Result<Json> patch(const std::string& path, const std::string& content_type,
                     const std::string& body);
  // Streams a watch (`path` with ?watch=1): calls `on_event` with each {"type","object"} until it
  // returns false or the server ends the stream. Ending normally is ok().
  Result<bool> watch(const std::string& path, const std::function<bool(const Json&)>& on_event);
  // Streams a GET's body as it arrives (pods/log, also with follow=true): calls `on_chunk` with
  // each piece until it returns false or the server ends the response. Ending normally, or
  // stopped by `on_chunk`, is ok(); an error answer is the server's Status message.
  Result<bool> stream(const std::string& path,
                      const std::function<bool(std::string_view chunk)>& on_chunk);
  // Any method, for tests and raw access; returns the HTTP status and body, or a transport error.
  Result<std::pair<int, std::string>> raw(const std::string& method, const std::string& path,
                                          const std::string& body = {},
                                          const char* content_type = "application/json");

 private:
  Result<Json> call(const std::string& method, const std::string& path, const std::string& body,
                    const char* content_type = "application/json");
  // GET on a connection of its own, the body handed over as it arrives; `what` names the
  // request in transport errors ("watch on", "stream from").
  Result<bool> open_stream(const std::string& path, std::string_view what,
                           const std::function<bool(std::string_view chunk)>& on_chunk);
  Connection c_;
  std::unique_ptr<httplib::SSLClient> http_;
};

}  // namespace ticketctl::api
