// A minimal, fast HTTP/1.1 "hello" server for the ingress benchmarks (tests/bench/ingress_wrk.sh):
// epoll, one thread per core with its own SO_REUSEPORT listener, keep-alive, no request bodies.
// Usage: bench_backend [port] [threads]   (prints "port N" once listening)

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

constexpr char kResponse[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!";

int listen_on(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 4096) != 0) {
    std::perror("bind/listen");
    std::exit(1);
  }
  return fd;
}

void serve(int listen_fd) {
  const int ep = ::epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listen_fd;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev);
  std::unordered_map<int, std::string> pending;  // partial request heads per connection
  std::vector<epoll_event> events(256);
  std::string out;
  char buf[16384];
  for (;;) {
    const int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == listen_fd) {
        for (;;) {
          const int c = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK);
          if (c < 0) break;
          int one = 1;
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event cev{};
          cev.events = EPOLLIN | EPOLLRDHUP;
          cev.data.fd = c;
          ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        }
        continue;
      }
      const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
      if (r <= 0) {
        pending.erase(fd);
        ::close(fd);
        continue;
      }
      std::string& data = pending[fd];
      data.append(buf, static_cast<std::size_t>(r));
      out.clear();
      std::size_t pos;
      while ((pos = data.find("\r\n\r\n")) != std::string::npos) {
        data.erase(0, pos + 4);
        out.append(kResponse, sizeof kResponse - 1);
      }
      if (!out.empty()) (void)::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int port = argc > 1 ? std::atoi(argv[1]) : 0;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 1;
  std::vector<int> listeners;
  listeners.push_back(listen_on(port));
  if (port == 0) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(listeners[0], reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  for (int i = 1; i < threads; ++i) listeners.push_back(listen_on(port));
  std::printf("port %d\n", port);
  std::fflush(stdout);
  std::vector<std::thread> workers;
  for (int fd : listeners) workers.emplace_back(serve, fd);
  for (auto& t : workers) t.join();
}
