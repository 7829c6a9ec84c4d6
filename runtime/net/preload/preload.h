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

// Returns 1 and sets the target if the table redirects connect() to ip:port (network order).
TNET_HIDDEN int tnet_table_redirect(struct in_addr ip, uint16_t port, struct in_addr* to_ip,
                                    uint16_t* to_port);
