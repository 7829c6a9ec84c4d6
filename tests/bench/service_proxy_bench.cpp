// Service proxy figures, direct vs through the proxy, on loopback:
//   1. bulk throughput (default 1 GiB, one connection),
//   2. connect latency: connect + 1-byte round trip + close, median and p99,
//   3. 1,000 concurrent connections each echoing a message.
// Usage: service_proxy_bench [GiB=1] [connects=2000] [concurrent=1000] [proxy threads=1]
// Prints figures; never pass/fail.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runtime/net/service_proxy.h"

namespace {

using Clock = std::chrono::steady_clock;
using ticketctl::net::Backend;
using ticketctl::net::ServiceProxy;

sockaddr_in v4(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

int listen_on(const char* ip, uint16_t* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = v4(ip, 0);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 4096) != 0) {
    std::perror("listen");
    std::exit(1);
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

int dial(const char* ip, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = v4(ip, port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads one connection to EOF, then closes it: the receiving end of the bulk transfer.
void sink(int listener) {
  int fd = ::accept(listener, nullptr, nullptr);
  std::vector<char> buf(1 << 20);
  while (::recv(fd, buf.data(), buf.size(), 0) > 0) {
  }
  ::close(fd);
}

// CPU seconds of this process (sender, sink and proxy threads all live here).
double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Transfer {
  double mb_s;
  double cpu_s_per_gib;  // CPU time of all three parties per GiB moved
};

Transfer transfer(const char* ip, uint16_t port, int sink_listener, uint64_t bytes) {
  std::thread server(sink, sink_listener);
  int fd = dial(ip, port);
  std::vector<char> buf(1 << 20, 'x');
  const auto t0 = Clock::now();
  const double cpu0 = cpu_seconds();
  uint64_t sent = 0;
  while (sent < bytes) {
    ssize_t n = ::send(fd, buf.data(), std::min<uint64_t>(buf.size(), bytes - sent), 0);
    if (n <= 0) break;
    sent += static_cast<uint64_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  char ch;
  while (::recv(fd, &ch, 1, 0) > 0) {
  }  // the sink's FIN: everything was read
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = cpu_seconds() - cpu0;
  ::close(fd);
  server.join();
  return {static_cast<double>(sent) / 1e6 / secs, cpu / (static_cast<double>(sent) / (1ull << 30))};
}

// One round trip per connection, connections one after another.
void one_byte_server(int listener, int count) {
  for (int i = 0; i < count; ++i) {
    int fd = ::accept(listener, nullptr, nullptr);
    char ch;
    if (::recv(fd, &ch, 1, 0) == 1) ::send(fd, &ch, 1, MSG_NOSIGNAL);
    ::close(fd);
  }
}

struct Latency {
  double median_us, p99_us;
};

Latency connect_latency(const char* ip, uint16_t port, int listener, int count) {
  std::thread server(one_byte_server, listener, count);
  std::vector<double> us;
  us.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    const auto t0 = Clock::now();
    int fd = dial(ip, port);
    char ch = 'x';
    ::send(fd, &ch, 1, MSG_NOSIGNAL);
    ::recv(fd, &ch, 1, 0);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    ::close(fd);
  }
  server.join();
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100]};
}

// Echoes every connection until `stop`; one epoll thread.
class EchoServer {
 public:
  EchoServer() {
    listener_ = listen_on("127.0.0.1", &port_);
    thread_ = std::thread([this] { run(); });
  }
  ~EchoServer() {
    stop_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    thread_.join();
    ::close(listener_);
  }
  uint16_t port() const { return port_; }

 private:
  void run() {
    int ep = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{EPOLLIN, {}};
    ev.data.fd = listener_;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, listener_, &ev);
    epoll_event events[256];
    char buf[4096];
    while (!stop_) {
      int n = ::epoll_wait(ep, events, 256, 100);
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == listener_) {
          int c = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
          if (c < 0) continue;
          epoll_event cev{EPOLLIN, {}};
          cev.data.fd = c;
          ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
          continue;
        }
        ssize_t r = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r > 0) {
          ::send(fd, buf, static_cast<size_t>(r), MSG_NOSIGNAL);  // small messages: fits
        } else if (r == 0 || errno != EAGAIN) {
          ::close(fd);
        }
      }
    }
    ::close(ep);
  }

  int listener_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct Concurrent {
  double secs;
  int errors;
};

Concurrent concurrent_echo(const char* ip, uint16_t port, int count) {
  std::vector<int> fds;
  int errors = 0;
  const auto t0 = Clock::now();
  for (int i = 0; i < count; ++i) {
    int fd = dial(ip, port);
    if (fd < 0) {
      ++errors;
      continue;
    }
    fds.push_back(fd);
  }
  for (int fd : fds) {
    const std::string msg = "message " + std::to_string(fd);
    if (::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(msg.size())) {
      ++errors;
    }
  }
  for (int fd : fds) {
    const std::string msg = "message " + std::to_string(fd);
    std::string got(msg.size(), '\0');
    size_t n = 0;
    while (n < got.size()) {
      ssize_t r = ::recv(fd, got.data() + n, got.size() - n, 0);
      if (r <= 0) break;
      n += static_cast<size_t>(r);
    }
    if (got != msg) ++errors;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  for (int fd : fds) ::close(fd);
  return {secs, errors};
}

}  // namespace

int main(int argc, char** argv) {
  const double gib = argc > 1 ? std::atof(argv[1]) : 1.0;
  const int connects = argc > 2 ? std::atoi(argv[2]) : 2000;
  const int concurrent = argc > 3 ? std::atoi(argv[3]) : 1000;
  const int threads = argc > 4 ? std::atoi(argv[4]) : 1;
  const auto bytes = static_cast<uint64_t>(gib * (1ull << 30));
  const char* svc_ip = "127.96.0.1";

  ServiceProxy proxy(threads);  // also raises RLIMIT_NOFILE for the whole process
  std::printf("service proxy bench: %d proxy thread(s), %u CPUs\n", threads,
              std::thread::hardware_concurrency());

  {
    uint16_t port = 0;
    const int sink_listener = listen_on("127.0.0.1", &port);
    auto pport = proxy.listen("bench/bulk", {svc_ip, 0}, {Backend{"127.0.0.1", port, "sink"}});
    if (!pport) {
      std::fprintf(stderr, "%s\n", pport.error().message.c_str());
      return 1;
    }
    const Transfer direct = transfer("127.0.0.1", port, sink_listener, bytes);
    const Transfer proxied = transfer(svc_ip, pport.value(), sink_listener, bytes);
    std::printf(
        "bulk %.2f GiB: direct %6.0f MB/s (%.2f CPU s/GiB)   proxied %6.0f MB/s (%.2f CPU s/GiB)"
        "   ratio %.2f\n",
        gib, direct.mb_s, direct.cpu_s_per_gib, proxied.mb_s, proxied.cpu_s_per_gib,
        proxied.mb_s / direct.mb_s);
    proxy.close("bench/bulk");
    ::close(sink_listener);
  }
  {
    uint16_t port = 0;
    const int listener = listen_on("127.0.0.1", &port);
    auto pport = proxy.listen("bench/rtt", {svc_ip, 0}, {Backend{"127.0.0.1", port, "rtt"}});
    const Latency direct = connect_latency("127.0.0.1", port, listener, connects);
    const Latency proxied = connect_latency(svc_ip, pport.value(), listener, connects);
    std::printf(
        "connect+1B rtt x%d: direct median %6.1f us p99 %6.1f us   proxied median %6.1f us "
        "p99 %6.1f us   added median %6.1f us\n",
        connects, direct.median_us, direct.p99_us, proxied.median_us, proxied.p99_us,
        proxied.median_us - direct.median_us);
    proxy.close("bench/rtt");
    ::close(listener);
  }
  {
    EchoServer echo;
    auto pport =
        proxy.listen("bench/many", {svc_ip, 0}, {Backend{"127.0.0.1", echo.port(), "echo"}});
    const Concurrent direct = concurrent_echo("127.0.0.1", echo.port(), concurrent);
    const Concurrent proxied = concurrent_echo(svc_ip, pport.value(), concurrent);
    std::printf("%d concurrent echo: direct %.1f ms, %d errors   proxied %.1f ms, %d errors\n",
                concurrent, direct.secs * 1e3, direct.errors, proxied.secs * 1e3, proxied.errors);
  }
  return 0;
}
