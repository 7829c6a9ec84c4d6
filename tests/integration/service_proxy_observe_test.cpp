// The L4 relay's observing mode (the traffic tap) over real loopback sockets: every byte still
// arrives unchanged at both ends, and the observer hears each HTTP/1.1 exchange (keep-alive,
// pipelined, chunked, HEAD/204/304, 100 Continue, a response ending at close, Upgrade), or a
// non-HTTP connection as a connection.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "runtime/net/service_proxy.h"
#include "tests/support/eventually.h"

namespace ticketctl::net {
namespace {

using namespace std::chrono_literals;

constexpr const char* kServiceIp = "127.96.0.2";
constexpr const char* kKey = "svc/default/web/80";

sockaddr_in v4(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

void set_timeouts(int fd) {
  const timeval limit{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string recv_n(int fd, size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::recv(fd, out.data() + got, n - got, 0);
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  out.resize(got);
  return out;
}

std::string recv_to_eof(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r <= 0) return out;
    out.append(buf, static_cast<size_t>(r));
  }
}

// One step of a conversation: the client sends `ask`, the backend reads exactly that many bytes
// and answers `answer`.
struct Step {
  std::string ask, answer;
};

// A backend that plays `steps` on its first connection, then closes when `close_after` (a
// response ending at close) or after the client's FIN; it records every byte it received.
class ScriptedBackend {
 public:
  ScriptedBackend(std::vector<Step> steps, bool close_after = false) : steps_(std::move(steps)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = v4("127.0.0.1", 0);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, close_after] {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      set_timeouts(c);
      for (const Step& s : steps_) {
        received_ += recv_n(c, s.ask.size());
        if (!send_all(c, s.answer)) break;
      }
      if (!close_after) received_ += recv_to_eof(c);
      ::close(c);
    });
  }
  ~ScriptedBackend() {
    ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  Backend backend() const { return Backend{"127.0.0.1", port_, "default/web-1"}; }
  // After the connection ended.
  std::string received() {
    if (thread_.joinable()) thread_.join();
    return received_;
  }

 private:
  std::vector<Step> steps_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::string received_;
  std::thread thread_;
};

// Collects what the proxy reports.
struct Reports {
  std::mutex mu;
  std::vector<ObservedExchange> seen;
  std::atomic<bool> bodies{true};

  ExchangeObserver observer() {
    ExchangeObserver o;
    o.report = [this](ObservedExchange&& e) {
      std::lock_guard lock(mu);
      seen.push_back(std::move(e));
    };
    o.want_bodies = [this] { return bodies.load(); };
    o.body_limit = 1024;
    return o;
  }
  std::vector<ObservedExchange> wait_for(size_t n) {
    EXPECT_TRUE(testing::eventually(
        [&] {
          std::lock_guard lock(mu);
          return seen.size() >= n;
        },
        10s, 1ms))
        << "reports expected: " << n;
    std::lock_guard lock(mu);
    return seen;
  }
};

// The client side of a conversation through the proxy: sends each step's ask and reads its
// answer; returns every byte it received (and what follows until EOF when `to_eof`).
std::string converse(uint16_t port, const std::vector<Step>& steps, bool to_eof = true) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  set_timeouts(fd);
  sockaddr_in dst = v4(kServiceIp, port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
    ::close(fd);
    return "connect failed";
  }
  std::string got;
  for (const Step& s : steps) {
    EXPECT_TRUE(send_all(fd, s.ask));
    got += recv_n(fd, s.answer.size());
  }
  ::shutdown(fd, SHUT_WR);
  if (to_eof) got += recv_to_eof(fd);
  ::close(fd);
  return got;
}

std::string joined(const std::vector<Step>& steps, bool asks) {
  std::string out;
  for (const Step& s : steps) out += asks ? s.ask : s.answer;
  return out;
}

std::string random_bytes(size_t n, unsigned seed) {
  std::string out(n, '\0');
  std::mt19937 rng(seed);
  for (char& ch : out) ch = static_cast<char>(rng());
  return out;
}

struct Observed : ::testing::Test {
  Reports reports;
  ServiceProxy proxy;
  uint16_t listen_on(const ScriptedBackend& b, bool observe = true) {
    proxy.set_observer(reports.observer());
    auto port = proxy.listen(kKey, {kServiceIp, 0}, {b.backend()}, Affinity::None,
                             {observe, "default/web"});
    EXPECT_TRUE(port.ok());
    return port.ok() ? port.value() : 0;
  }
  // Runs `steps` through an observed listener; checks both ends got exactly what was sent.
  std::vector<ObservedExchange> run(const std::vector<Step>& steps, size_t reports_expected,
                                    bool close_after = false) {
    ScriptedBackend backend(steps, close_after);
    const uint16_t port = listen_on(backend);
    const std::string client_got = converse(port, steps);
    EXPECT_TRUE(client_got == joined(steps, false))
        << "client received " << client_got.size() << " bytes, sent "
        << joined(steps, false).size();
    const std::string backend_got = backend.received();
    EXPECT_TRUE(backend_got == joined(steps, true))
        << "backend received " << backend_got.size() << " bytes";
    return reports.wait_for(reports_expected);
  }
};

TEST_F(Observed, KeepAliveExchangesInOrderWithBodies) {
  const std::string post_body = R"({"type":"PostCreated","data":{"id":"1"}})";
  const std::vector<Step> steps = {
      {"GET /posts HTTP/1.1\r\nHost: posts-srv:4000\r\nAuthorization: Bearer x\r\n\r\n",
       "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"},
      {"POST /events HTTP/1.1\r\nHost: event-bus-srv:4005\r\nContent-Type: application/json\r\n"
       "Content-Length: " +
           std::to_string(post_body.size()) + "\r\n\r\n" + post_body,
       "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n"
       "2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n"},
  };
  auto seen = run(steps, 2);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen[0].http);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].path, "/posts");
  EXPECT_EQ(seen[0].host, "posts-srv:4000");
  EXPECT_EQ(seen[0].status, 200);
  EXPECT_EQ(seen[0].request_bytes, steps[0].ask.size());
  EXPECT_EQ(seen[0].response_bytes, steps[0].answer.size());
  EXPECT_EQ(seen[0].response_body, "hello");
  EXPECT_EQ(seen[0].tag, "default/web");
  EXPECT_EQ(seen[0].listener, kKey);
  EXPECT_EQ(seen[0].client_ip, "127.0.0.1");
  EXPECT_NE(seen[0].client_port, 0);
  EXPECT_EQ(seen[0].backend_ip, "127.0.0.1");
  EXPECT_GE(seen[0].latency_ms, 0.0);
  ASSERT_GE(seen[0].request_headers.size(), 2u);
  EXPECT_EQ(seen[0].request_headers[1], (std::pair<std::string, std::string>{"Authorization",
                                                                              "Bearer x"}));
  EXPECT_EQ(seen[1].method, "POST");
  EXPECT_EQ(seen[1].path, "/events");
  EXPECT_EQ(seen[1].status, 201);
  EXPECT_EQ(seen[1].request_body, post_body);
  EXPECT_EQ(seen[1].response_body, "abcde");  // chunks decoded
  EXPECT_EQ(seen[1].request_bytes, steps[1].ask.size());
  EXPECT_EQ(seen[1].response_bytes, steps[1].answer.size());
  EXPECT_EQ(proxy.stats(kKey)->observed, 1u);
}

TEST_F(Observed, PipelinedRequestsMatchTheirResponsesHeadAnd204And304WithoutBodies) {
  const std::string asks =
      "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
      "HEAD /two HTTP/1.1\r\nHost: a\r\n\r\n"
      "DELETE /three HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /four HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"x\"\r\n\r\n"
      "PUT /five HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwxyz\r\n0\r\n\r\n";
  const std::string answers =
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"  // HEAD: the length of what GET sends
      "HTTP/1.1 204 No Content\r\n\r\n"
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfive";
  auto seen = run({{asks, answers}}, 5);
  ASSERT_EQ(seen.size(), 5u);
  const char* paths[] = {"/one", "/two", "/three", "/four", "/five"};
  const int statuses[] = {200, 200, 204, 304, 200};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(seen[i].path, paths[i]);
    EXPECT_EQ(seen[i].status, statuses[i]) << paths[i];
  }
  EXPECT_EQ(seen[0].response_body, "one");
  EXPECT_EQ(seen[1].response_body, "");
  EXPECT_EQ(seen[4].request_body, "wxyz");
  EXPECT_EQ(seen[4].response_body, "five");
}

TEST_F(Observed, BodiesAreCutAtOneKibAndKeptOnlyWhenWanted) {
  const std::string big(5000, 'b');
  const std::string ask = "POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n" + big;
  const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + big;
  auto seen = run({{ask, answer}, {ask, answer}}, 2);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].request_body, big.substr(0, 1024));
  EXPECT_EQ(seen[0].response_body, big.substr(0, 1024));
  EXPECT_EQ(seen[0].request_bytes, ask.size());

  reports.bodies = false;
  {
    std::lock_guard lock(reports.mu);
    reports.seen.clear();
  }
  seen = run({{ask, answer}}, 1);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].status, 200);
  EXPECT_EQ(seen[0].request_body, "");
  EXPECT_EQ(seen[0].response_body, "");
}

// Large bodies: past the first KiB the relay splices a Content-Length body's middle past the
// parser; what follows on the connection is still parsed in step.
TEST_F(Observed, LargeBodiesKeepTheParserInStepAndTheBytesIdentical) {
  const std::string up = random_bytes(3 << 20, 11), down = random_bytes(2 << 20, 12);
  std::string chunked;
  const std::string piece = random_bytes(300000, 13);
  for (int i = 0; i < 4; ++i) chunked += "493e0\r\n" + piece + "\r\n";
  chunked += "0\r\n\r\n";
  const std::vector<Step> steps = {
      {"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(up.size()) +
           "\r\n\r\n" + up,
       "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(down.size()) + "\r\n\r\n" + down},
      {"GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked},
      {"GET /next HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 204 No Content\r\n\r\n"},
  };
  auto seen = run(steps, 3);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].request_bytes, steps[0].ask.size());
  EXPECT_EQ(seen[0].response_bytes, steps[0].answer.size());
  EXPECT_EQ(seen[0].request_body, up.substr(0, 1024));
  EXPECT_EQ(seen[0].response_body, down.substr(0, 1024));
  EXPECT_EQ(seen[1].response_bytes, steps[1].answer.size());
  EXPECT_EQ(seen[1].response_body, piece.substr(0, 1024));
  EXPECT_EQ(seen[2].path, "/next");
  EXPECT_EQ(seen[2].status, 204);
}

TEST_F(Observed, InterimContinueAndAResponseThatEndsAtClose) {
  const std::vector<Step> steps = {
      {"POST /upload HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
       "HTTP/1.1 100 Continue\r\n\r\n"},
      {"hi", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end"},
  };
  auto seen = run(steps, 1, /*close_after=*/true);
  ASSERT_EQ(seen.size(), 1u);  // the 100 Continue is part of the exchange, not one of its own
  EXPECT_EQ(seen[0].status, 200);
  EXPECT_EQ(seen[0].request_body, "hi");
  EXPECT_EQ(seen[0].response_body, "until the end");
  EXPECT_EQ(seen[0].response_bytes, steps[0].answer.size() + steps[1].answer.size());
}

TEST_F(Observed, UpgradeThenOnlyBytesAreCounted) {
  const std::string frames_up = random_bytes(70000, 1), frames_down = random_bytes(90000, 2);
  const std::vector<Step> steps = {
      {"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"},
      {frames_up, frames_down},
  };
  auto seen = run(steps, 2);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen[0].http);
  EXPECT_EQ(seen[0].status, 101);
  EXPECT_EQ(seen[0].path, "/ws");
  EXPECT_FALSE(seen[1].http);
  EXPECT_EQ(seen[1].request_bytes, frames_up.size());
  EXPECT_EQ(seen[1].response_bytes, frames_down.size());
}

TEST_F(Observed, NonHttpIsAConnectionWithItsBytes) {
  const std::string up = random_bytes(300000, 3), down = random_bytes(200000, 4);
  auto seen = run({{"\x16\x03\x01" + up, down}}, 1);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_FALSE(seen[0].http);
  EXPECT_EQ(seen[0].request_bytes, up.size() + 3);
  EXPECT_EQ(seen[0].response_bytes, down.size());
  EXPECT_GE(seen[0].latency_ms, 0.0);
  EXPECT_EQ(seen[0].method, "");
}

TEST_F(Observed, GarbageMidStreamKeepsTheRelayByteForByte) {
  const std::string junk = "\x01\x02 not http at all\r\n\r\n" + random_bytes(40000, 5);
  const std::vector<Step> steps = {
      {"GET /ok HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
      {junk, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" + random_bytes(1000, 6)},
      {"GET /after HTTP/1.1\r\n\r\n", "more bytes"},
  };
  auto seen = run(steps, 2);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].path, "/ok");
  EXPECT_EQ(seen[0].status, 200);
  EXPECT_FALSE(seen[1].http);
  EXPECT_EQ(seen[1].request_bytes, junk.size() + steps[2].ask.size());
  EXPECT_EQ(seen[1].response_bytes, steps[1].answer.size() + steps[2].answer.size());
}

TEST_F(Observed, ARequestWithoutResponseIsReportedWithStatusZero) {
  const std::vector<Step> steps = {{"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n", ""}};
  auto seen = run(steps, 1);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].path, "/slow");
  EXPECT_EQ(seen[0].status, 0);
}

TEST_F(Observed, TheModeChangesForNewConnectionsOnly) {
  const std::vector<Step> steps = {
      {"GET /x HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}};
  ScriptedBackend plain(steps);
  const uint16_t port = listen_on(plain, /*observe=*/false);
  EXPECT_EQ(converse(port, steps), joined(steps, false));
  EXPECT_EQ(plain.received(), joined(steps, true));
  EXPECT_EQ(proxy.stats(kKey)->observed, 0u);

  ScriptedBackend observed(steps);
  proxy.set_backends(kKey, {observed.backend()});
  ASSERT_EQ(listen_on(observed, /*observe=*/true), port);  // same listener, no rebind
  EXPECT_EQ(converse(port, steps), joined(steps, false));
  auto seen = reports.wait_for(1);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].path, "/x");
  EXPECT_EQ(proxy.stats(kKey)->observed, 1u);
}

}  // namespace
}  // namespace ticketctl::net
