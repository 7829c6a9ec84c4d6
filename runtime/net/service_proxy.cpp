// The service proxy's event loops and public members (service_proxy.h). Addresses, backend
// choice and affinity are service_proxy_listener.cpp; moving bytes is service_proxy_relay.cpp.

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
#include <tuple>
#include <utility>

#include "runtime/net/service_proxy_internal.h"

namespace ticketctl::net {

using namespace proxy_detail;

namespace {

constexpr int kMaxEvents = 256;
constexpr int kAcceptBurst = 64;  // per wake-up, so one busy listener cannot starve the loop

// epoll_event.data.u64 = id << 2 | tag. Ids never repeat, so an event for a connection that an
// earlier event of the same batch closed finds nothing instead of a stranger.
enum Tag : uint64_t { kWake = 0, kListener = 1, kClient = 2, kBackend = 3 };
uint64_t token(uint64_t id, Tag tag) {
  return id << 2 | tag;
}

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
  // Observing mode, decided at accept: the observer is made once the backend answers.
  std::shared_ptr<const ExchangeObserver> observe;
  std::string tag;
  std::chrono::system_clock::time_point accepted_at;
  std::unique_ptr<HttpObserver> observer;
};

// "ip", port of a connected socket's peer.
std::pair<std::string, uint16_t> peer_of(int fd) {
  SockAddr a;
  a.len = sizeof a.ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&a.ss), &a.len) != 0) return {"", 0};
  const uint16_t port = ntohs(a.ss.ss_family == AF_INET
                                  ? reinterpret_cast<const sockaddr_in*>(&a.ss)->sin_port
                                  : reinterpret_cast<const sockaddr_in6*>(&a.ss)->sin6_port);
  return {canonical_ip(a), port};
}

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
    if (pick.observer) {
      c.observe = std::move(pick.observer);
      c.tag = std::move(pick.tag);
      c.accepted_at = std::chrono::system_clock::now();
      c.listener->observed.fetch_add(1, std::memory_order_relaxed);
    }
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
      if (c.observe) {
        start_observing(c);
      } else {
        c.up.open();
        c.down.open();
      }
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
    const bool ok = c.observer ? c.up.relay_observed(c.client, c.backend, l.to_backend) &&
                                     c.down.relay_observed(c.backend, c.client, l.to_client)
                               : c.up.relay(c.client, c.backend, l.to_backend) &&
                                     c.down.relay(c.backend, c.client, l.to_client);
    if (!ok) {
      finish(c, true);
      return;
    }
    if (c.up.shut && c.down.shut) finish(c, false);
  }

  void start_observing(Conn& c) {
    ObservedExchange base;
    base.listener = c.listener->key;
    base.tag = std::move(c.tag);
    std::tie(base.client_ip, base.client_port) = peer_of(c.client);
    base.backend_ip = c.current->backend.ip;
    base.backend_port = c.current->backend.port;
    base.time = c.accepted_at;
    c.observer = std::make_unique<HttpObserver>(std::move(c.observe), std::move(base));
    c.up.open_observed(c.observer.get(), true);
    c.down.open_observed(c.observer.get(), false);
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
    if (c.observer) c.observer->finish();
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
                                      Backends backends, Affinity affinity,
                                      const Observe& observe) {
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
      same.observer = observe.enabled ? observer_ : nullptr;
      same.tag = observe.tag;
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
    l->observer = observe.enabled ? observer_ : nullptr;
    l->tag = observe.tag;
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

void ServiceProxy::set_observer(ExchangeObserver observer) {
  auto shared = std::make_shared<const ExchangeObserver>(std::move(observer));
  std::lock_guard lock(mu_);
  observer_ = std::move(shared);
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
  s.observed = l.observed.load(std::memory_order_relaxed);
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
