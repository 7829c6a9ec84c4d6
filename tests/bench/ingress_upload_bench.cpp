// Streams a large upload (default 1 GiB, chunked) through an in-process ingress proxy to a
// backend that counts and discards it, and prints throughput and this process's RSS growth:
// the proxy relays piece by piece, so memory must stay flat. Figures only, never pass/fail.
// Usage: ingress_upload_bench [MiB]

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "runtime/ingress/proxy.h"

namespace {

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

int tcp_socket_on(uint16_t port, bool listen_too) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (listen_too) {
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd, 16);
  } else if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  return fd;
}

uint16_t port_of(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

bool send_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ticketctl;
  const std::size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1024;
  const std::size_t total = mib << 20, piece = 256u << 10;

  // Backend: reads the chunked body raw and answers once the terminating chunk arrives.
  const int listen_fd = tcp_socket_on(0, true);
  const uint16_t backend_port = port_of(listen_fd);
  std::atomic<uint64_t> backend_bytes{0};
  std::thread backend([&] {
    const int fd = ::accept(listen_fd, nullptr, nullptr);
    std::string tail;
    static char buf[1 << 16];
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      backend_bytes += static_cast<uint64_t>(n);
      tail.append(buf, static_cast<std::size_t>(n));
      if (tail.size() > 16) tail.erase(0, tail.size() - 16);
      if (tail.size() >= 5 && tail.compare(tail.size() - 5, 5, "0\r\n\r\n") == 0) {
        const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        send_all(fd, ok, sizeof ok - 1);
        break;
      }
    }
    ::close(fd);
  });

  ingress::ProxyOptions opt;
  opt.http_port = 0;
  opt.https_port = -1;
  opt.threads = 2;
  ingress::ProxyHooks hooks;
  ingress::RouteMatch m;
  m.ns = "default";
  m.service = "upload";
  m.port = "80";
  m.options.max_body_bytes = 0;
  ingress::IngressProxy proxy(opt, hooks);
  proxy.publish(std::make_shared<ingress::FixedRouting>(
      m, net::Backends{net::Backend{"127.0.0.1", backend_port, "default/upload"}}));
  auto ports = proxy.start();
  if (!ports) return 1;

  const long before = rss_kib();
  std::atomic<long> peak{before};
  std::atomic<bool> done{false};
  std::thread monitor([&] {
    while (!done) {
      long now = rss_kib();
      if (now > peak) peak = now;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });

  const auto t0 = std::chrono::steady_clock::now();
  const int fd = tcp_socket_on(static_cast<uint16_t>(ports.value().first), false);
  const std::string head =
      "POST /upload HTTP/1.1\r\nHost: bench\r\nTransfer-Encoding: chunked\r\n\r\n";
  send_all(fd, head.data(), head.size());
  char hex[32];
  const int hex_len = std::snprintf(hex, sizeof hex, "%zx\r\n", piece);
  std::string chunk =
      std::string(hex, static_cast<std::size_t>(hex_len)) + std::string(piece, 'u') + "\r\n";
  for (std::size_t sent = 0; sent < total; sent += piece)
    if (!send_all(fd, chunk.data(), chunk.size())) return 1;
  send_all(fd, "0\r\n\r\n", 5);
  char answer[256];
  const ssize_t n = ::recv(fd, answer, sizeof answer, 0);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  done = true;
  monitor.join();
  ::close(fd);
  backend.join();
  proxy.stop();
  std::printf("upload %zu MiB chunked through the proxy: %.2f s, %.0f MiB/s, answer %.12s\n", mib,
              secs, static_cast<double>(mib) / secs, n > 0 ? answer : "(none)");
  std::printf("backend received %.1f MiB (with chunk framing)\n",
              static_cast<double>(backend_bytes) / (1 << 20));
  std::printf("RSS before %ld KiB, peak %ld KiB, growth %.1f MiB\n", before, peak.load(),
              static_cast<double>(peak - before) / 1024);
}
