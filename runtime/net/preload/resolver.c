// getaddrinfo() and the gethostbyname family answer Service names from the table; every other
// name (localhost, example.com, numeric addresses) goes to the real libc function untouched.
//
// getaddrinfo results are built by the real getaddrinfo from the numeric ClusterIP, so the
// socktype/protocol/port expansion, service-name lookup and error codes are glibc's own, and the
// list is allocated exactly as glibc allocates it: the program's freeaddrinfo (glibc's) frees it.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "preload.h"

#define REAL(field, symbol)                       \
  do {                                            \
    if (tnet_real.field == NULL) {                \
      void* sym = dlsym(RTLD_NEXT, symbol);       \
      memcpy(&tnet_real.field, &sym, sizeof sym); \
    }                                             \
  } while (0)

// Numeric host strings never name a Service (Service names start with a letter).
static int is_numeric_host(const char* name) {
  struct in_addr ignored;
  return inet_aton(name, &ignored) != 0 || strchr(name, ':') != NULL;
}

// 1 if `name` is a Service name of the table (the answer may hold no address: a headless
// Service without ready pods, which callers report as "not found").
static int lookup_service(const char* name, struct tnet_answer* answer) {
  if (!tnet_init() || name == NULL || *name == '\0' || is_numeric_host(name)) return 0;
  const int saved_errno = errno;  // names we do not answer must see libc exactly as before
  tnet_table_refresh(1);          // a lookup always sees the latest table
  const int found = tnet_table_resolve(name, answer);
  errno = saved_errno;
  return found;
}

TNET_EXPORT int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                            struct addrinfo** res) {
  REAL(getaddrinfo, "getaddrinfo");
  REAL(freeaddrinfo, "freeaddrinfo");
  const int flags = hints != NULL ? hints->ai_flags : (AI_V4MAPPED | AI_ADDRCONFIG);
  const int family = hints != NULL ? hints->ai_family : AF_UNSPEC;
  struct tnet_answer answer;
  if ((flags & AI_NUMERICHOST) ||
      (family != AF_UNSPEC && family != AF_INET && family != AF_INET6) ||
      !lookup_service(node, &answer))
    return tnet_real.getaddrinfo(node, service, hints, res);

  // Like glibc for a name with only IPv4 addresses: IPv6-only queries get IPv4-mapped addresses
  // if they ask for them, and "not known" otherwise.
  const int mapped = family == AF_INET6;
  if (answer.n_addrs == 0 || (mapped && !(flags & AI_V4MAPPED))) return EAI_NONAME;

  struct addrinfo numeric;
  memset(&numeric, 0, sizeof numeric);
  if (hints != NULL) {
    numeric.ai_socktype = hints->ai_socktype;
    numeric.ai_protocol = hints->ai_protocol;
  }
  numeric.ai_family = mapped ? AF_INET6 : AF_INET;
  // AI_ADDRCONFIG is dropped on purpose: ClusterIPs are loopback addresses, which glibc's
  // "is IPv4 configured" check ignores, yet they are always reachable from a pod.
  numeric.ai_flags = (flags & (AI_PASSIVE | AI_NUMERICSERV)) | AI_NUMERICHOST;

  struct addrinfo* head = NULL;
  struct addrinfo** tail = &head;
  for (size_t i = 0; i < answer.n_addrs; ++i) {
    char text[INET6_ADDRSTRLEN + 8] = "::ffff:";
    inet_ntop(AF_INET, &answer.addrs[i], text + (mapped ? 7 : 0), INET_ADDRSTRLEN);
    struct addrinfo* list = NULL;
    const int err = tnet_real.getaddrinfo(text, service, &numeric, &list);
    if (err != 0) {
      if (head != NULL) tnet_real.freeaddrinfo(head);
      return err;
    }
    *tail = list;
    while (*tail != NULL) tail = &(*tail)->ai_next;
  }
  if ((flags & AI_CANONNAME) && head != NULL) {
    head->ai_canonname = strdup(answer.fqdn);  // glibc's freeaddrinfo frees ai_canonname
    if (head->ai_canonname == NULL) {
      tnet_real.freeaddrinfo(head);
      return EAI_MEMORY;
    }
  }
  *res = head;
  return 0;
}

// Lays out a hostent for `answer` inside `buf` as glibc does: pointer arrays, addresses, name.
static int fill_hostent(const struct tnet_answer* answer, struct hostent* host, char* buf,
                        size_t buflen) {
  const size_t align = (sizeof(char*) - (uintptr_t)buf % sizeof(char*)) % sizeof(char*);
  const size_t n = answer->n_addrs;
  const size_t name_len = strlen(answer->fqdn) + 1;
  const size_t need = align + (n + 2) * sizeof(char*) + n * sizeof(struct in_addr) + name_len;
  if (buflen < need) return ERANGE;
  char** aliases = (char**)(void*)(buf + align);
  char** addr_list = aliases + 1;
  char* addrs = (char*)(addr_list + n + 1);
  char* name = addrs + n * sizeof(struct in_addr);
  aliases[0] = NULL;
  for (size_t i = 0; i < n; ++i) {
    memcpy(addrs + i * sizeof(struct in_addr), &answer->addrs[i], sizeof(struct in_addr));
    addr_list[i] = addrs + i * sizeof(struct in_addr);
  }
  addr_list[n] = NULL;
  memcpy(name, answer->fqdn, name_len);
  host->h_name = name;
  host->h_aliases = aliases;
  host->h_addrtype = AF_INET;
  host->h_length = sizeof(struct in_addr);
  host->h_addr_list = addr_list;
  return 0;
}

// A Service name asked for an address family it has no address in reads as unknown, like a
// name in /etc/hosts with only an IPv4 address.
static int answer_r(struct tnet_answer* answer, int af, struct hostent* ret, char* buf,
                    size_t buflen, struct hostent** result, int* h_errnop) {
  *result = NULL;
  if (af != AF_INET || answer->n_addrs == 0) {
    *h_errnop = HOST_NOT_FOUND;
    return 0;
  }
  if (fill_hostent(answer, ret, buf, buflen) != 0) {
    *h_errnop = NETDB_INTERNAL;
    errno = ERANGE;
    return ERANGE;
  }
  *h_errnop = NETDB_SUCCESS;
  *result = ret;
  return 0;
}

// The non-reentrant functions return per-thread storage (glibc's is shared by all threads).
enum {
  HOSTENT_BUFFER = (TNET_MAX_ADDRS + 2) * sizeof(char*) + TNET_MAX_ADDRS * 4 + TNET_MAX_FQDN + 16
};
static __thread struct hostent tls_host;
static __thread char tls_buffer[HOSTENT_BUFFER];

static struct hostent* answer_static(struct tnet_answer* answer, int af) {
  struct hostent* result = NULL;
  int herr = 0;
  answer_r(answer, af, &tls_host, tls_buffer, sizeof tls_buffer, &result, &herr);
  h_errno = herr;
  return result;
}

TNET_EXPORT struct hostent* gethostbyname(const char* name) {
  REAL(gethostbyname, "gethostbyname");
  struct tnet_answer answer;
  if (!lookup_service(name, &answer)) return tnet_real.gethostbyname(name);
  return answer_static(&answer, AF_INET);
}

TNET_EXPORT struct hostent* gethostbyname2(const char* name, int af) {
  REAL(gethostbyname2, "gethostbyname2");
  struct tnet_answer answer;
  if ((af != AF_INET && af != AF_INET6) || !lookup_service(name, &answer))
    return tnet_real.gethostbyname2(name, af);
  return answer_static(&answer, af);
}

TNET_EXPORT int gethostbyname_r(const char* name, struct hostent* ret, char* buf, size_t buflen,
                                struct hostent** result, int* h_errnop) {
  REAL(gethostbyname_r, "gethostbyname_r");
  struct tnet_answer answer;
  if (!lookup_service(name, &answer))
    return tnet_real.gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
  return answer_r(&answer, AF_INET, ret, buf, buflen, result, h_errnop);
}

TNET_EXPORT int gethostbyname2_r(const char* name, int af, struct hostent* ret, char* buf,
                                 size_t buflen, struct hostent** result, int* h_errnop) {
  REAL(gethostbyname2_r, "gethostbyname2_r");
  struct tnet_answer answer;
  if ((af != AF_INET && af != AF_INET6) || !lookup_service(name, &answer))
    return tnet_real.gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop);
  return answer_r(&answer, af, ret, buf, buflen, result, h_errnop);
}
