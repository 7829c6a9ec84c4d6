// Connect-time balancing of ClusterIP Services (as Cilium's socket-LB does): a connect() to a
// ClusterIP:port listed in the table with `backends` goes straight to one of its ready endpoints,
// so no byte of the connection crosses the Service relay. The socket remembers what the program
// asked for, and getpeername() answers that (the ClusterIP:port), not the pod it reached.
//
// Refusals: an endpoint that refuses is skipped for the next one, each tried at most once, before
// the program sees ECONNREFUSED. A blocking connect() reports the refusal itself. A non-blocking
// one returns EINPROGRESS, but on loopback the kernel has already run the handshake (or the
// reset) when connect() returns, so one getsockopt(SO_ERROR) tells a refusal from a connection
// and the next endpoint is tried within the same call. Not covered: a refusal that arrives later
// than that (the kernel deferred loopback packets to ksoftirqd under load, or a full listen
// backlog dropped the SYN): the program sees it as it would without us.
//
// Everything here is async-signal-safe and lock-free (connect() may run in a signal handler): the
// per-descriptor records are one anonymous mmap() indexed by descriptor, each entry two 64-bit
// atomics.

#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload.h"

// What a balanced socket asked for and where it went, packed as 1 << 48 | ip << 16 | port (both
// in network byte order, as stored in the sockaddr); 0 when the descriptor is not balanced.
struct fd_record {
  atomic_ullong asked;
  atomic_ullong reached;
};

// Descriptors above this have no record: getpeername() on them answers the endpoint.
enum { MAX_RECORDED_FDS = 1 << 18 };  // 4 MiB of address space, touched only where used

static _Atomic(struct fd_record*) records;

static unsigned long long pack(struct in_addr ip, uint16_t port) {
  return 1ULL << 48 | (unsigned long long)ip.s_addr << 16 | port;
}

static struct fd_record* record_for(int fd, int create) {
  if (fd < 0 || fd >= MAX_RECORDED_FDS) return NULL;
  struct fd_record* table = atomic_load(&records);
  if (table == NULL && create) {
    const size_t size = (size_t)MAX_RECORDED_FDS * sizeof(struct fd_record);
    void* fresh = mmap(NULL, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (fresh == MAP_FAILED) return NULL;
    struct fd_record* expected = NULL;
    if (atomic_compare_exchange_strong(&records, &expected, (struct fd_record*)fresh)) {
      table = fresh;
    } else {  // another thread got there first
      munmap(fresh, size);
      table = expected;
    }
  }
  return table == NULL ? NULL : &table[fd];
}

void tnet_balanced_forget(int fd) {
  struct fd_record* r = record_for(fd, 0);
  if (r != NULL && atomic_load_explicit(&r->asked, memory_order_relaxed) != 0) {
    atomic_store(&r->asked, 0);
    atomic_store(&r->reached, 0);
  }
}

static void remember(int fd, struct in_addr ip, uint16_t port, struct tnet_endpoint reached) {
  struct fd_record* r = record_for(fd, 1);
  if (r == NULL) return;
  atomic_store(&r->reached, pack(reached.ip, reached.port));
  atomic_store(&r->asked, pack(ip, port));
}

static int real_connect(int fd, const struct sockaddr* addr, socklen_t len) {
  if (tnet_real.connect != NULL) return tnet_real.connect(fd, addr, len);
  return (int)syscall(SYS_connect, fd, addr, len);
}

static void set_target(struct sockaddr_storage* ss, int v6, struct tnet_endpoint to) {
  if (v6) {
    struct sockaddr_in6* in6 = (struct sockaddr_in6*)ss;
    memset(in6->sin6_addr.s6_addr, 0, 10);
    in6->sin6_addr.s6_addr[10] = 0xff;
    in6->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&in6->sin6_addr.s6_addr[12], &to.ip.s_addr, 4);
    in6->sin6_port = to.port;
    in6->sin6_scope_id = 0;
  } else {
    struct sockaddr_in* in = (struct sockaddr_in*)ss;
    in->sin_addr = to.ip;
    in->sin_port = to.port;
  }
}

// A socket whose connect failed is usable again only once the kernel has reported the failure
// through connect() itself: until then it stays "connecting" (EALREADY). This connect() returns
// the stale error (ECONNABORTED once SO_ERROR was read) and resets the socket.
static void reset_failed_connect(int fd, const struct sockaddr* addr, socklen_t len) {
  (void)real_connect(fd, addr, len);
}

int tnet_balanced_connect(int fd, const struct sockaddr* addr, socklen_t len, struct in_addr ip,
                          uint16_t port, int saved_errno, int* result) {
  struct tnet_pick pick;
  if (!tnet_table_pick(ip, port, &pick)) return 0;

  if (pick.n == 0) {  // no ready endpoint: refused, as kube-proxy's REJECT rule does
    tnet_balanced_forget(fd);
    errno = ECONNREFUSED;
    *result = -1;
    return 1;
  }
  struct sockaddr_storage target;
  if ((size_t)len > sizeof target) len = sizeof target;
  memcpy(&target, addr, (size_t)len);
  const int v6 = addr->sa_family == AF_INET6;
  for (size_t i = 0; i < pick.n; ++i) {
    set_target(&target, v6, pick.order[i]);
    const struct sockaddr* to = (const struct sockaddr*)&target;
    errno = saved_errno;
    int rc = real_connect(fd, to, len);
    int err = rc == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      // On loopback the handshake (or the reset) has already happened: look without waiting.
      int so_error = 0;
      socklen_t so_len = sizeof so_error;
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len) == 0 && so_error != 0) {
        reset_failed_connect(fd, to, len);
        err = so_error;  // read (and so cleared) here: the program must hear it from us
      }
    }
    const int last = i + 1 == pick.n;
    if (err == ECONNREFUSED && !last) continue;
    // A connect() repeated on a socket that is already connecting or connected: the kernel ignores
    // the address, so the endpoint the first call chose (and recorded) is the one it has.
    if (err == 0 || err == EINPROGRESS || err == EINTR)
      remember(fd, ip, port, pick.order[i]);
    else if (err != EALREADY && err != EISCONN)
      tnet_balanced_forget(fd);
    *result = err == 0 ? 0 : -1;
    errno = err == 0 ? saved_errno : err;
    return 1;
  }
  *result = -1;  // not reached: the loop returns on its last endpoint
  errno = ECONNREFUSED;
  return 1;
}

int tnet_balanced_peer(int fd, struct sockaddr* addr, socklen_t* len) {
  struct fd_record* r = record_for(fd, 0);
  if (r == NULL || addr == NULL || len == NULL) return 0;
  const unsigned long long asked = atomic_load(&r->asked);
  const unsigned long long reached = atomic_load(&r->reached);
  if (asked == 0) return 0;
  // The record must still describe this socket: it may be a new one on a descriptor number whose
  // close() did not go through us (close_range, a raw system call).
  struct sockaddr_storage peer;
  socklen_t peer_len = sizeof peer;
  struct in_addr peer_ip;
  uint16_t peer_port;
  if (syscall(SYS_getpeername, fd, (struct sockaddr*)&peer, &peer_len) != 0) return 0;
  if (peer.ss_family == AF_INET) {
    const struct sockaddr_in* in = (const struct sockaddr_in*)&peer;
    peer_ip = in->sin_addr;
    peer_port = in->sin_port;
  } else if (peer.ss_family == AF_INET6) {
    const struct sockaddr_in6* in6 = (const struct sockaddr_in6*)&peer;
    if (!IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return 0;
    memcpy(&peer_ip.s_addr, &in6->sin6_addr.s6_addr[12], 4);
    peer_port = in6->sin6_port;
  } else {
    return 0;
  }
  if (pack(peer_ip, peer_port) != reached) return 0;
  const struct tnet_endpoint original = {{(in_addr_t)(asked >> 16)}, (uint16_t)asked};
  if (peer.ss_family == AF_INET) {
    ((struct sockaddr_in*)&peer)->sin_addr = original.ip;
    ((struct sockaddr_in*)&peer)->sin_port = original.port;
  } else {
    set_target(&peer, 1, original);
  }
  // Truncated to the caller's buffer, with the full length reported, as the kernel does.
  memcpy(addr, &peer, *len < peer_len ? *len : peer_len);
  *len = peer_len;
  return 1;
}

static void copy_record(int from, int to) {
  struct fd_record* src = record_for(from, 0);
  const unsigned long long asked = src != NULL ? atomic_load(&src->asked) : 0;
  if (asked == 0) {
    tnet_balanced_forget(to);
    return;
  }
  struct fd_record* dst = record_for(to, 1);
  if (dst == NULL) return;
  atomic_store(&dst->reached, atomic_load(&src->reached));
  atomic_store(&dst->asked, asked);
}

// --- The descriptor calls that end or duplicate a balanced socket's record ---

TNET_EXPORT int getpeername(int fd, struct sockaddr* restrict addr, socklen_t* restrict len) {
  if (tnet_init() && tnet_balanced_peer(fd, addr, len)) return 0;
  return tnet_real.getpeername != NULL ? tnet_real.getpeername(fd, addr, len)
                                       : (int)syscall(SYS_getpeername, fd, addr, len);
}

TNET_EXPORT int close(int fd) {
  tnet_balanced_forget(fd);  // before the number can be reused by another thread
  return tnet_real.close != NULL ? tnet_real.close(fd) : (int)syscall(SYS_close, fd);
}

TNET_EXPORT int dup(int fd) {
  const int copy = tnet_real.dup != NULL ? tnet_real.dup(fd) : (int)syscall(SYS_dup, fd);
  if (copy >= 0) copy_record(fd, copy);
  return copy;
}

// Before our constructor resolved libc's dup2 (another library's constructor); aarch64 and
// riscv have no dup2 system call, only dup3, which refuses fd == to where dup2 checks fd.
static int dup2_syscall(int fd, int to) {
#ifdef SYS_dup2
  return (int)syscall(SYS_dup2, fd, to);
#else
  if (fd == to) return (int)syscall(SYS_fcntl, fd, F_GETFD) < 0 ? -1 : fd;
  return (int)syscall(SYS_dup3, fd, to, 0);
#endif
}

TNET_EXPORT int dup2(int fd, int to) {
  const int rc = tnet_real.dup2 != NULL ? tnet_real.dup2(fd, to) : dup2_syscall(fd, to);
  if (rc >= 0 && fd != to) copy_record(fd, to);
  return rc;
}

TNET_EXPORT int dup3(int fd, int to, int flags) {
  const int rc = tnet_real.dup3 != NULL ? tnet_real.dup3(fd, to, flags)
                                        : (int)syscall(SYS_dup3, fd, to, flags);
  if (rc >= 0) copy_record(fd, to);
  return rc;
}
