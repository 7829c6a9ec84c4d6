// bind() and connect(): the address rewrites that give a pod its own loopback IP, and
// connect-time balancing of ClusterIP Services (balance.c).
//
// Both are async-signal-safe in libc and so are these wrappers: the rewritten address lives on
// the stack, the table is read through tnet_table_* (no locks, no malloc), and errno is left as
// the real call sets it.

// Not _GNU_SOURCE: it would declare bind/connect with a transparent union instead of a pointer.
#define _DEFAULT_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload.h"

static int real_bind(int fd, const struct sockaddr* addr, socklen_t len) {
  if (tnet_real.bind != NULL) return tnet_real.bind(fd, addr, len);
  return (int)syscall(SYS_bind, fd, addr, len);  // before our constructor: stay signal-safe
}

static int real_connect(int fd, const struct sockaddr* addr, socklen_t len) {
  if (tnet_real.connect != NULL) return tnet_real.connect(fd, addr, len);
  return (int)syscall(SYS_connect, fd, addr, len);
}

static int is_stream_socket(int fd) {
  int type = 0;
  socklen_t len = sizeof type;
  return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

// An IPv6 socket can use IPv4-mapped addresses only if it is not IPV6_V6ONLY.
static int accepts_mapped(int fd) {
  int v6only = 1;
  socklen_t len = sizeof v6only;
  return getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len) == 0 && v6only == 0;
}

static const uint32_t kLoopbackV4 = 0x7f000001;  // 127.0.0.1, host byte order

static int is_mapped(const struct in6_addr* a) {
  return IN6_IS_ADDR_V4MAPPED(a);
}

static uint32_t mapped_v4(const struct in6_addr* a) {
  uint32_t v4;
  memcpy(&v4, &a->s6_addr[12], 4);
  return ntohl(v4);
}

static void set_mapped(struct in6_addr* a, struct in_addr v4) {
  memset(a->s6_addr, 0, 10);
  a->s6_addr[10] = 0xff;
  a->s6_addr[11] = 0xff;
  memcpy(&a->s6_addr[12], &v4.s_addr, 4);
}

// A server that listens on "all interfaces" or on localhost listens on the pod's IP instead, so
// two pods can use the same port. Port 0 is left alone: that is a client choosing its source
// port or a server asking for any port, and a pod IP as source could not reach other hosts. UDP
// is left alone for the same reason (a UDP socket both serves and sends).
TNET_EXPORT int bind(int fd, const struct sockaddr* addr, socklen_t len) {
  if (!tnet_init() || addr == NULL) return real_bind(fd, addr, len);
  const int saved_errno = errno;
  if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
    struct sockaddr_in in;
    memcpy(&in, addr, sizeof in);
    const uint32_t ip = ntohl(in.sin_addr.s_addr);
    if ((ip == INADDR_ANY || ip == kLoopbackV4) && in.sin_port != 0 && is_stream_socket(fd)) {
      in.sin_addr = tnet_pod.ip;
      errno = saved_errno;
      return real_bind(fd, (const struct sockaddr*)&in, sizeof in);
    }
  } else if (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
    struct sockaddr_in6 in6;
    memcpy(&in6, addr, sizeof in6);
    const struct in6_addr* a = &in6.sin6_addr;
    const int wildcard =
        IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LOOPBACK(a) ||
        (is_mapped(a) && (mapped_v4(a) == INADDR_ANY || mapped_v4(a) == kLoopbackV4));
    // A V6ONLY socket cannot take the pod's IPv4 address; pods have no IPv6 address of their own.
    if (wildcard && in6.sin6_port != 0 && is_stream_socket(fd) && accepts_mapped(fd)) {
      set_mapped(&in6.sin6_addr, tnet_pod.ip);
      in6.sin6_scope_id = 0;
      errno = saved_errno;
      return real_bind(fd, (const struct sockaddr*)&in6, sizeof in6);
    }
  }
  errno = saved_errno;
  return real_bind(fd, addr, len);
}

// Where a connect() to v4:port (network order) should go instead; 0 if nowhere else.
static int rewrite_target(struct in_addr v4, uint16_t port, struct in_addr* to, uint16_t* to_port) {
  if (ntohl(v4.s_addr) == kLoopbackV4 && tnet_pod_declares_port(ntohs(port))) {
    *to = tnet_pod.ip;  // containers of one pod reach each other on localhost
    *to_port = port;
    return 1;
  }
  tnet_table_refresh(0);
  return tnet_table_redirect(v4, port, to, to_port);
}

// A ClusterIP port with ready endpoints listed in the table: connect to one of them (balance.c).
static int balanced(int fd, const struct sockaddr* addr, socklen_t len, struct in_addr v4,
                    uint16_t port, int saved_errno, int* result) {
  if (ntohl(v4.s_addr) == kLoopbackV4) return 0;
  tnet_table_refresh(0);
  return tnet_balanced_connect(fd, addr, len, v4, port, saved_errno, result);
}

// A connect to a Service that is not balanced here (the pod or the Service is tapped) reaches
// the relay; it leaves from the pod's own IP (the kernel would pick 127.0.0.1 on lo), so the
// observing relay can tell which pod sent what it sees. A socket the program already bound
// keeps its address (bind fails and is ignored). Untapped, every ClusterIP port is balanced and
// this never runs for one.
static void leave_from_pod_ip(int fd, int family, struct in_addr v4, int saved_errno) {
  if (ntohl(v4.s_addr) == kLoopbackV4 || !tnet_table_service_ip(v4)) return;
  if (family == AF_INET) {
    struct sockaddr_in src;
    memset(&src, 0, sizeof src);
    src.sin_family = AF_INET;
    src.sin_addr = tnet_pod.ip;
    real_bind(fd, (const struct sockaddr*)&src, sizeof src);
  } else if (accepts_mapped(fd)) {
    struct sockaddr_in6 src;
    memset(&src, 0, sizeof src);
    src.sin6_family = AF_INET6;
    set_mapped(&src.sin6_addr, tnet_pod.ip);
    real_bind(fd, (const struct sockaddr*)&src, sizeof src);
  }
  errno = saved_errno;
}

TNET_EXPORT int connect(int fd, const struct sockaddr* addr, socklen_t len) {
  if (!tnet_init() || addr == NULL) return real_connect(fd, addr, len);
  const int saved_errno = errno;
  struct in_addr to;
  uint16_t to_port;
  if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
    struct sockaddr_in in;
    memcpy(&in, addr, sizeof in);
    int result;
    if (balanced(fd, addr, len, in.sin_addr, in.sin_port, saved_errno, &result)) return result;
    leave_from_pod_ip(fd, AF_INET, in.sin_addr, saved_errno);
    if (rewrite_target(in.sin_addr, in.sin_port, &to, &to_port)) {
      in.sin_addr = to;
      in.sin_port = to_port;
      tnet_balanced_forget(fd);
      errno = saved_errno;
      return real_connect(fd, (const struct sockaddr*)&in, sizeof in);
    }
  } else if (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
    struct sockaddr_in6 in6;
    memcpy(&in6, addr, sizeof in6);
    struct in_addr v4 = {0};
    int candidate = 0;
    if (is_mapped(&in6.sin6_addr)) {
      memcpy(&v4.s_addr, &in6.sin6_addr.s6_addr[12], 4);
      candidate = 1;
    } else if (IN6_IS_ADDR_LOOPBACK(&in6.sin6_addr) &&
               tnet_pod_declares_port(ntohs(in6.sin6_port))) {
      v4.s_addr = htonl(kLoopbackV4);  // ::1 is the pod's localhost too
      candidate = accepts_mapped(fd);
    }
    int result;
    if (candidate && is_mapped(&in6.sin6_addr) &&
        balanced(fd, addr, len, v4, in6.sin6_port, saved_errno, &result))
      return result;
    if (candidate && is_mapped(&in6.sin6_addr)) leave_from_pod_ip(fd, AF_INET6, v4, saved_errno);
    if (candidate && rewrite_target(v4, in6.sin6_port, &to, &to_port)) {
      set_mapped(&in6.sin6_addr, to);
      in6.sin6_port = to_port;
      in6.sin6_scope_id = 0;
      tnet_balanced_forget(fd);
      errno = saved_errno;
      return real_connect(fd, (const struct sockaddr*)&in6, sizeof in6);
    }
  }
  tnet_balanced_forget(fd);
  errno = saved_errno;
  return real_connect(fd, addr, len);
}
