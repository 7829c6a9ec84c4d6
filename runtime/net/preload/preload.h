#pragma once
// Internal interface of libticketctl_net.so, the LD_PRELOAD library that gives a pod process its
// own loopback IP and cluster DNS names without containers (see docs/networking.md).
//
// Threads: every function here may be called from any thread, and everything reachable from
// bind()/connect() may also run inside a signal handler: those paths never allocate (anonymous
// mmap only), never lock, and only use async-signal-safe system calls.

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define TNET_HIDDEN __attribute__((visibility("hidden")))
#define TNET_EXPORT __attribute__((visibility("default")))

enum {
  TNET_MAX_NAME = 64,   // a Service name or namespace is a DNS label: at most 63 bytes
  TNET_MAX_PORTS = 64,  // declared container ports of one pod
  TNET_MAX_ADDRS = 64,  // addresses returned for one (headless) Service name
  TNET_MAX_PATH = 4096,
  TNET_MAX_FQDN = 256,
};

// What the supervisor told this process about its pod; immutable after initialisation.
struct tnet_pod {
  int active;         // 0: TICKETCTL_POD_IP unset or invalid, the library passes through
  struct in_addr ip;  // network byte order
  char ns[TNET_MAX_NAME];
  uint16_t ports[TNET_MAX_PORTS];  // host byte order
  size_t n_ports;
  char table_path[TNET_MAX_PATH];  // empty: no table, names are never answered
};

TNET_HIDDEN extern struct tnet_pod tnet_pod;

// Reads the environment and resolves the real libc functions once; safe to call repeatedly and
// async-signal-safe once the constructor has run. Returns 1 if the library acts for a pod; with
// 0 every interposed function must behave exactly like the real one.
TNET_HIDDEN int tnet_init(void);
TNET_HIDDEN int tnet_pod_declares_port(uint16_t port);
// Reads TICKETCTL_MOUNTS (paths.c): volume mountPaths mapped to host directories.
TNET_HIDDEN void tnet_paths_init(void);

// The real libc functions (dlsym RTLD_NEXT), resolved by tnet_init(); a field can still be NULL
// when a wrapper runs before the constructor, so callers check.
struct addrinfo;
struct hostent;
struct tnet_real {
  int (*bind)(int, const struct sockaddr*, socklen_t);
  int (*connect)(int, const struct sockaddr*, socklen_t);
  int (*getaddrinfo)(const char*, const char*, const struct addrinfo*, struct addrinfo**);
  void (*freeaddrinfo)(struct addrinfo*);
  struct hostent* (*gethostbyname)(const char*);
  struct hostent* (*gethostbyname2)(const char*, int);
  int (*gethostbyname_r)(const char*, struct hostent*, char*, size_t, struct hostent**, int*);
  int (*gethostbyname2_r)(const char*, int, struct hostent*, char*, size_t, struct hostent**, int*);
  int (*getpeername)(int, struct sockaddr*, socklen_t*);
  int (*close)(int);
  int (*dup)(int);
  int (*dup2)(int, int);
  int (*dup3)(int, int, int);
};
TNET_HIDDEN extern struct tnet_real tnet_real;

// Strict dotted-quad IPv4 parser ("127.80.0.7"); reads at most `len` bytes. Returns 1 on success.
TNET_HIDDEN int tnet_parse_ipv4(const char* s, size_t len, struct in_addr* out);

// --- The table the control plane writes (format in runtime/net/net_table.h) ---

// Re-reads the table file if it was replaced. `force` = 0 checks at most every 100 ms.
TNET_HIDDEN void tnet_table_refresh(int force);

// Result of resolving a name against the table.
struct tnet_answer {
  char fqdn[TNET_MAX_FQDN];  // "name.ns.svc.cluster.local"
  struct in_addr addrs[TNET_MAX_ADDRS];
  size_t n_addrs;  // 0: the Service exists but has no address (headless without ready pods)
};

// Applies the pod's search path to `name`; returns 1 and fills `out` if it names a Service.
TNET_HIDDEN int tnet_table_resolve(const char* name, struct tnet_answer* out);

enum { TNET_MAX_TRIES = 16 };  // endpoints one connect() tries, each at most once

struct tnet_endpoint {
  struct in_addr ip;
  uint16_t port;  // network byte order
};

// The endpoints a connect() to a balanced ClusterIP port tries, in order: the chosen one first
// (round-robin, or by client IP with sessionAffinity: ClientIP), then the next ones of the list.
struct tnet_pick {
  size_t n;  // 0: the port has no ready endpoint
  struct tnet_endpoint order[TNET_MAX_TRIES];
};

// Returns 1 and fills `out` if ip:port (network order) is a balanced ClusterIP port. Always 0 in
// a pod the table marks `tapped` (its connects go to the relay, which the tap observes).
TNET_HIDDEN int tnet_table_pick(struct in_addr ip, uint16_t port, struct tnet_pick* out);

// 1 if `ip` (network order) is a Service address of the table. A connect to one that is not
// balanced goes to the relay (a tapped pod or Service, which the relay observes), and the
// relay tells the tap's source pod by the client's address.
TNET_HIDDEN int tnet_table_service_ip(struct in_addr ip);

// --- Connect-time balancing (balance.c) ---

// If ip:port (network order; what `addr` asks for, AF_INET or an IPv4-mapped AF_INET6) is a
// balanced ClusterIP port, connects `fd` to one of its endpoints, stores connect()'s return value
// in *result with errno set as connect() sets it, and returns 1. Returns 0 otherwise.
TNET_HIDDEN int tnet_balanced_connect(int fd, const struct sockaddr* addr, socklen_t len,
                                      struct in_addr ip, uint16_t port, int saved_errno,
                                      int* result);
// getpeername() of a balanced socket: the ClusterIP:port it asked for. Returns 0 if `fd` is not
// one (then the real getpeername answers).
TNET_HIDDEN int tnet_balanced_peer(int fd, struct sockaddr* addr, socklen_t* len);
// Drops what balance.c recorded for `fd`: it was closed, or connects somewhere not balanced.
// (libuv closes with a raw system call, so a descriptor number may come back without close().)
TNET_HIDDEN void tnet_balanced_forget(int fd);

// Returns 1 and sets the target if the table redirects connect() to ip:port (network order).
TNET_HIDDEN int tnet_table_redirect(struct in_addr ip, uint16_t port, struct in_addr* to_ip,
                                    uint16_t* to_port);
