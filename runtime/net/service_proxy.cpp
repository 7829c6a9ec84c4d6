#include "runtime/net/service_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <future>
#include <set>
#include <thread>
#include <utility>

namespace ticketctl::net {

namespace {

using Clock = std::chrono::steady_clock;

// Bytes asked of one splice(); the kernel clamps it to what the pipe holds.
constexpr size_t kSpliceChunk = size_t{1} << 20;
// A bulk flow's pipe grows to this once it has moved kGrowPipeAfter bytes: fewer wake-ups per
// megabyte. Short connections keep the default 64 KiB and spare the user's pipe budget
// (fs.pipe-user-pages-soft); a refused resize is harmless.
constexpr int kPipeSize = 256 << 10;
constexpr uint64_t kGrowPipeAfter = 1 << 20;
// Fallback when the process is out of descriptors for pipes: copy through user space.
constexpr size_t kBufferSize = 64 << 10;
constexpr int kMaxEvents = 256;
constexpr int kAcceptBurst = 64;  // per wake-up, so one busy listener cannot starve the loop

// epoll_event.data.u64 = id << 2 | tag. Ids never repeat, so an event for a connection that an
// earlier event of the same batch closed finds nothing instead of a stranger.
enum Tag : uint64_t { kWake = 0, kListener = 1, kClient = 2, kBackend = 3 };
uint64_t token(uint64_t id, Tag tag) {
  return id << 2 | tag;
}

struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&ss); }
};

std::optional<SockAddr> parse_address(const std::string& ip, uint16_t port) {
  SockAddr a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.ss);
  if (::inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.len = sizeof(sockaddr_in);
    return a;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
  if (::inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.len = sizeof(sockaddr_in6);
    return a;
  }
  return std::nullopt;
}

// The textual form inet_ntop gives, so "127.000.0.1"-style spellings compare equal.
std::string canonical_ip(const SockAddr& a) {
  char text[INET6_ADDRSTRLEN] = {};
  if (a.ss.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&a.ss)->sin_addr, text, sizeof text);
  } else {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&a.ss)->sin6_addr, text,
                sizeof text);
  }
  return text;
}

// The client's IP (not port) as raw bytes: the ClientIP affinity key.
std::string client_ip_key(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    const auto& addr = reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr;
    return std::string(reinterpret_cast<const char*>(&addr), sizeof addr);
  }
  const auto& addr = reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr;
  return std::string(reinterpret_cast<const char*>(&addr), sizeof addr);
}

void set_nodelay(int fd) {
  // The endpoints already chose Nagle or not; a relay that batches again only adds latency.
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Closing with a zero linger sends RST: the peer's next read or write fails with ECONNRESET at
// once instead of seeing an orderly (and misleading) end of stream.
void reset_and_close(int fd) {
  const linger hard{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  ::close(fd);
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

void raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

struct Target {
  Backend backend;
  SockAddr addr;
  std::string id;  // "ip:port", what ClientIP affinity remembers
};
using Targets = std::vector<Target>;

std::shared_ptr<const Targets> make_targets(const Backends& backends) {
  auto targets = std::make_shared<Targets>();
  targets->reserve(backends.size());
  for (const Backend& b : backends) {
    auto addr = parse_address(b.ip, b.port);
    if (!addr) continue;
    targets->push_back(Target{b, *addr, canonical_ip(*addr) + ":" + std::to_string(b.port)});
  }
  return targets;
}

Error socket_error(ErrorCode code, const std::string& key, const std::string& what, int err) {
  return Error{code, "listener " + key + ": " + what + ": " + std::strerror(err)};
}

}  // namespace

// One listening socket and what its connections need: backends, affinity and counters. Shared by
// the proxy's map, the loop that polls it and every connection it accepted.
struct ServiceProxy::Listener {
  uint64_t id = 0;
  std::string key;
  std::string ip;  // canonical
  uint16_t port = 0;
  int fd = -1;  // after registration, touched only by `loop`'s thread
  Loop* loop = nullptr;

  std::mutex mu;  // guards targets, affinity and sticky
  std::shared_ptr<const Targets> targets;
  Affinity affinity = Affinity::None;
  struct Sticky {
    std::string target_id;
    Clock::time_point last_use;
  };
  std::unordered_map<std::string, Sticky> sticky;  // client IP bytes → backend it last used
  uint64_t sticky_writes = 0;

  std::atomic<uint64_t> next{0};    // round-robin position
  std::atomic<uint64_t> spread{0};  // which loop gets the next accepted connection
  std::atomic<uint64_t> accepted{0}, active{0}, refused{0}, to_backend{0}, to_client{0};

  ~Listener() { close_fd(fd); }

  struct Pick {
    std::shared_ptr<const Targets> targets;
    size_t start = 0;
  };

  // Where a new connection from `client` starts trying (it then walks the list once).
  Pick pick(const std::string& client) {
    std::lock_guard lock(mu);
    Pick p{targets, 0};
    if (!p.targets || p.targets->empty()) return p;
    const size_t n = p.targets->size();
    if (affinity == Affinity::ClientIP) {
      auto it = sticky.find(client);
      const auto now = Clock::now();
      if (it != sticky.end() && now - it->second.last_use <= kAffinityTimeout) {
        for (size_t i = 0; i < n; ++i) {
          if ((*p.targets)[i].id == it->second.target_id) {
            it->second.last_use = now;
            p.start = i;
            return p;
          }
        }
      }
    }
    p.start = next.fetch_add(1, std::memory_order_relaxed) % n;
    // Claimed now, not when connected, so a burst of connections from one client sticks too.
    if (affinity == Affinity::ClientIP)
      sticky[client] = Sticky{(*p.targets)[p.start].id, Clock::now()};
    return p;
  }

  // The backend that accepted: differs from the pick when the picked one failed.
  void remember(const std::string& client, const Target& target) {
    std::lock_guard lock(mu);
    if (affinity != Affinity::ClientIP) return;
    const auto now = Clock::now();
    sticky[client] = Sticky{target.id, now};
    if (++sticky_writes % 4096 == 0) {
      std::erase_if(sticky,
                    [&](const auto& e) { return now - e.second.last_use > kAffinityTimeout; });
    }
  }
};

namespace {

// One direction of a relayed connection: bytes read from `src` wait in a pipe (or, without
// descriptors to spare, a buffer) until `dst` takes them.
struct Flow {
  int pipe_r = -1, pipe_w = -1;
  std::unique_ptr<char[]> buffer;
  size_t off = 0, queued = 0;  // pipe: bytes in it; buffer: [off, queued) is pending
  bool eof = false;            // src sent FIN
  bool shut = false;           // ...and we passed it on with shutdown(dst, SHUT_WR)
  uint64_t total = 0;          // bytes delivered to dst
  bool grown = false;

  void open() {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0) {
      pipe_r = fds[0];
      pipe_w = fds[1];
    } else {
      buffer = std::make_unique<char[]>(kBufferSize);
    }
  }
  void close() {
    close_fd(pipe_r);
    close_fd(pipe_w);
  }

  // Moves what it can from src to dst until both would block. False on a socket error.
  bool relay(int src, int dst, std::atomic<uint64_t>& counter) {
    for (;;) {
      bool moved = false;
      if (!eof) {
        ssize_t n;
        if (pipe_w >= 0) {
          n = ::splice(src, nullptr, pipe_w, nullptr, kSpliceChunk,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        } else if (queued < kBufferSize) {
          n = ::recv(src, buffer.get() + queued, kBufferSize - queued, 0);
        } else {
          n = -1;
          errno = EAGAIN;
        }
        if (n > 0) {
          queued += static_cast<size_t>(n);
          moved = true;
        } else if (n == 0) {
          eof = true;
          moved = true;
        } else if (errno != EAGAIN && errno != EINTR) {
          return false;
        }
      }
      if (queued > off) {
        ssize_t n;
        if (pipe_r >= 0) {
          n = ::splice(pipe_r, nullptr, dst, nullptr, queued, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        } else {
          n = ::send(dst, buffer.get() + off, queued - off, MSG_NOSIGNAL);
        }
        if (n > 0) {
          if (pipe_r >= 0) {
            queued -= static_cast<size_t>(n);
          } else if ((off += static_cast<size_t>(n)) == queued) {
            off = queued = 0;
          }
          counter.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
          total += static_cast<uint64_t>(n);
          moved = true;
          if (!grown && total >= kGrowPipeAfter && pipe_w >= 0) {
            ::fcntl(pipe_w, F_SETPIPE_SZ, kPipeSize);
            grown = true;
          }
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
          return false;
        }
      }
      if (eof && queued == off && !shut) {
        if (::shutdown(dst, SHUT_WR) != 0 && errno != ENOTCONN) return false;
        shut = true;
      }
      if (!moved) return true;
    }
  }
};

struct Conn {
  uint64_t id = 0;
  std::shared_ptr<ServiceProxy::Listener> listener;
  std::string client_ip;
  int client = -1, backend = -1;
  bool relaying = false;
  std::shared_ptr<const Targets> targets;  // the list at accept time
  size_t start = 0, tried = 0;
  const Target* current = nullptr;
  Clock::time_point deadline;
  Flow up, down;  // client → backend, backend → client
};

}  // namespace

// An epoll loop on its own thread. Listeners and connections belong to exactly one loop and are
// touched only by its thread; other threads reach it through post().
class ServiceProxy::Loop {
 public:
  explicit Loop(const std::vector<std::unique_ptr<Loop>>* siblings) : siblings_(siblings) {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wakefd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = token(0, kWake);
    ::epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev);
  }

  ~Loop() {
    // Stopped and joined by ~ServiceProxy; run what was posted meanwhile (it may own descriptors)
    // and close everything.
    run_tasks();
    for (auto& [id, conn] : conns_) close_conn(*conn, false);
    conns_.clear();
    for (auto& [id, listener] : listeners_) close_fd(listener->fd);
    listeners_.clear();
    close_fd(spare_fd_);
    close_fd(wakefd_);
    close_fd(epfd_);
  }

  void start() {
    thread_ = std::thread([this] {
      // splice() to a socket the peer reset raises SIGPIPE on the calling thread; blocked here it
      // stays pending and harmless, and the call still fails with EPIPE.
      sigset_t pipe_only;
      sigemptyset(&pipe_only);
      sigaddset(&pipe_only, SIGPIPE);
      ::pthread_sigmask(SIG_BLOCK, &pipe_only, nullptr);
      run();
    });
  }

  void stop_and_join() {
    if (!thread_.joinable()) return;
    post([this] { running_ = false; });
    thread_.join();
  }

  void post(std::function<void()> task) {
    bool was_empty;
    {
      std::lock_guard lock(mu_);
      was_empty = tasks_.empty();
      tasks_.push_back(std::move(task));
    }
    if (was_empty) {
      const uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(wakefd_, &one, sizeof one);
    }
  }

  // Never from a loop thread (it would wait for itself).
  void run_sync(std::function<void()> task) {
    std::promise<void> done;
    post([&] {
      task();
      done.set_value();
    });
    done.get_future().wait();
  }

  void add_listener(const std::shared_ptr<Listener>& l) {
    epoll_event ev{};
    ev.events = EPOLLIN;  // level-triggered: accept() a burst per wake-up and come back
    ev.data.u64 = token(l->id, kListener);
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, l->fd, &ev) == 0) listeners_.emplace(l->id, l);
  }

  void remove_listener(uint64_t id) {
    auto it = listeners_.find(id);
    if (it == listeners_.end()) return;
    close_fd(it->second->fd);  // also leaves the epoll set
    listeners_.erase(it);
  }

  // Takes over an accepted client connection: pick backends, start connecting.
  void adopt(int fd, std::shared_ptr<Listener> l, std::string client_ip) {
    Listener::Pick pick = l->pick(client_ip);
    if (!pick.targets || pick.targets->empty()) {
      l->refused.fetch_add(1, std::memory_order_relaxed);
      reset_and_close(fd);
      return;
    }
    auto conn = std::make_unique<Conn>();
    Conn& c = *conn;
    c.id = next_conn_id_++;
    c.listener = std::move(l);
    c.client_ip = std::move(client_ip);
    c.client = fd;
    c.targets = std::move(pick.targets);
    c.start = pick.start;
    epoll_event ev{};
    // Registered now, read only once relaying: bytes the client sends meanwhile wait in the
    // kernel. Edge-triggered: every event runs the pump until nothing moves.
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = token(c.id, kClient);
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      c.listener->refused.fetch_add(1, std::memory_order_relaxed);
      reset_and_close(fd);
      return;
    }
    c.listener->active.fetch_add(1, std::memory_order_relaxed);
    conns_.emplace(c.id, std::move(conn));
    connect_next(c);
  }

 private:
  void run() {
    epoll_event events[kMaxEvents];
    while (running_) {
      int n = ::epoll_wait(epfd_, events, kMaxEvents, wait_timeout_ms());
      if (n < 0 && errno != EINTR) break;
      for (int i = 0; i < n; ++i) {
        const uint64_t id = events[i].data.u64 >> 2;
        switch (static_cast<Tag>(events[i].data.u64 & 3)) {
          case kWake: {
            uint64_t count;
            [[maybe_unused]] ssize_t r = ::read(wakefd_, &count, sizeof count);
            run_tasks();
            break;
          }
          case kListener:
            on_listener_ready(id);
            break;
          case kClient:
          case kBackend:
            on_conn_event(id, (events[i].data.u64 & 3) == kBackend, events[i].events);
            break;
        }
      }
      expire_connects();
    }
  }

  void run_tasks() {
    std::vector<std::function<void()>> tasks;
    {
      std::lock_guard lock(mu_);
      tasks.swap(tasks_);
    }
    for (auto& task : tasks) task();
  }

  int wait_timeout_ms() const {
    if (deadlines_.empty()) return -1;
    const auto left = deadlines_.begin()->first - Clock::now();
    if (left <= Clock::duration::zero()) return 0;
    return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
  }

  void on_listener_ready(uint64_t id) {
    auto it = listeners_.find(id);
    if (it == listeners_.end()) return;
    std::shared_ptr<Listener> l = it->second;
    for (int i = 0; i < kAcceptBurst; ++i) {
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      int fd =
          ::accept4(l->fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE) shed_one(*l);
        return;
      }
      l->accepted.fetch_add(1, std::memory_order_relaxed);
      set_nodelay(fd);
      const auto& loops = *siblings_;
      Loop* target = loops[l->spread.fetch_add(1, std::memory_order_relaxed) % loops.size()].get();
      if (target == this) {
        adopt(fd, l, client_ip_key(peer));
      } else {
        target->post([target, fd, l, ip = client_ip_key(peer)]() mutable {
          target->adopt(fd, std::move(l), std::move(ip));
        });
      }
    }
  }

  // Out of descriptors: the level-triggered listener would spin. Free the spare descriptor,
  // accept one connection and reset it, so clients fail fast instead of hanging in the backlog.
  void shed_one(Listener& l) {
    close_fd(spare_fd_);
    int fd = ::accept4(l.fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      l.accepted.fetch_add(1, std::memory_order_relaxed);
      l.refused.fetch_add(1, std::memory_order_relaxed);
      reset_and_close(fd);
    }
    spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }

  // Tries the remaining backends in order, each once; resets the client when none is left.
  // May destroy `c`.
  void connect_next(Conn& c) {
    const size_t n = c.targets->size();
    while (c.tried < n) {
      const Target& t = (*c.targets)[(c.start + c.tried) % n];
      ++c.tried;
      int fd = ::socket(t.addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) break;
      set_nodelay(fd);
      if (::connect(fd, t.addr.get(), t.addr.len) != 0 && errno != EINPROGRESS) {
        ::close(fd);
        continue;
      }
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
      ev.data.u64 = token(c.id, kBackend);
      if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        ::close(fd);
        break;
      }
      // Even a connect() that completed at once reports EPOLLOUT once registered, so success is
      // handled in one place: on_conn_event.
      c.backend = fd;
      c.current = &t;
      c.deadline = Clock::now() + kConnectTimeout;
      deadlines_.emplace(c.deadline, c.id);
      return;
    }
    c.listener->refused.fetch_add(1, std::memory_order_relaxed);
    finish(c, true);
  }

  void on_conn_event(uint64_t id, bool from_backend, uint32_t events) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    Conn& c = *it->second;
    if (!c.relaying) {
      if (!from_backend) {
        if (events & EPOLLERR) finish(c, true);  // client gave up while we were connecting
        return;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(c.backend, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
        abandon_attempt(c);
        connect_next(c);
        return;
      }
      if (!(events & EPOLLOUT)) return;
      deadlines_.erase({c.deadline, c.id});
      c.relaying = true;
      c.listener->remember(c.client_ip, *c.current);
      c.up.open();
      c.down.open();
    } else if (events & EPOLLERR) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(from_backend ? c.backend : c.client, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        finish(c, true);
        return;
      }
    }
    pump(c);
  }

  void pump(Conn& c) {
    Listener& l = *c.listener;
    if (!c.up.relay(c.client, c.backend, l.to_backend) ||
        !c.down.relay(c.backend, c.client, l.to_client)) {
      finish(c, true);
      return;
    }
    if (c.up.shut && c.down.shut) finish(c, false);
  }

  void abandon_attempt(Conn& c) {
    deadlines_.erase({c.deadline, c.id});
    close_fd(c.backend);
    c.current = nullptr;
  }

  void expire_connects() {
    const auto now = Clock::now();
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      const uint64_t id = deadlines_.begin()->second;
      deadlines_.erase(deadlines_.begin());
      auto it = conns_.find(id);
      if (it == conns_.end() || it->second->relaying) continue;
      Conn& c = *it->second;
      close_fd(c.backend);
      c.current = nullptr;
      connect_next(c);
    }
  }

  void close_conn(Conn& c, bool reset) {
    if (!c.relaying && c.backend >= 0) deadlines_.erase({c.deadline, c.id});
    c.up.close();
    c.down.close();
    if (reset) {
      if (c.client >= 0) reset_and_close(c.client);
      if (c.backend >= 0) reset_and_close(c.backend);
      c.client = c.backend = -1;
    } else {
      close_fd(c.client);
      close_fd(c.backend);
    }
    c.listener->active.fetch_sub(1, std::memory_order_relaxed);
  }

  // Closes both sides (with RST when `reset`) and forgets the connection. Destroys `c`.
  void finish(Conn& c, bool reset) {
    const uint64_t id = c.id;
    close_conn(c, reset);
    conns_.erase(id);
  }

  const std::vector<std::unique_ptr<Loop>>* siblings_;
  int epfd_ = -1, wakefd_ = -1, spare_fd_ = -1;
  std::thread thread_;
  bool running_ = true;  // loop thread only

  std::mutex mu_;  // guards tasks_
  std::vector<std::function<void()>> tasks_;

  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  std::unordered_map<uint64_t, std::shared_ptr<Listener>> listeners_;
  std::set<std::pair<Clock::time_point, uint64_t>> deadlines_;  // connects in progress
  uint64_t next_conn_id_ = 1;
};

namespace {
std::atomic<uint64_t> next_listener_id{1};
}

ServiceProxy::ServiceProxy(int threads) {
  raise_fd_limit();
  const int n = threads < 1 ? 1 : threads;
  for (int i = 0; i < n; ++i) loops_.push_back(std::make_unique<Loop>(&loops_));
  for (auto& loop : loops_) loop->start();
}

ServiceProxy::~ServiceProxy() {
  for (auto& loop : loops_) loop->stop_and_join();
  loops_.clear();
}

Result<uint16_t> ServiceProxy::listen(const std::string& key, const ListenerSpec& at,
                                      Backends backends, Affinity affinity) {
  auto addr = parse_address(at.ip, at.port);
  if (!addr) return Error{ErrorCode::Invalid, "listener " + key + ": not an IP address: " + at.ip};
  const std::string ip = canonical_ip(*addr);
  auto targets = make_targets(backends);

  std::shared_ptr<Listener> old;
  std::shared_ptr<Listener> l;
  {
    std::lock_guard lock(mu_);
    auto it = listeners_.find(key);
    if (it != listeners_.end() && it->second->ip == ip &&
        (at.port == 0 || at.port == it->second->port)) {
      Listener& same = *it->second;
      std::lock_guard inner(same.mu);
      same.targets = std::move(targets);
      if (same.affinity != affinity) same.sticky.clear();
      same.affinity = affinity;
      return same.port;
    }

    int fd = ::socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return socket_error(ErrorCode::Internal, key, "socket", errno);
    // A Service re-created on the same IP:port must not wait for TIME_WAIT of old connections.
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, addr->get(), addr->len) != 0) {
      const int err = errno;
      ::close(fd);
      return socket_error(err == EADDRINUSE ? ErrorCode::AlreadyExists : ErrorCode::Internal, key,
                          "bind " + ip + ":" + std::to_string(at.port), err);
    }
    if (::listen(fd, SOMAXCONN) != 0) {
      const int err = errno;
      ::close(fd);
      return socket_error(ErrorCode::Internal, key, "listen", err);
    }
    SockAddr bound;
    bound.len = sizeof bound.ss;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound.ss), &bound.len);
    const uint16_t port = ntohs(bound.ss.ss_family == AF_INET
                                    ? reinterpret_cast<sockaddr_in*>(&bound.ss)->sin_port
                                    : reinterpret_cast<sockaddr_in6*>(&bound.ss)->sin6_port);

    l = std::make_shared<Listener>();
    l->id = next_listener_id.fetch_add(1);
    l->key = key;
    l->ip = ip;
    l->port = port;
    l->fd = fd;
    l->loop = loops_[next_loop_++ % loops_.size()].get();
    l->targets = std::move(targets);
    l->affinity = affinity;
    if (it != listeners_.end()) {
      old = std::move(it->second);
      it->second = l;
    } else {
      listeners_.emplace(key, l);
    }
    l->loop->post([l] { l->loop->add_listener(l); });
  }
  if (old) old->loop->run_sync([old] { old->loop->remove_listener(old->id); });
  return l->port;
}

void ServiceProxy::set_backends(const std::string& key, Backends backends) {
  auto targets = make_targets(backends);
  std::lock_guard lock(mu_);
  auto it = listeners_.find(key);
  if (it == listeners_.end()) return;
  std::lock_guard inner(it->second->mu);
  it->second->targets = std::move(targets);
}

void ServiceProxy::close(const std::string& key) {
  std::shared_ptr<Listener> l;
  {
    std::lock_guard lock(mu_);
    auto it = listeners_.find(key);
    if (it == listeners_.end()) return;
    l = std::move(it->second);
    listeners_.erase(it);
  }
  // Synchronous, so a caller that closes and rebinds the address (or a test) sees it free.
  l->loop->run_sync([l] { l->loop->remove_listener(l->id); });
}

std::optional<ListenerStats> ServiceProxy::stats(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = listeners_.find(key);
  if (it == listeners_.end()) return std::nullopt;
  const Listener& l = *it->second;
  ListenerStats s;
  s.accepted = l.accepted.load(std::memory_order_relaxed);
  s.active = l.active.load(std::memory_order_relaxed);
  s.refused = l.refused.load(std::memory_order_relaxed);
  s.bytes_to_backend = l.to_backend.load(std::memory_order_relaxed);
  s.bytes_to_client = l.to_client.load(std::memory_order_relaxed);
  return s;
}

std::vector<std::string> ServiceProxy::keys() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  out.reserve(listeners_.size());
  for (const auto& [key, l] : listeners_) out.push_back(key);
  return out;
}

}  // namespace ticketctl::net
