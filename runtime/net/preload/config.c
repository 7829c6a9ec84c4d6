// Process start: what the supervisor put in the environment, and where the real libc functions
// are. Runs as a constructor, before main and before any thread of the program exists.

#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "preload.h"

struct tnet_pod tnet_pod;
struct tnet_real tnet_real;

int tnet_parse_ipv4(const char* s, size_t len, struct in_addr* out) {
  uint32_t addr = 0;
  size_t i = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (i >= len || s[i] != '.') return 0;
      ++i;
    }
    unsigned value = 0;
    size_t digits = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9' && digits < 4) {
      value = value * 10 + (unsigned)(s[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0 || digits > 3 || value > 255) return 0;
    addr = (addr << 8) | value;
  }
  if (i != len) return 0;
  out->s_addr = htonl(addr);
  return 1;
}

int tnet_pod_declares_port(uint16_t port) {
  for (size_t i = 0; i < tnet_pod.n_ports; ++i)
    if (tnet_pod.ports[i] == port) return 1;
  return 0;
}

static void copy_env(const char* name, char* dst, size_t size, const char* fallback) {
  const char* value = getenv(name);
  if (value == NULL || *value == '\0') value = fallback;
  size_t n = strlen(value);
  if (n >= size) n = 0;  // too long to be a namespace or a path we could open: treat as unset
  memcpy(dst, value, n);
  dst[n] = '\0';
}

static void parse_ports(const char* list) {
  unsigned value = 0;
  int digits = 0;
  for (const char* p = list;; ++p) {
    if (*p >= '0' && *p <= '9') {
      value = value * 10 + (unsigned)(*p - '0');
      if (value > 65535) value = 65536;  // invalid, dropped below
      ++digits;
    } else {
      if (digits > 0 && value > 0 && value <= 65535 && tnet_pod.n_ports < TNET_MAX_PORTS)
        tnet_pod.ports[tnet_pod.n_ports++] = (uint16_t)value;
      value = 0;
      digits = 0;
      if (*p == '\0') break;
    }
  }
}

// ISO C has no conversion from void* to a function pointer; POSIX guarantees this copy works.
#define RESOLVE(field, symbol)                  \
  do {                                          \
    void* sym = dlsym(RTLD_NEXT, symbol);       \
    memcpy(&tnet_real.field, &sym, sizeof sym); \
  } while (0)

static atomic_int init_state;  // 0 not started, 1 running, 2 done

int tnet_init(void) {
  int expected = 0;
  int state = atomic_load(&init_state);
  if (state == 2) return tnet_pod.active;
  if (state == 1 || !atomic_compare_exchange_strong(&init_state, &expected, 1))
    return 0;  // another thread is at it (only possible before our constructor ran): pass through
  RESOLVE(bind, "bind");
  RESOLVE(connect, "connect");
  RESOLVE(getaddrinfo, "getaddrinfo");
  RESOLVE(freeaddrinfo, "freeaddrinfo");
  RESOLVE(gethostbyname, "gethostbyname");
  RESOLVE(gethostbyname2, "gethostbyname2");
  RESOLVE(gethostbyname_r, "gethostbyname_r");
  RESOLVE(gethostbyname2_r, "gethostbyname2_r");
  RESOLVE(getpeername, "getpeername");
  RESOLVE(close, "close");
  RESOLVE(dup, "dup");
  RESOLVE(dup2, "dup2");
  RESOLVE(dup3, "dup3");

  tnet_paths_init();
  const char* ip = getenv("TICKETCTL_POD_IP");
  if (ip != NULL && tnet_parse_ipv4(ip, strlen(ip), &tnet_pod.ip)) {
    copy_env("TICKETCTL_POD_NAMESPACE", tnet_pod.ns, sizeof tnet_pod.ns, "default");
    copy_env("TICKETCTL_NET_TABLE", tnet_pod.table_path, sizeof tnet_pod.table_path, "");
    const char* ports = getenv("TICKETCTL_POD_PORTS");
    if (ports != NULL) parse_ports(ports);
    tnet_pod.active = 1;
  }
  atomic_store(&init_state, 2);
  return tnet_pod.active;
}

__attribute__((constructor)) static void tnet_constructor(void) {
  (void)tnet_init();
}
