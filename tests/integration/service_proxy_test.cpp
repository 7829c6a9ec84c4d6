// The L4 service proxy over real loopback sockets: backends on 127.0.0.1 port 0, the proxy on a
// Service-like address (127.96.0.1) port 0, clients bound to other 127/8 addresses where the
// source IP matters.

#include "runtime/net/service_proxy.h"
#include "tests/support/eventually.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace ticketctl::net {
namespace {

using namespace std::chrono_literals;

constexpr const char* kServiceIp = "127.96.0.1";

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    reset();
    fd_ = std::exchange(o.fd_, -1);
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

sockaddr_in v4(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

uint16_t local_port(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// A port nothing listens on: bound, then closed again (connects to it are refused).
uint16_t dead_port() {
  Fd fd(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in a = v4("127.0.0.1", 0);
  ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  return local_port(fd.get());
}

// A blocking client socket (with 10 s timeouts so a bug fails the test instead of hanging it),
// optionally bound to `from` so the proxy sees that source IP. Invalid Fd when connect fails; errno
// tells why.
Fd dial(uint16_t port, const std::string& from = "", const std::string& ip = kServiceIp) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const timeval limit{10, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  if (!from.empty()) {
    sockaddr_in src = v4(from, 0);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) return Fd();
  }
  sockaddr_in dst = v4(ip, port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
    const int err = errno;
    fd.reset();
    errno = err;
  }
  return fd;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads exactly n bytes, or what came before EOF/error.
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
  char buf[4096];
  for (;;) {
    ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r <= 0) return out;
    out.append(buf, static_cast<size_t>(r));
  }
}

// These tests' patience; the polling is tests/support/eventually.h's, every 1 ms (counters).
bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 10s) {
  return testing::eventually(cond, timeout, 1ms);
}

// A backend on 127.0.0.1, port 0, served by one epoll thread.
//   Echo:       echoes; closes after the client's FIN once everything is echoed.
//   Greet:      sends "<name>\n" on accept, then echoes (tells the client which backend it
//   reached). ReplyAtEof: collects until the client's FIN, then sends "got:<bytes>" and closes.
class TestServer {
 public:
  enum class Mode { Echo, Greet, ReplyAtEof };

  explicit TestServer(std::string name, Mode mode = Mode::Echo)
      : name_(std::move(name)), mode_(mode) {
    listen_fd_ = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_in a = v4("127.0.0.1", 0);
    EXPECT_EQ(::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(listen_fd_.get(), 4096), 0);
    port_ = local_port(listen_fd_.get());
    epfd_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
    stop_ = Fd(::eventfd(0, EFD_CLOEXEC));
    watch(listen_fd_.get(), EPOLLIN, EPOLL_CTL_ADD);
    watch(stop_.get(), EPOLLIN, EPOLL_CTL_ADD);
    thread_ = std::thread([this] { run(); });
  }
  ~TestServer() {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_.get(), &one, sizeof one);
    thread_.join();
    for (auto& [fd, c] : conns_) ::close(fd);
  }

  uint16_t port() const { return port_; }
  Backend backend() const { return Backend{"127.0.0.1", port_, "default/" + name_}; }
  int accepted() const { return accepted_.load(); }
  // Stops accepting: later connects are refused, as for a pod that died. (shutdown() on a
  // listening socket returns it to CLOSE; the descriptor stays valid for the server thread.)
  void stop_listening() { ::shutdown(listen_fd_.get(), SHUT_RDWR); }

 private:
  struct Conn {
    std::string in, out;
    bool eof = false;
  };

  void watch(int fd, uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    ::epoll_ctl(epfd_.get(), op, fd, &ev);
  }

  void run() {
    epoll_event events[64];
    for (;;) {
      const int n = ::epoll_wait(epfd_.get(), events, 64, -1);
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == stop_.get()) return;
        if (fd == listen_fd_.get()) {
          accept_all();
        } else {
          serve(fd);
        }
      }
    }
  }

  void accept_all() {
    for (;;) {
      int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno != EAGAIN) ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, listen_fd_.get(), nullptr);
        return;
      }
      accepted_.fetch_add(1);
      Conn& c = conns_[fd];
      if (mode_ == Mode::Greet) c.out = name_ + "\n";
      watch(fd, EPOLLIN | (c.out.empty() ? 0u : uint32_t{EPOLLOUT}), EPOLL_CTL_ADD);
    }
  }

  void serve(int fd) {
    Conn& c = conns_[fd];
    char buf[65536];
    while (!c.eof) {
      ssize_t r = ::recv(fd, buf, sizeof buf, 0);
      if (r > 0) {
        (mode_ == Mode::ReplyAtEof ? c.in : c.out).append(buf, static_cast<size_t>(r));
        if (c.out.size() > (1 << 20)) break;  // let the client read before reading more
      } else if (r == 0) {
        c.eof = true;
        if (mode_ == Mode::ReplyAtEof) c.out = "got:" + c.in;
      } else if (errno == EAGAIN) {
        break;
      } else {
        drop(fd);
        return;
      }
    }
    while (!c.out.empty()) {
      ssize_t w = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (w > 0) {
        c.out.erase(0, static_cast<size_t>(w));
      } else if (errno == EAGAIN) {
        break;
      } else {
        drop(fd);
        return;
      }
    }
    if (c.eof && c.out.empty()) {
      drop(fd);
      return;
    }
    watch(fd, (c.eof ? 0u : uint32_t{EPOLLIN}) | (c.out.empty() ? 0u : uint32_t{EPOLLOUT}),
          EPOLL_CTL_MOD);
  }

  void drop(int fd) {
    ::close(fd);
    conns_.erase(fd);
  }

  std::string name_;
  Mode mode_;
  Fd listen_fd_, epfd_, stop_;
  uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::map<int, Conn> conns_;  // server thread only
  std::thread thread_;
};

// Which backend a Greet connection reached.
std::string greeting(int fd) {
  std::string name;
  char ch;
  while (::recv(fd, &ch, 1, 0) == 1 && ch != '\n') name += ch;
  return name;
}

std::string reached(uint16_t port, const std::string& from = "") {
  Fd fd = dial(port, from);
  if (!fd.valid()) return "connect failed: " + std::string(std::strerror(errno));
  return greeting(fd.get());
}

Result<uint16_t> listen_svc(ServiceProxy& proxy, Backends backends,
                            Affinity affinity = Affinity::None) {
  return proxy.listen("svc/default/test/80", {kServiceIp, 0}, std::move(backends), affinity);
}

TEST(ServiceProxy, RelaysBytesBothWays) {
  TestServer echo("echo");
  ServiceProxy proxy;
  auto port = listen_svc(proxy, {echo.backend()});
  ASSERT_TRUE(port) << port.error().message;

  Fd fd = dial(port.value());
  ASSERT_TRUE(fd.valid());
  std::string payload(4 << 20, '\0');
  std::mt19937 rng(7);
  for (char& ch : payload) ch = static_cast<char>(rng());
  std::thread writer([&] { EXPECT_TRUE(send_all(fd.get(), payload)); });
  const std::string echoed = recv_n(fd.get(), payload.size());
  writer.join();
  EXPECT_TRUE(echoed == payload) << "echoed " << echoed.size() << " of " << payload.size();

  ::shutdown(fd.get(), SHUT_WR);
  EXPECT_EQ(recv_to_eof(fd.get()), "");  // the backend's FIN arrives after ours
  fd.reset();
  ASSERT_TRUE(wait_until([&] { return proxy.stats("svc/default/test/80")->active == 0; }));
  const ListenerStats s = *proxy.stats("svc/default/test/80");
  EXPECT_EQ(s.accepted, 1u);
  EXPECT_EQ(s.bytes_to_backend, payload.size());
  EXPECT_EQ(s.bytes_to_client, payload.size());
}

TEST(ServiceProxy, RoundRobinAcrossThreeBackends) {
  TestServer a("a", TestServer::Mode::Greet), b("b", TestServer::Mode::Greet),
      c("c", TestServer::Mode::Greet);
  ServiceProxy proxy;
  auto port = listen_svc(proxy, {a.backend(), b.backend(), c.backend()});
  ASSERT_TRUE(port);

  std::vector<std::string> order;
  for (int i = 0; i < 9; ++i) order.push_back(reached(port.value()));
  std::map<std::string, int> count;
  for (const auto& name : order) count[name]++;
  EXPECT_EQ(count, (std::map<std::string, int>{{"a", 3}, {"b", 3}, {"c", 3}}));
  for (size_t i = 3; i < order.size(); ++i) EXPECT_EQ(order[i], order[i - 3]) << "not a cycle";
}

TEST(ServiceProxy, ClientIpAffinityKeepsEachClientOnOneBackend) {
  TestServer a("a", TestServer::Mode::Greet), b("b", TestServer::Mode::Greet),
      c("c", TestServer::Mode::Greet);
  ServiceProxy proxy;
  auto port = listen_svc(proxy, {a.backend(), b.backend(), c.backend()}, Affinity::ClientIP);
  ASSERT_TRUE(port);

  const std::string first2 = reached(port.value(), "127.0.0.2");
  const std::string first3 = reached(port.value(), "127.0.0.3");
  EXPECT_NE(first2, first3);  // new clients still spread round-robin
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(reached(port.value(), "127.0.0.2"), first2);
    EXPECT_EQ(reached(port.value(), "127.0.0.3"), first3);
  }

  // The sticky backend leaves the list: the client moves once, then sticks to its new backend.
  Backends without_first2;
  for (const TestServer* s : {&a, &b, &c}) {
    if (s->backend().pod != "default/" + first2) without_first2.push_back(s->backend());
  }
  proxy.set_backends("svc/default/test/80", without_first2);
  const std::string moved = reached(port.value(), "127.0.0.2");
  EXPECT_NE(moved, first2);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(reached(port.value(), "127.0.0.2"), moved);
}

TEST(ServiceProxy, WithoutAffinitySameClientRotates) {
  TestServer a("a", TestServer::Mode::Greet), b("b", TestServer::Mode::Greet);
  ServiceProxy proxy;
  auto port = listen_svc(proxy, {a.backend(), b.backend()});
  ASSERT_TRUE(port);
  EXPECT_NE(reached(port.value(), "127.0.0.2"), reached(port.value(), "127.0.0.2"));
}

TEST(ServiceProxy, SetBackendsAppliesToTheNextConnection) {
  TestServer a("a", TestServer::Mode::Greet), b("b", TestServer::Mode::Greet);
  ServiceProxy proxy;
  auto port = listen_svc(proxy, {a.backend()});
  ASSERT_TRUE(port);

  Fd old = dial(port.value());
  ASSERT_EQ(greeting(old.get()), "a");
  proxy.set_backends("svc/default/test/80", {b.backend()});
  EXPECT_EQ(reached(port.value()), "b");
  EXPECT_EQ(reached(port.value()), "b");
  // The connection made before the update still talks to its backend.
  ASSERT_TRUE(send_all(old.get(), "still here"));
  EXPECT_EQ(recv_n(old.get(), 10), "still here");
}

TEST(ServiceProxy, ListenAgainOnSameAddressOnlySwapsBackends) {
  TestServer a("a", TestServer::Mode::Greet), b("b", TestServer::Mode::Greet);
  ServiceProxy proxy;
  auto port = proxy.listen("nodeport/31515", {"127.0.0.1", 0}, {a.backend()});
  ASSERT_TRUE(port);
  Fd old = dial(port.value(), "", "127.0.0.1");
  ASSERT_EQ(greeting(old.get()), "a");

  auto again = proxy.listen("nodeport/31515", {"127.0.0.1", port.value()}, {b.backend()});
  ASSERT_TRUE(again);
  EXPECT_EQ(again.value(), port.value());
  Fd fresh = dial(port.value(), "", "127.0.0.1");
  EXPECT_EQ(greeting(fresh.get()), "b");
  ASSERT_TRUE(send_all(old.get(), "x"));
  EXPECT_EQ(recv_n(old.get(), 1), "x");

  // A different address rebinds; the old one stops accepting.
  auto moved = proxy.listen("nodeport/31515", {"127.0.0.5", 0}, {b.backend()});
  ASSERT_TRUE(moved);
  EXPECT_EQ(greeting(dial(moved.value(), "", "127.0.0.5").get()), "b");
  EXPECT_FALSE(dial(port.value(), "", "127.0.0.1").valid());
  EXPECT_EQ(errno, ECONNREFUSED);
}

TEST(ServiceProxy, ListenErrors) {
  ServiceProxy proxy;
  auto bad = proxy.listen("pf/1", {"not-an-ip", 0}, {});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::Invalid);

  auto first = proxy.listen("pf/1", {"127.0.0.1", 0}, {});
  ASSERT_TRUE(first);
  auto taken = proxy.listen("pf/2", {"127.0.0.1", first.value()}, {});
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, ErrorCode::AlreadyExists) << taken.error().message;
  EXPECT_EQ(proxy.keys(), std::vector<std::string>{"pf/1"});
}

// The client's connect succeeds (the kernel finishes the handshake before the proxy sees the
// connection); its first read fails with ECONNRESET because the proxy answers with RST.
void expect_reset(int fd) {
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10000), 1) << "no reset within 10 s";
  char ch;
  EXPECT_EQ(::recv(fd, &ch, 1, 0), -1);
  EXPECT_EQ(errno, ECONNRESET);
}

TEST(ServiceProxy, NoBackendsResetsTheClientAtOnce) {
  ServiceProxy proxy;
  auto port = listen_svc(proxy, {});
  ASSERT_TRUE(port);
  Fd fd = dial(port.value());
  ASSERT_TRUE(fd.valid());
  expect_reset(fd.get());
  EXPECT_EQ(proxy.stats("svc/default/test/80")->refused, 1u);

  // An endpoint becoming ready makes the same listener work.
  TestServer a("a", TestServer::Mode::Greet);
  proxy.set_backends("svc/default/test/80", {a.backend()});
  EXPECT_EQ(reached(port.value()), "a");
}

TEST(ServiceProxy, DeadBackendIsSkipped) {
  TestServer a("a", TestServer::Mode::Greet), c("c", TestServer::Mode::Greet);
  ServiceProxy proxy;
  auto port =
      listen_svc(proxy, {a.backend(), {"127.0.0.1", dead_port(), "default/b"}, c.backend()});
  ASSERT_TRUE(port);
  std::map<std::string, int> count;
  for (int i = 0; i < 9; ++i) count[reached(port.value())]++;
  // Turns: a, dead→c, c, a, dead→c, c, ...: the dead backend's turns go to the next one.
  EXPECT_EQ(count, (std::map<std::string, int>{{"a", 3}, {"c", 6}}));
}

TEST(ServiceProxy, AllBackendsDeadResetsTheClient) {
  ServiceProxy proxy;
  auto port = listen_svc(
      proxy, {{"127.0.0.1", dead_port(), "default/x"}, {"127.0.0.1", dead_port(), "default/y"}});
  ASSERT_TRUE(port);
  Fd fd = dial(port.value());
  ASSERT_TRUE(fd.valid());
  expect_reset(fd.get());
  EXPECT_EQ(proxy.stats("svc/default/test/80")->refused, 1u);
}

TEST(ServiceProxy, BackendThatStopsListeningIsSkipped) {
  TestServer a("a", TestServer::Mode::Greet), b("b", TestServer::Mode::Greet);
  ServiceProxy proxy;
  auto port = listen_svc(proxy, {a.backend(), b.backend()});
  ASSERT_TRUE(port);
  b.stop_listening();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(reached(port.value()), "a");
}

TEST(ServiceProxy, HalfCloseIsRelayed) {
  TestServer server("s", TestServer::Mode::ReplyAtEof);
  ServiceProxy proxy;
  auto port = listen_svc(proxy, {server.backend()});
  ASSERT_TRUE(port);
  Fd fd = dial(port.value());
  ASSERT_TRUE(send_all(fd.get(), "hello"));
  ASSERT_EQ(::shutdown(fd.get(), SHUT_WR), 0);
  // The server replies only after it read our FIN through the proxy; the reply still comes back.
  EXPECT_EQ(recv_to_eof(fd.get()), "got:hello");
}

TEST(ServiceProxy, CloseStopsAcceptingAndLetsConnectionsFinish) {
  TestServer echo("echo");
  ServiceProxy proxy;
  auto port = listen_svc(proxy, {echo.backend()});
  ASSERT_TRUE(port);
  Fd open = dial(port.value());
  ASSERT_TRUE(send_all(open.get(), "ping"));
  ASSERT_EQ(recv_n(open.get(), 4), "ping");

  proxy.close("svc/default/test/80");
  EXPECT_FALSE(proxy.stats("svc/default/test/80"));
  EXPECT_FALSE(dial(port.value()).valid());
  EXPECT_EQ(errno, ECONNREFUSED);
  ASSERT_TRUE(send_all(open.get(), "pong"));
  EXPECT_EQ(recv_n(open.get(), 4), "pong");
}

TEST(ServiceProxy, ResetByBackendReachesTheClient) {
  // A backend that resets right after accepting, like a crashing pod.
  Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a = v4("127.0.0.1", 0);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(listener.get(), 16), 0);
  ServiceProxy proxy;
  auto port = listen_svc(proxy, {{"127.0.0.1", local_port(listener.get()), "default/crash"}});
  ASSERT_TRUE(port);
  Fd client = dial(port.value());
  ASSERT_TRUE(client.valid());
  {
    Fd accepted(::accept(listener.get(), nullptr, nullptr));
    ASSERT_TRUE(accepted.valid());
    const linger hard{1, 0};
    ::setsockopt(accepted.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  }
  expect_reset(client.get());
}

// Without descriptors to spare for pipes the proxy copies through a buffer instead of splice().
TEST(ServiceProxy, RelaysWithoutPipesWhenOutOfDescriptors) {
#ifdef __SANITIZE_ADDRESS__
  // The sanitizers probe memory through a pipe of their own (UBSan's vptr check does); with no
  // descriptor to spare they report false errors.
  GTEST_SKIP() << "needs a process whose descriptors are all its own";
#endif
  ServiceProxy proxy;  // raises the soft limit first; we lower it below
  Fd backend_listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a = v4("127.0.0.1", 0);
  ASSERT_EQ(::bind(backend_listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(backend_listener.get(), 16), 0);  // the kernel completes the handshake
  auto port = listen_svc(proxy, {{"127.0.0.1", local_port(backend_listener.get()), "default/b"}});
  ASSERT_TRUE(port);
  // Leave exactly three descriptor numbers free: the client socket, the proxy's accepted socket
  // and its backend socket. The two pipes then fail with EMFILE.
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit tight = saved;
  int free_slots = 0;
  for (tight.rlim_cur = 0; free_slots < 3; ++tight.rlim_cur) {
    if (::fcntl(static_cast<int>(tight.rlim_cur), F_GETFD) == -1) ++free_slots;
  }
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  Fd client = dial(port.value());
  const bool sent = client.valid() && send_all(client.get(), "hello");
  const bool relayed =
      wait_until([&] { return proxy.stats("svc/default/test/80")->bytes_to_backend == 5; });
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_TRUE(sent);
  ASSERT_TRUE(relayed);

  Fd server(::accept(backend_listener.get(), nullptr, nullptr));
  ASSERT_TRUE(server.valid());
  EXPECT_EQ(recv_n(server.get(), 5), "hello");
  ASSERT_TRUE(send_all(server.get(), "world"));
  EXPECT_EQ(recv_n(client.get(), 5), "world");
  ::shutdown(client.get(), SHUT_WR);
  EXPECT_EQ(recv_to_eof(server.get()), "");
  server.reset();
  EXPECT_EQ(recv_to_eof(client.get()), "");
}

TEST(ServiceProxy, ThousandConcurrentConnections) {
  constexpr int kConnections = 1000;
  TestServer echo("echo");
  ServiceProxy proxy(2);
  auto port = listen_svc(proxy, {echo.backend()});
  ASSERT_TRUE(port);

  std::vector<Fd> clients;
  clients.reserve(kConnections);
  for (int i = 0; i < kConnections; ++i) {
    clients.push_back(dial(port.value()));
    ASSERT_TRUE(clients.back().valid()) << "connection " << i << ": " << std::strerror(errno);
  }
  for (int i = 0; i < kConnections; ++i) {
    ASSERT_TRUE(send_all(clients[i].get(), "message " + std::to_string(i) + ";"));
  }
  for (int i = 0; i < kConnections; ++i) {
    const std::string expected = "message " + std::to_string(i) + ";";
    ASSERT_EQ(recv_n(clients[i].get(), expected.size()), expected) << "connection " << i;
  }
  EXPECT_EQ(proxy.stats("svc/default/test/80")->active, static_cast<uint64_t>(kConnections));
  EXPECT_EQ(echo.accepted(), kConnections);
  clients.clear();
  EXPECT_TRUE(wait_until([&] { return proxy.stats("svc/default/test/80")->active == 0; }));
  EXPECT_EQ(proxy.stats("svc/default/test/80")->refused, 0u);
}

TEST(ServiceProxy, CallableFromManyThreads) {
  TestServer a("a", TestServer::Mode::Greet), b("b", TestServer::Mode::Greet);
  ServiceProxy proxy(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const std::string key = "pf/" + std::to_string(t);
      for (int i = 0; i < 20; ++i) {
        auto port = proxy.listen(key, {"127.0.0.1", 0}, {a.backend()});
        ASSERT_TRUE(port);
        proxy.set_backends(key, {b.backend()});
        EXPECT_EQ(greeting(dial(port.value(), "", "127.0.0.1").get()), "b");
        proxy.close(key);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(proxy.keys().empty());
}

}  // namespace
}  // namespace ticketctl::net
