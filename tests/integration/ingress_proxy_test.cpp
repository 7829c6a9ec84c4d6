// The ingress proxy against real sockets: small blocking backends on 127.0.0.1:0, the proxy on
// port 0 with fake hooks, and clients that write raw bytes and read raw answers, so framing and
// strict-parsing behaviour is observed exactly as a client on the wire would see it.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/daemon/access_log.h"
#include "runtime/ingress/proxy.h"
#include "tests/support/eventually.h"

namespace ticketctl::ingress {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// Socket helpers (blocking, with deadlines through poll)

int connect_to(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Appends what arrives within the deadline; 0 on EOF, -1 on error/timeout, else bytes read.
ssize_t recv_some(int fd, std::string& buf, Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() <= 0) return -1;
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return -1;
  char tmp[65536];
  const ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
  if (n > 0) buf.append(tmp, static_cast<std::size_t>(n));
  return n;
}

std::string read_until_close(int fd, Clock::duration within = 10s) {
  std::string out;
  const auto deadline = Clock::now() + within;
  while (recv_some(fd, out, deadline) > 0) {
  }
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Message {
  std::string start;                                // request or status line
  std::multimap<std::string, std::string> headers;  // lower-case names
  std::string body;
  uint64_t body_bytes = 0;  // when the body is counted rather than kept
  bool complete = false;

  std::string header(const std::string& name) const {
    auto it = headers.find(lower(name));
    return it == headers.end() ? "" : it->second;
  }
  bool has(const std::string& name) const { return headers.count(lower(name)) > 0; }
  int status() const { return start.size() > 12 ? std::stoi(start.substr(9, 3)) : 0; }
  std::string method() const { return start.substr(0, start.find(' ')); }
  std::string target() const {
    const auto a = start.find(' ') + 1;
    return start.substr(a, start.find(' ', a) - a);
  }
};

// Reads one message head from fd (bytes beyond it stay in buf).
bool read_head(int fd, std::string& buf, Message& m, Clock::time_point deadline) {
  std::size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos)
    if (recv_some(fd, buf, deadline) <= 0) return false;
  const std::string head = buf.substr(0, end + 2);
  buf.erase(0, end + 4);
  std::size_t pos = head.find("\r\n");
  m.start = head.substr(0, pos);
  pos += 2;
  while (pos < head.size()) {
    const auto eol = head.find("\r\n", pos);
    const std::string line = head.substr(pos, eol - pos);
    const auto colon = line.find(':');
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    m.headers.emplace(lower(line.substr(0, colon)), value);
    pos = eol + 2;
  }
  return true;
}

// Body by Content-Length, chunked, or until close (responses). keep=false counts bytes only.
bool read_body(int fd, std::string& buf, Message& m, Clock::time_point deadline, bool response,
               bool keep = true) {
  auto take = [&](std::size_t n) {
    if (keep) m.body.append(buf, 0, n);
    m.body_bytes += n;
    buf.erase(0, n);
  };
  if (lower(m.header("transfer-encoding")) == "chunked") {
    for (;;) {
      std::size_t eol;
      while ((eol = buf.find("\r\n")) == std::string::npos)
        if (recv_some(fd, buf, deadline) <= 0) return false;
      const std::size_t size = std::stoul(buf.substr(0, eol), nullptr, 16);
      buf.erase(0, eol + 2);
      if (size == 0) {
        while (buf.find("\r\n") == std::string::npos)
          if (recv_some(fd, buf, deadline) <= 0) return false;
        buf.erase(0, buf.find("\r\n") + 2);  // no trailers in these tests
        m.complete = true;
        return true;
      }
      std::size_t left = size;
      while (left > 0) {
        if (buf.empty() && recv_some(fd, buf, deadline) <= 0) return false;
        const std::size_t n = std::min(left, buf.size());
        take(n);
        left -= n;
      }
      while (buf.size() < 2)
        if (recv_some(fd, buf, deadline) <= 0) return false;
      buf.erase(0, 2);
    }
  }
  if (m.has("content-length")) {
    std::size_t left = std::stoul(m.header("content-length"));
    while (left > 0) {
      if (buf.empty() && recv_some(fd, buf, deadline) <= 0) return false;
      const std::size_t n = std::min(left, buf.size());
      take(n);
      left -= n;
    }
    m.complete = true;
    return true;
  }
  if (!response) {
    m.complete = true;
    return true;
  }
  for (;;) {
    take(buf.size());
    const ssize_t n = recv_some(fd, buf, deadline);
    if (n == 0) break;
    if (n < 0) return false;
  }
  m.complete = true;
  return true;
}

std::optional<Message> read_response(int fd, std::string& buf, bool head_request = false,
                                     Clock::duration within = 10s) {
  Message m;
  const auto deadline = Clock::now() + within;
  if (!read_head(fd, buf, m, deadline)) return std::nullopt;
  if (head_request || m.status() == 204 || m.status() == 304 || m.status() < 200) {
    m.complete = true;
    return m;
  }
  read_body(fd, buf, m, deadline, true);
  return m;
}

// Sends a request on a fresh connection and reads the answer (the raw bytes until close when the
// answer ends the connection).
std::optional<Message> roundtrip(uint16_t port, const std::string& request) {
  const int fd = connect_to(port);
  if (fd < 0) return std::nullopt;
  send_all(fd, request);
  std::string buf;
  auto m = read_response(fd, buf);
  ::close(fd);
  return m;
}

bool closed_by_peer(int fd, Clock::duration within = 5s) {
  std::string ignored;
  const auto deadline = Clock::now() + within;
  for (;;) {
    const ssize_t n = recv_some(fd, ignored, deadline);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

// These tests' patience; the polling is tests/support/eventually.h's, every 2 ms (sockets).
bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds within = 10s) {
  return testing::eventually(pred, within, 2ms);
}

// ---------------------------------------------------------------------------------------------
// Backends: a thread per connection is fine for tests.

class Backend {
 public:
  using Handler = std::function<void(int fd)>;

  explicit Backend(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_fd_, 128);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    acceptor_ = std::thread([this] {
      for (;;) {
        const int fd = ::accept(listen_fd_, nullptr, nullptr);
        if (fd < 0) return;
        ++accepted;
        std::lock_guard lock(mu_);
        fds_.push_back(fd);
        threads_.emplace_back([this, fd] { handler_(fd); });
      }
    });
  }
  ~Backend() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    ::close(listen_fd_);
    {
      std::lock_guard lock(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : threads_) t.join();
    for (int fd : fds_) ::close(fd);
  }
  net::Backend endpoint(std::string pod = "default/pod-a") const {
    return net::Backend{"127.0.0.1", port, std::move(pod)};
  }

  uint16_t port = 0;
  std::atomic<int> accepted{0};

 private:
  Handler handler_;
  int listen_fd_ = -1;
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
};

// Serves requests on one connection until EOF; `answer` builds the raw response. The request
// body is kept unless `keep_body` is false (then only counted).
using Answer = std::function<std::string(const Message&)>;
void serve_http(int fd, const Answer& answer, bool keep_body = true) {
  std::string buf;
  for (;;) {
    Message req;
    const auto deadline = Clock::now() + 60s;
    if (!read_head(fd, buf, req, deadline)) return;
    if (!read_body(fd, buf, req, deadline, false, keep_body)) return;
    if (!send_all(fd, answer(req))) return;
  }
}

std::string ok_response(const std::string& body, const std::string& extra = "") {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra +
         "\r\n" + body;
}

// The request as the backend saw it, as a body: start line and headers, one per line.
std::string echo_head(const Message& req) {
  std::string out = req.start + "\n";
  for (const auto& [k, v] : req.headers) out += k + ": " + v + "\n";
  out += "body-bytes: " + std::to_string(req.body_bytes) + "\n";
  return out;
}

uint16_t closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);  // bound, never listened: connections are refused
  return ntohs(a.sin_port);
}

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Fixture: a proxy with table-driven fake hooks.

class IngressProxyTest : public ::testing::Test {
 protected:
  // Routes from the fixture's tables, which tests change while the proxy runs.
  class FixtureRouting final : public Routing {
   public:
    explicit FixtureRouting(IngressProxyTest& t) : t_(t) {}
    std::optional<RouteRef> route(std::string_view host, std::string_view target,
                                  std::string& scratch) const override {
      std::lock_guard lock(t_.mu_);
      auto it = t_.routes_.find(std::string(host));
      if (it == t_.routes_.end()) return std::nullopt;
      const RouteMatch& m = it->second;
      std::string_view upstream_target = target;
      if (t_.rewrite_) {
        scratch = t_.rewrite_(target);
        upstream_target = scratch;
      }
      return RouteRef{m.ns, m.service, m.port, upstream_target, m.rule, m.options, m.host_has_tls};
    }
    Endpoints endpoints(std::string_view ns, std::string_view svc,
                        std::string_view) const override {
      std::lock_guard lock(t_.mu_);
      const std::string key = std::string(ns) + "/" + std::string(svc);
      auto it = t_.endpoints_.find(key);
      if (it == t_.endpoints_.end()) return {};
      return {it->second, &next_.try_emplace(key, 0).first->second};
    }

   private:
    IngressProxyTest& t_;
    mutable std::map<std::string, std::atomic<uint64_t>> next_;
  };

  void start(ProxyOptions opt = {}) {
    opt.address = "127.0.0.1";
    opt.http_port = 0;
    if (opt.https_port != -1) opt.https_port = 0;
    opt.threads = 2;
    ProxyHooks hooks;
    hooks.access_log = [this](const AccessLogEntry& e) {
      if (access_log_) return access_log_(e);
      std::lock_guard lock(mu_);
      log_.push_back(e);
    };
    hooks.capture = [this] { return capture_.load(); };
    hooks.body_limit = 16;
    hooks.certificate = [this](std::string_view host) -> std::optional<CertificatePem> {
      ++certificate_calls_;
      if (host != "secure.test") return std::nullopt;
      auto made = make_self_signed_certificate("secure.test");
      return made ? std::optional(made.value()) : std::nullopt;
    };
    proxy_ = std::make_unique<IngressProxy>(opt, hooks);
    proxy_->publish(std::make_shared<FixtureRouting>(*this));
    auto ports = proxy_->start();
    ASSERT_TRUE(ports.ok()) << ports.error().message;
    http_ = static_cast<uint16_t>(ports.value().first);
    https_ = ports.value().second;
  }
  void TearDown() override {
    if (proxy_) proxy_->stop();
  }

  RouteMatch& route(const std::string& host, const std::string& service = "posts-srv") {
    std::lock_guard lock(mu_);
    RouteMatch& m = routes_[host];
    m.ns = "default";
    m.service = service;
    m.port = "4000";
    m.rule = "default/ingress-srv " + host + " /";
    return m;
  }
  void endpoints(const std::string& service, net::Backends b) {
    std::lock_guard lock(mu_);
    endpoints_["default/" + service] = std::move(b);
  }
  std::vector<AccessLogEntry> log() {
    std::lock_guard lock(mu_);
    return log_;
  }

  std::mutex mu_;
  std::map<std::string, RouteMatch> routes_;
  std::map<std::string, net::Backends> endpoints_;
  std::function<std::string(std::string_view)> rewrite_;
  std::vector<AccessLogEntry> log_;
  std::function<void(const AccessLogEntry&)> access_log_;  // instead of log_, when set
  std::atomic<int> certificate_calls_{0};
  std::atomic<Capture> capture_{Capture::None};  // what the tap asks the proxy to keep
  std::unique_ptr<IngressProxy> proxy_;
  uint16_t http_ = 0;
  int https_ = -1;
};

std::string get(const std::string& host, const std::string& target = "/",
                const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n" + extra + "\r\n";
}

// ---------------------------------------------------------------------------------------------

TEST_F(IngressProxyTest, RoutesAndRewritesHeaders) {
  Backend backend([](int fd) {
    serve_http(fd, [](const Message& req) {
      return ok_response(echo_head(req),
                         "Connection: keep-alive, X-Upstream-Hop\r\nKeep-Alive: timeout=5\r\n"
                         "X-Upstream-Hop: secret\r\nX-Served-By: backend\r\n");
    });
  });
  route("posts.com");
  rewrite_ = [](std::string_view t) { return "/rewritten" + std::string(t); };
  endpoints("posts-srv", {backend.endpoint()});
  start();

  auto r = roundtrip(http_, get("Posts.com:8080", "/x?q=1",
                                "Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 300\r\n"
                                "TE: trailers\r\nProxy-Connection: keep-alive\r\n"
                                "X-Forwarded-For: 10.0.0.1\r\nX-Custom: kept\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status(), 200);
  const std::string& seen = r->body;
  EXPECT_NE(seen.find("GET /rewritten/x?q=1 HTTP/1.1\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("host: Posts.com:8080\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("x-custom: kept\n"), std::string::npos);
  EXPECT_NE(seen.find("x-forwarded-for: 10.0.0.1, 127.0.0.1\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("x-real-ip: 127.0.0.1\n"), std::string::npos);
  EXPECT_NE(seen.find("x-forwarded-proto: http\n"), std::string::npos);
  EXPECT_NE(seen.find("x-forwarded-host: Posts.com:8080\n"), std::string::npos);
  EXPECT_NE(seen.find("x-forwarded-port: " + std::to_string(http_) + "\n"), std::string::npos);
  for (const char* hop : {"x-hop:", "keep-alive:", "te:", "proxy-connection:", "connection:"})
    EXPECT_EQ(seen.find(std::string("\n") + hop), std::string::npos) << hop << " in\n" << seen;
  const auto id_at = seen.find("x-request-id: ");
  ASSERT_NE(id_at, std::string::npos);
  const std::string id = seen.substr(id_at + 14, seen.find('\n', id_at) - id_at - 14);
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  // Response: hop-by-hop gone, the rest kept.
  EXPECT_EQ(r->header("x-served-by"), "backend");
  EXPECT_FALSE(r->has("x-upstream-hop"));
  EXPECT_FALSE(r->has("keep-alive"));

  // A given X-Request-ID is kept.
  auto r2 = roundtrip(http_, get("posts.com", "/", "X-Request-ID: my-id-1\r\n"));
  ASSERT_TRUE(r2);
  EXPECT_NE(r2->body.find("x-request-id: my-id-1\n"), std::string::npos);

  ASSERT_TRUE(wait_for([&] { return log().size() >= 2; }));
  const auto entry = log()[0];
  EXPECT_EQ(entry.host, "posts.com");
  EXPECT_EQ(entry.method, "GET");
  EXPECT_EQ(entry.path, "/x?q=1");
  EXPECT_EQ(entry.status, 200);
  EXPECT_EQ(entry.pod, "default/pod-a");
  EXPECT_EQ(entry.upstream, "127.0.0.1:" + std::to_string(backend.port));
  EXPECT_EQ(entry.request_id, id);
  EXPECT_EQ(entry.rule, "default/ingress-srv posts.com /");
  EXPECT_GT(entry.bytes_out, 0u);
  EXPECT_EQ(log()[1].request_id, "my-id-1");
}

TEST_F(IngressProxyTest, NoRuleIs404) {
  start();
  auto r = roundtrip(http_, get("nowhere.com", "/x"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status(), 404);
  EXPECT_EQ(r->body, "no ingress rule for nowhere.com /x\n");
  ASSERT_TRUE(wait_for([&] { return log().size() == 1; }));
  EXPECT_EQ(log()[0].status, 404);
}

TEST_F(IngressProxyTest, NoEndpointIs503WithRetryAfter) {
  route("posts.com", "query-srv");
  start();
  auto r = roundtrip(http_, get("posts.com", "/posts"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status(), 503);
  EXPECT_EQ(r->header("retry-after"), "5");
  EXPECT_NE(r->body.find("no ready endpoint for service default/query-srv"), std::string::npos)
      << r->body;
  EXPECT_NE(r->body.find("default/ingress-srv posts.com /"), std::string::npos);
}

TEST_F(IngressProxyTest, RefusedEndpointIs502) {
  route("posts.com");
  endpoints("posts-srv", {net::Backend{"127.0.0.1", closed_port(), "default/dead"}});
  start();
  auto r = roundtrip(http_, get("posts.com"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status(), 502);
  EXPECT_EQ(r->header("connection"), "close");
}

TEST_F(IngressProxyTest, IdempotentRequestRetriesAnotherEndpoint) {
  Backend backend([](int fd) { serve_http(fd, [](const Message&) { return ok_response("ok"); }); });
  route("posts.com");
  endpoints("posts-srv",
            {net::Backend{"127.0.0.1", closed_port(), "default/dead"}, backend.endpoint()});
  start();
  for (int i = 0; i < 4; ++i) {
    auto r = roundtrip(http_, get("posts.com"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status(), 200) << "GET " << i;
  }
  // POST is not retried: round-robin sends one of two to the dead endpoint.
  int bad_gateway = 0;
  for (int i = 0; i < 2; ++i) {
    auto r = roundtrip(http_, "POST / HTTP/1.1\r\nHost: posts.com\r\nContent-Length: 2\r\n\r\nhi");
    ASSERT_TRUE(r);
    bad_gateway += r->status() == 502;
  }
  EXPECT_EQ(bad_gateway, 1);
}

TEST_F(IngressProxyTest, SilentUpstreamIs504) {
  std::atomic<bool> release{false};
  Backend backend([&](int fd) {
    std::string buf;
    Message m;
    read_head(fd, buf, m, Clock::now() + 10s);
    wait_for([&] { return release.load(); });
  });
  route("posts.com").options.read_timeout = 300ms;
  endpoints("posts-srv", {backend.endpoint()});
  start();
  const auto t0 = Clock::now();
  auto r = roundtrip(http_, get("posts.com"));
  release = true;
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status(), 504);
  EXPECT_LT(Clock::now() - t0, 5s);
}

TEST_F(IngressProxyTest, BodyTooLargeIs413BeforeConnecting) {
  Backend backend([](int fd) {
    serve_http(fd, [](const Message& m) { return ok_response(std::to_string(m.body_bytes)); });
  });
  route("posts.com").options.max_body_bytes = 1000;
  endpoints("posts-srv", {backend.endpoint()});
  start();
  auto r = roundtrip(http_, "POST / HTTP/1.1\r\nHost: posts.com\r\nContent-Length: 5000\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status(), 413);
  EXPECT_EQ(backend.accepted, 0);

  std::string chunked = "POST / HTTP/1.1\r\nHost: posts.com\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) chunked += "258\r\n" + std::string(600, 'x') + "\r\n";
  chunked += "0\r\n\r\n";
  auto r2 = roundtrip(http_, chunked);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status(), 413);

  auto r3 = roundtrip(http_, "POST / HTTP/1.1\r\nHost: posts.com\r\nContent-Length: 1000\r\n\r\n" +
                                 std::string(1000, 'y'));
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->status(), 200);
  EXPECT_EQ(r3->body, "1000");
}

TEST_F(IngressProxyTest, OversizedHeadIs431AndLongLineIs414) {
  route("posts.com");
  start();
  auto r = roundtrip(http_, get("posts.com", "/", "X-Big: " + std::string(40000, 'a') + "\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status(), 431);
  auto r2 = roundtrip(http_, get("posts.com", "/" + std::string(9000, 'a')));
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status(), 414);
}

TEST_F(IngressProxyTest, SmugglingAttemptsAre400AndClose) {
  Backend backend([](int fd) { serve_http(fd, [](const Message&) { return ok_response("ok"); }); });
  route("posts.com");
  endpoints("posts-srv", {backend.endpoint()});
  start();
  const std::string h = "POST / HTTP/1.1\r\nHost: posts.com\r\n";
  const std::map<std::string, std::string> cases = {
      {"CL then TE", h + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"TE then CL", h + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n"},
      {"differing CL", h + "Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde"},
      {"CL list", h + "Content-Length: 4, 5\r\n\r\nabcde"},
      {"obs-fold", h + "X-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n"},
      {"space before field", "GET / HTTP/1.1\r\n Host: posts.com\r\n\r\n"},
      {"bad chunk size", h + "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"},
      {"chunk size overflow", h + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\n"},
      {"bare LF", "GET / HTTP/1.1\nHost: posts.com\n\n"},
      {"bare LF in field", "GET / HTTP/1.1\r\nHost: posts.com\nX: y\r\n\r\n"},
      {"bare CR", "GET / HTTP/1.1\r\nHost: posts.com\rX: y\r\n\r\n"},
      {"TE not chunked", h + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"},
      {"TE twice",
       h + "Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"TE gzip", h + "Transfer-Encoding: gzip\r\n\r\n"},
      {"two Host", "GET / HTTP/1.1\r\nHost: posts.com\r\nHost: evil.com\r\n\r\n"},
      {"no Host", "GET / HTTP/1.1\r\n\r\n"},
      {"space in name", "GET / HTTP/1.1\r\nHost: posts.com\r\nX Y: z\r\n\r\n"},
      {"space before colon", "GET / HTTP/1.1\r\nHost : posts.com\r\n\r\n"},
  };
  for (const auto& [name, raw] : cases) {
    const int fd = connect_to(http_);
    ASSERT_GE(fd, 0);
    send_all(fd, raw);
    const std::string answer = read_until_close(fd);
    ::close(fd);
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 400") << name << ":\n" << answer;
    EXPECT_NE(lower(answer).find("connection: close"), std::string::npos) << name;
  }
}

TEST_F(IngressProxyTest, OtherHttpVersionsAre505AndMalformedOnesAre400) {
  route("posts.com");
  start();
  const std::map<std::string, std::string> cases = {
      {"GET / HTTP/2.0\r\nHost: posts.com\r\n\r\n", "HTTP/1.1 505"},
      {"GET / HTTP/3.0\r\nHost: posts.com\r\n\r\n", "HTTP/1.1 505"},
      {"GET / HTTP/1.2\r\nHost: posts.com\r\n\r\n", "HTTP/1.1 505"},
      {"GET / HTTP/0.9\r\nHost: posts.com\r\n\r\n", "HTTP/1.1 505"},
      // HTTP/2 with prior knowledge opens with this preface.
      {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "HTTP/1.1 505"},
      {"GET / HTTP/x.y\r\nHost: posts.com\r\n\r\n", "HTTP/1.1 400"},
      {"GET / HTTP/2\r\nHost: posts.com\r\n\r\n", "HTTP/1.1 400"},
      {"GET / XTTP/2.0\r\nHost: posts.com\r\n\r\n", "HTTP/1.1 400"},
  };
  for (const auto& [raw, status] : cases) {
    const int fd = connect_to(http_);
    ASSERT_GE(fd, 0);
    send_all(fd, raw);
    const std::string answer = read_until_close(fd);
    ::close(fd);
    EXPECT_EQ(answer.substr(0, 12), status) << raw << "\n" << answer;
  }
}

TEST_F(IngressProxyTest, SlowHeaderIs408) {
  route("posts.com");
  ProxyOptions opt;
  opt.header_timeout = 300ms;
  start(opt);
  const int fd = connect_to(http_);
  send_all(fd, "GET / HTTP/1.1\r\nHost: pos");
  const std::string answer = read_until_close(fd);
  ::close(fd);
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 408") << answer;
}

TEST_F(IngressProxyTest, KeepAliveAndPipelining) {
  Backend backend([](int fd) {
    serve_http(fd, [](const Message& req) { return ok_response("path=" + req.target()); });
  });
  route("posts.com");
  endpoints("posts-srv", {backend.endpoint()});
  start();
  const int fd = connect_to(http_);
  send_all(fd, get("posts.com", "/one") + get("posts.com", "/two"));
  std::string buf;
  auto a = read_response(fd, buf);
  auto b = read_response(fd, buf);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->body, "path=/one");
  EXPECT_EQ(b->body, "path=/two");
  // Same client connection, a third request later; upstream connection reused from the pool.
  send_all(fd, get("posts.com", "/three"));
  auto c = read_response(fd, buf);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->body, "path=/three");
  ::close(fd);
  EXPECT_EQ(backend.accepted, 1);
}

TEST_F(IngressProxyTest, ABurstOfConnectionsWaitingInTheBacklogIsEachServed) {
  // 200 connections complete their handshakes before any is accepted, so the acceptor takes them
  // in batches of synchronous accepts (not one per trip round the event loop), handed to both
  // workers in turn: each must still get its own answer.
  Backend backend([](int fd) {
    serve_http(fd, [](const Message& req) { return ok_response("path=" + req.target()); });
  });
  route("posts.com");
  endpoints("posts-srv", {backend.endpoint()});
  start();
  std::vector<int> fds;
  // 200, not more: the test's process holds all four ends of each (client, proxy both ways,
  // backend) under a default limit of 1,024 descriptors.
  for (int i = 0; i < 200; ++i) {
    const int fd = connect_to(http_);
    ASSERT_GE(fd, 0) << "connection " << i << ": " << std::strerror(errno);
    fds.push_back(fd);
  }
  for (size_t i = 0; i < fds.size(); ++i)
    ASSERT_TRUE(send_all(fds[i], get("posts.com", "/c" + std::to_string(i))));
  for (size_t i = 0; i < fds.size(); ++i) {
    std::string buf;
    auto r = read_response(fds[i], buf);
    ASSERT_TRUE(r) << "connection " << i << " got no response";
    EXPECT_EQ(r->status(), 200) << "connection " << i;
    EXPECT_EQ(r->body, "path=/c" + std::to_string(i));
  }
  for (int fd : fds) ::close(fd);
}

TEST_F(IngressProxyTest, DeadPooledConnectionIsRetriedFresh) {
  // A rude backend: closes after each response without saying so.
  Backend backend([](int fd) {
    std::string buf;
    Message req;
    if (read_head(fd, buf, req, Clock::now() + 10s)) send_all(fd, ok_response("once"));
    ::shutdown(fd, SHUT_RDWR);
  });
  route("posts.com");
  endpoints("posts-srv", {backend.endpoint()});
  start();
  for (int i = 0; i < 5; ++i) {
    auto r = roundtrip(http_, get("posts.com"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status(), 200) << i;
  }
}

TEST_F(IngressProxyTest, Http10ClientGetsCloseDelimitedBody) {
  Backend backend([](int fd) {
    serve_http(fd, [](const Message&) {
      return std::string(
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    });
  });
  route("posts.com");
  endpoints("posts-srv", {backend.endpoint()});
  start();
  const int fd = connect_to(http_);
  send_all(fd, "GET / HTTP/1.0\r\nHost: posts.com\r\n\r\n");
  const std::string raw = read_until_close(fd);
  ::close(fd);
  EXPECT_EQ(raw.substr(0, 12), "HTTP/1.1 200");
  EXPECT_EQ(lower(raw).find("transfer-encoding"), std::string::npos) << raw;
  EXPECT_EQ(raw.substr(raw.size() - 9), "\r\n\r\nhello") << raw;
}

// The traffic tap's part of the log entry: nothing while nobody taps; headers, the client's
// port and the route's Service while somebody does; the first body_limit bytes of each body
// (chunked decoded) only when a tap wants bodies.
TEST_F(IngressProxyTest, KeepsHeadersAndBodiesForTheTapOnlyWhenAsked) {
  Backend backend([](int fd) {
    serve_http(fd, [](const Message& req) {
      return ok_response("answer-for-" + req.target() + "-and-some-more-bytes",
                         "Set-Cookie: s=1\r\nX-Served-By: backend\r\n");
    });
  });
  route("posts.com");
  endpoints("posts-srv", {backend.endpoint()});
  start();
  const std::string chunked =
      "POST /create HTTP/1.1\r\nHost: posts.com\r\nAuthorization: Bearer t\r\n"
      "Transfer-Encoding: chunked\r\n\r\n"
      "a\r\n{\"type\":\"P\r\n12\r\nostCreated\",\"x\":1}\r\n0\r\n\r\n";

  ASSERT_TRUE(roundtrip(http_, chunked));  // nobody taps
  capture_ = Capture::Headers;
  ASSERT_TRUE(roundtrip(http_, chunked));
  capture_ = Capture::Bodies;
  auto r = roundtrip(http_, chunked);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status(), 200);
  ASSERT_TRUE(wait_for([&] { return log().size() >= 3; }));
  const std::vector<AccessLogEntry> entries = log();

  const AccessLogEntry& untapped = entries[0];
  EXPECT_FALSE(untapped.captured);
  EXPECT_TRUE(untapped.request_headers.empty());
  EXPECT_TRUE(untapped.service.empty());
  EXPECT_EQ(untapped.client_port, 0);
  EXPECT_EQ(untapped.status, 200);  // the log line itself is as always

  const AccessLogEntry& headers = entries[1];
  EXPECT_TRUE(headers.captured);
  EXPECT_EQ(headers.service, "default/posts-srv");
  EXPECT_GT(headers.client_port, 0);
  const auto has = [](const auto& hs, const std::string& name, const std::string& value) {
    for (const auto& [n, v] : hs)
      if (n == name && v == value) return true;
    return false;
  };
  EXPECT_TRUE(has(headers.request_headers, "Authorization", "Bearer t"));
  EXPECT_TRUE(has(headers.request_headers, "Host", "posts.com"));
  EXPECT_TRUE(has(headers.response_headers, "X-Served-By", "backend"));
  EXPECT_TRUE(has(headers.response_headers, "Set-Cookie", "s=1"));
  EXPECT_TRUE(headers.request_body.empty());
  EXPECT_TRUE(headers.response_body.empty());

  const AccessLogEntry& bodies = entries[2];
  EXPECT_EQ(bodies.request_body, "{\"type\":\"PostCre");  // decoded, cut at body_limit
  EXPECT_EQ(bodies.response_body, "answer-for-/crea");

  // Headers are kept up to 8 KiB a message, so a tap's queue stays small.
  std::string big;
  for (int i = 0; i < 20; ++i)
    big += "X-Big-" + std::to_string(i) + ": " + std::string(1000, 'b') + "\r\n";
  ASSERT_TRUE(roundtrip(http_, get("posts.com", "/big", big)));
  ASSERT_TRUE(wait_for([&] { return log().size() >= 4; }));
  const AccessLogEntry many = log()[3];
  ASSERT_FALSE(many.request_headers.empty());
  EXPECT_LT(many.request_headers.size(), 12u);
  EXPECT_EQ(many.request_headers.back().first, "X-Ticketctl-Tap");
}

TEST_F(IngressProxyTest, ChunkedUploadIsStreamedWithBoundedMemory) {
  Backend backend([](int fd) {
    serve_http(
        fd, [](const Message& m) { return ok_response(std::to_string(m.body_bytes)); },
        /*keep_body=*/false);
  });
  route("posts.com").options.max_body_bytes = 0;
  endpoints("posts-srv", {backend.endpoint()});
  start();
  constexpr std::size_t total = 64u << 20, piece = 64u << 10;
  const long before = rss_kib();
  std::atomic<long> peak{before};
  std::atomic<bool> done{false};
  std::thread monitor([&] {
    while (!done) {
      peak = std::max(peak.load(), rss_kib());
      std::this_thread::sleep_for(5ms);  // sampling, not synchronisation
    }
  });
  const int fd = connect_to(http_);
  send_all(fd, "POST /upload HTTP/1.1\r\nHost: posts.com\r\nTransfer-Encoding: chunked\r\n\r\n");
  char hex[32];
  std::snprintf(hex, sizeof hex, "%zx\r\n", piece);
  const std::string chunk = hex + std::string(piece, 'u') + "\r\n";
  for (std::size_t sent = 0; sent < total; sent += piece) ASSERT_TRUE(send_all(fd, chunk));
  send_all(fd, "0\r\n\r\n");
  std::string buf;
  auto r = read_response(fd, buf, false, 60s);
  done = true;
  monitor.join();
  ::close(fd);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, std::to_string(total));
  const long growth_mib = (peak - before) / 1024;
  RecordProperty("rss_growth_mib", static_cast<int>(growth_mib));
#if defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(growth_mib, 48);  // ASan's quarantine keeps freed blocks around
#else
  EXPECT_LT(growth_mib, 8) << "RSS grew by " << growth_mib << " MiB for a 64 MiB upload";
#endif
}

TEST_F(IngressProxyTest, LargeDownloadIsStreamed) {
  constexpr std::size_t total = 32u << 20;
  Backend backend([&](int fd) {
    std::string buf;
    Message req;
    if (!read_head(fd, buf, req, Clock::now() + 10s)) return;
    send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(total) + "\r\n\r\n");
    const std::string block(1 << 16, 'd');
    for (std::size_t sent = 0; sent < total; sent += block.size())
      if (!send_all(fd, block)) return;
  });
  route("posts.com");
  endpoints("posts-srv", {backend.endpoint()});
  start();
  const int fd = connect_to(http_);
  send_all(fd, get("posts.com", "/big"));
  std::string buf;
  Message m;
  const auto deadline = Clock::now() + 60s;
  ASSERT_TRUE(read_head(fd, buf, m, deadline));
  ASSERT_TRUE(read_body(fd, buf, m, deadline, true, false));
  ::close(fd);
  EXPECT_EQ(m.body_bytes, total);
}

TEST_F(IngressProxyTest, ExpectContinueIsAnswered) {
  Backend backend([](int fd) {
    serve_http(fd, [](const Message& m) {
      return ok_response(m.body + (m.has("expect") ? " expect-forwarded" : ""));
    });
  });
  route("posts.com");
  endpoints("posts-srv", {backend.endpoint()});
  start();
  const int fd = connect_to(http_);
  send_all(
      fd,
      "POST / HTTP/1.1\r\nHost: posts.com\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  std::string buf;
  Message interim;
  ASSERT_TRUE(read_head(fd, buf, interim, Clock::now() + 5s));
  EXPECT_EQ(interim.status(), 100);
  send_all(fd, "hello");
  auto r = read_response(fd, buf);
  ::close(fd);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status(), 200);
  EXPECT_EQ(r->body, "hello");
}

TEST_F(IngressProxyTest, WebSocketUpgradeIsTunnelled) {
  Backend backend([](int fd) {
    std::string buf;
    Message req;
    if (!read_head(fd, buf, req, Clock::now() + 10s)) return;
    if (lower(req.header("upgrade")) != "websocket" ||
        lower(req.header("connection")).find("upgrade") == std::string::npos)
      return (void)send_all(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    send_all(fd,
             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
    char tmp[4096];
    for (;;) {  // echo raw bytes until the client's end of stream, then close
      const ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n <= 0 || !send_all(fd, std::string_view(tmp, static_cast<std::size_t>(n)))) break;
    }
    ::shutdown(fd, SHUT_RDWR);
  });
  route("posts.com");
  endpoints("posts-srv", {backend.endpoint()});
  start();
  const int fd = connect_to(http_);
  send_all(fd,
           "GET /ws HTTP/1.1\r\nHost: posts.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  std::string buf;
  Message m;
  ASSERT_TRUE(read_head(fd, buf, m, Clock::now() + 5s));
  EXPECT_EQ(m.status(), 101);
  EXPECT_EQ(lower(m.header("upgrade")), "websocket");
  EXPECT_EQ(m.header("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  for (const std::string msg : {"\x81\x05hello", "second frame"}) {
    send_all(fd, msg);
    const auto deadline = Clock::now() + 5s;
    while (buf.size() < msg.size() && recv_some(fd, buf, deadline) > 0) {
    }
    EXPECT_EQ(buf, msg);
    buf.clear();
  }
  ::close(fd);
  ASSERT_TRUE(wait_for([&] { return !log().empty(); }));
  EXPECT_EQ(log()[0].status, 101);
}

// TLS: the certificate the hook gives for the SNI host, the default one without SNI.
struct TlsClient {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = nullptr;
  int fd = -1;
  bool connect(uint16_t port, const char* sni) {
    fd = connect_to(port);
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (sni) SSL_set_tlsext_host_name(ssl, sni);
    return SSL_connect(ssl) == 1;
  }
  std::string subject_cn() {
    X509* cert = SSL_get1_peer_certificate(ssl);
    if (!cert) return "";
    char cn[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
    X509_free(cert);
    return cn;
  }
  std::string request(const std::string& raw) {
    SSL_write(ssl, raw.data(), static_cast<int>(raw.size()));
    std::string out;
    char tmp[4096];
    int n;
    while ((n = SSL_read(ssl, tmp, sizeof tmp)) > 0) out.append(tmp, static_cast<std::size_t>(n));
    return out;
  }
  ~TlsClient() {
    if (ssl) SSL_free(ssl);
    if (fd >= 0) ::close(fd);
    SSL_CTX_free(ctx);
  }
};

TEST_F(IngressProxyTest, TlsChoosesCertificateBySni) {
  Backend backend([](int fd) {
    serve_http(fd, [](const Message& req) { return ok_response(echo_head(req)); });
  });
  route("secure.test");
  endpoints("posts-srv", {backend.endpoint()});
  start();
  ASSERT_GT(https_, 0);
  {
    TlsClient c;
    ASSERT_TRUE(c.connect(static_cast<uint16_t>(https_), "secure.test"));
    EXPECT_EQ(c.subject_cn(), "secure.test");
    const std::string answer = c.request(get("secure.test", "/", "Connection: close\r\n"));
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 200") << answer;
    EXPECT_NE(answer.find("x-forwarded-proto: https\n"), std::string::npos) << answer;
  }
  {
    TlsClient c;  // a second handshake for the same host uses the cached context
    ASSERT_TRUE(c.connect(static_cast<uint16_t>(https_), "secure.test"));
    EXPECT_EQ(c.subject_cn(), "secure.test");
  }
  EXPECT_EQ(certificate_calls_, 1);
  {
    TlsClient c;
    ASSERT_TRUE(c.connect(static_cast<uint16_t>(https_), "other.test"));
    EXPECT_EQ(c.subject_cn(), "ticketctl-ingress");
  }
  {
    TlsClient c;
    ASSERT_TRUE(c.connect(static_cast<uint16_t>(https_), nullptr));
    EXPECT_EQ(c.subject_cn(), "ticketctl-ingress");
  }
}

TEST_F(IngressProxyTest, SslRedirectAndCors) {
  Backend backend([](int fd) { serve_http(fd, [](const Message&) { return ok_response("ok"); }); });
  route("secure.test").host_has_tls = true;
  route("plain.test").options.enable_cors = true;
  RouteMatch& forced = route("forced.test");
  forced.options.force_ssl_redirect = true;
  endpoints("posts-srv", {backend.endpoint()});
  start();
  auto r = roundtrip(http_, get("secure.test", "/a?b=c"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status(), 308);
  EXPECT_EQ(r->header("location"), "https://secure.test:" + std::to_string(https_) + "/a?b=c");
  auto f = roundtrip(http_, get("forced.test", "/"));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->status(), 308);

  auto pre = roundtrip(http_,
                       "OPTIONS /api HTTP/1.1\r\nHost: plain.test\r\nOrigin: http://x\r\n"
                       "Access-Control-Request-Method: POST\r\n\r\n");
  ASSERT_TRUE(pre);
  EXPECT_EQ(pre->status(), 204);
  EXPECT_EQ(pre->header("access-control-allow-origin"), "*");
  EXPECT_NE(pre->header("access-control-allow-methods").find("POST"), std::string::npos);
  auto normal = roundtrip(http_, get("plain.test"));
  ASSERT_TRUE(normal);
  EXPECT_EQ(normal->status(), 200);
  EXPECT_EQ(normal->header("access-control-allow-origin"), "*");
}

TEST_F(IngressProxyTest, UpstreamKilledMidResponse) {
  Backend backend([](int fd) {
    std::string buf;
    Message req;
    if (!read_head(fd, buf, req, Clock::now() + 10s)) return;
    if (req.target() == "/die") {
      send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(1000, 'p'));
      ::shutdown(fd, SHUT_RDWR);
      return;
    }
    if (req.target() == "/die-early") {
      ::shutdown(fd, SHUT_RDWR);
      return;
    }
    send_all(fd, ok_response("fine", "Connection: close\r\n"));
  });
  route("posts.com");
  endpoints("posts-srv", {backend.endpoint()});
  start();
  const int fd = connect_to(http_);
  send_all(fd, get("posts.com", "/die"));
  const std::string raw = read_until_close(fd);
  ::close(fd);
  EXPECT_EQ(raw.substr(0, 12), "HTTP/1.1 200");
  EXPECT_LT(raw.size(), 100000u);  // truncated: the client can tell

  auto early =
      roundtrip(http_, "POST /die-early HTTP/1.1\r\nHost: posts.com\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(early);
  EXPECT_EQ(early->status(), 502);

  auto after = roundtrip(http_, get("posts.com", "/ok"));
  ASSERT_TRUE(after);
  EXPECT_EQ(after->body, "fine");
}

TEST_F(IngressProxyTest, StopLetsInFlightRequestsFinish) {
  std::atomic<bool> got{false}, release{false};
  Backend backend([&](int fd) {
    std::string buf;
    Message req;
    if (!read_head(fd, buf, req, Clock::now() + 10s)) return;
    got = true;
    wait_for([&] { return release.load(); });
    send_all(fd, ok_response("late"));
  });
  route("posts.com");
  endpoints("posts-srv", {backend.endpoint()});
  start();
  const int fd = connect_to(http_);
  const int quiet = connect_to(http_);  // an idle client is closed at once
  send_all(fd, get("posts.com", "/slow"));
  ASSERT_TRUE(wait_for([&] { return got.load(); }));
  std::thread stopper([&] { proxy_->stop(); });
  ASSERT_TRUE(wait_for([&] {  // stop() has begun once the listener is gone
    const int probe = connect_to(http_);
    if (probe >= 0) ::close(probe);
    return probe < 0;
  }));
  release = true;
  std::string buf;
  auto r = read_response(fd, buf);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "late");
  EXPECT_EQ(r->header("connection"), "close");
  stopper.join();
  EXPECT_TRUE(closed_by_peer(quiet));
  ::close(fd);
  ::close(quiet);
}

// ---------------------------------------------------------------------------------------------
// Upstream pool and access log under the real writer (runtime/daemon/access_log.h)

// Sockets of this network namespace connected to `remote_port` on 127.0.0.1 in `state` (hex, as
// /proc/net/tcp writes it: "08" is CLOSE-WAIT).
int sockets_to(uint16_t remote_port, const std::string& state) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  char want[16];
  std::snprintf(want, sizeof want, "0100007F:%04X", remote_port);
  int n = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string sl, local, remote, st;
    fields >> sl >> local >> remote >> st;
    n += remote == want && st == state;
  }
  return n;
}

TEST_F(IngressProxyTest, PooledConnectionsTheBackendClosedLeaveNoCloseWait) {
  // Each backend connection answers one request, keeps-alive by its headers, then closes.
  Backend backend([](int fd) {
    std::string buf;
    Message req;
    const auto deadline = Clock::now() + 10s;
    if (!read_head(fd, buf, req, deadline)) return;
    send_all(fd, ok_response("ok"));
    ::shutdown(fd, SHUT_WR);
    closed_by_peer(fd, 10s);
  });
  route("posts.com");
  endpoints("posts-srv", {backend.endpoint()});
  start();
  // Concurrent requests, so that several upstream connections end up in the pool.
  std::vector<int> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(connect_to(http_));
  for (int fd : clients) ASSERT_TRUE(send_all(fd, get("posts.com")));
  for (int fd : clients) {
    std::string buf;
    auto r = read_response(fd, buf);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status(), 200);
    ::close(fd);
  }
  EXPECT_GE(backend.accepted.load(), 1);
  EXPECT_TRUE(wait_for([&] { return sockets_to(backend.port, "08") == 0; }, 5s))
      << sockets_to(backend.port, "08") << " upstream connections left in CLOSE-WAIT";
  // The pool still works: a new request gets a fresh connection.
  auto r = roundtrip(http_, get("posts.com"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status(), 200);
}

// Many keep-alive clients at once; every response must be a 200 "ok".
int load(uint16_t port, int clients, int per_client) {
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      const int fd = connect_to(port);
      if (fd < 0) return;
      std::string buf;
      for (int i = 0; i < per_client; ++i) {
        if (!send_all(fd, get("posts.com"))) break;
        auto r = read_response(fd, buf);
        if (!r || r->status() != 200 || r->body != "ok") break;
        ++good;
      }
      ::close(fd);
    });
  }
  for (auto& t : threads) t.join();
  return good;
}

class AccessLogProxyTest : public IngressProxyTest {
 protected:
  std::filesystem::path dir_ = std::filesystem::temp_directory_path() /
                               ("ticketctl-proxy-log-" + std::to_string(::getpid()));
  void SetUp() override {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    IngressProxyTest::TearDown();
    std::filesystem::remove_all(dir_);
  }
};

TEST_F(AccessLogProxyTest, OneLinePerRequestUnderLoadNothingLostAtStop) {
  Backend backend([](int fd) { serve_http(fd, [](const Message&) { return ok_response("ok"); }); });
  route("posts.com");
  endpoints("posts-srv", {backend.endpoint()});
  daemon::AccessLogOptions opt;
  opt.file = dir_ / "access.log";
  daemon::AccessLog log(opt);
  log.start();
  access_log_ = [&log](const AccessLogEntry& e) { log.write(e); };
  start();
  constexpr int kClients = 8, kEach = 250;
  EXPECT_EQ(load(http_, kClients, kEach), kClients * kEach);
  proxy_->stop();  // as the control plane stops: the proxy, then the log
  log.stop();
  std::ifstream in(opt.file);
  std::set<std::string> ids;
  int lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["status"], 200);
    EXPECT_EQ(j["host"], "posts.com");
    ids.insert(j["request_id"].get<std::string>());
  }
  EXPECT_EQ(lines, kClients * kEach);
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kClients * kEach));
}

TEST_F(AccessLogProxyTest, UnwritableLogChangesNoResponse) {
  Backend backend([](int fd) { serve_http(fd, [](const Message&) { return ok_response("ok"); }); });
  route("posts.com");
  endpoints("posts-srv", {backend.endpoint()});
  daemon::AccessLogOptions opt;
  opt.file = dir_ / "access.log";
  // Every write fails with ENOSPC, as on a full disk.
  opt.open = [](const std::filesystem::path&) { return ::open("/dev/full", O_WRONLY | O_CLOEXEC); };
  opt.max_pending_bytes = 16 * 1024;  // and the buffers fill up, so lines are refused too
  daemon::AccessLog log(opt);
  log.start();
  access_log_ = [&log](const AccessLogEntry& e) { log.write(e); };
  start();
  constexpr int kClients = 4, kEach = 250;
  EXPECT_EQ(load(http_, kClients, kEach), kClients * kEach);
  proxy_->stop();
  log.stop();
  EXPECT_EQ(log.lines_dropped(), static_cast<uint64_t>(kClients * kEach));
}

}  // namespace
}  // namespace ticketctl::ingress
