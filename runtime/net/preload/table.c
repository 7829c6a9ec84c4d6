// The Service/redirect table, read from the file the control plane replaces by rename().
//
// Each version of the file becomes an immutable snapshot in one anonymous mmap() region, published
// through an atomic pointer, so readers (connect() included, possibly inside a signal handler)
// never lock or allocate. A replaced snapshot is retired and unmapped only when no reader is
// inside the table (a global reader count reads zero after it was unpublished); until then it
// stays mapped. If a reader count is left behind forever (fork() while another thread was
// reading), retired snapshots are never unmapped: a leak of one table's size per later reload,
// the accepted price of never blocking.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "preload.h"

enum { MAX_TABLE_BYTES = 16 << 20, RECHECK_NS = 100 * 1000 * 1000 };

struct service {
  char name[TNET_MAX_NAME];
  char ns[TNET_MAX_NAME];
  size_t first_addr;
  size_t n_addrs;
};

struct redirect {
  struct in_addr ip, to_ip;
  uint16_t port, to_port;  // network byte order
};

// backends <ip> <port> <affinity> <endpoints>: a ClusterIP port balanced at connect time.
struct balanced {
  struct in_addr ip;
  uint16_t port;  // network byte order
  int client_ip_affinity;
  size_t first_endpoint;
  size_t n_endpoints;
  atomic_uint next;  // round-robin position; this process's own (the snapshot is private)
};

struct snapshot {
  size_t map_size;
  dev_t dev;  // identity of the file this was read from
  ino_t ino;
  struct timespec mtime;
  off_t size;
  struct snapshot* next_retired;
  struct service* services;
  size_t n_services;
  struct redirect* redirects;
  size_t n_redirects;
  struct in_addr* addrs;
  size_t n_addrs;
  struct balanced* balanced;
  size_t n_balanced;
  struct tnet_endpoint* endpoints;
  size_t n_endpoints;
  int self_tapped;  // a `tapped` line names this pod: balance nothing, the relay observes
};

static _Atomic(struct snapshot*) current;
static _Atomic(struct snapshot*) retired;
static atomic_long readers;
static atomic_llong last_check_ns;

static void enter(void) {
  atomic_fetch_add(&readers, 1);
}
static void leave(void) {
  atomic_fetch_sub(&readers, 1);
}

static void* map_anonymous(size_t size) {
  void* p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static char lower(char c) {
  return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int equal_nocase(const char* a, size_t a_len, const char* b) {
  size_t i = 0;
  for (; i < a_len; ++i)
    if (b[i] == '\0' || lower(a[i]) != lower(b[i])) return 0;
  return b[i] == '\0';
}

// --- Parsing: one line at a time, fields separated by blanks, '#' starts a comment ---

struct token {
  const char* s;
  size_t len;
};

static size_t split_fields(const char* line, size_t len, struct token* out, size_t max) {
  size_t n = 0, i = 0;
  while (n < max) {
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    if (i >= len || line[i] == '#') break;
    out[n].s = line + i;
    while (i < len && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    out[n].len = (size_t)(line + i - out[n].s);
    ++n;
  }
  return n;
}

static int token_is(struct token t, const char* word) {
  return t.len == strlen(word) && memcmp(t.s, word, t.len) == 0;
}

static int parse_port(struct token t, uint16_t* out) {
  unsigned value = 0;
  if (t.len == 0 || t.len > 5) return 0;
  for (size_t i = 0; i < t.len; ++i) {
    if (t.s[i] < '0' || t.s[i] > '9') return 0;
    value = value * 10 + (unsigned)(t.s[i] - '0');
  }
  if (value == 0 || value > 65535) return 0;
  *out = htons((uint16_t)value);
  return 1;
}

static int copy_label(struct token t, char* dst) {
  if (t.len == 0 || t.len >= TNET_MAX_NAME) return 0;
  memcpy(dst, t.s, t.len);
  dst[t.len] = '\0';
  return 1;
}

// svc <name> <namespace> <ip>[,<ip>...] | -
static void parse_service(struct snapshot* snap, const struct token* f, size_t n) {
  if (n < 4) return;
  struct service* svc = &snap->services[snap->n_services];
  if (!copy_label(f[1], svc->name) || !copy_label(f[2], svc->ns)) return;
  svc->first_addr = snap->n_addrs;
  svc->n_addrs = 0;
  if (!token_is(f[3], "-")) {
    const char* p = f[3].s;
    const char* end = f[3].s + f[3].len;
    while (p < end) {
      const char* comma = memchr(p, ',', (size_t)(end - p));
      if (comma == NULL) comma = end;
      // IPv6 Service IPs are not supported: anything but IPv4 is skipped.
      if (tnet_parse_ipv4(p, (size_t)(comma - p), &snap->addrs[snap->n_addrs])) {
        ++snap->n_addrs;
        ++svc->n_addrs;
      }
      p = comma + 1;
    }
  }
  ++snap->n_services;
}

// redirect <ip> <port> <to-ip> <to-port>
static void parse_redirect(struct snapshot* snap, const struct token* f, size_t n) {
  if (n < 5) return;
  struct redirect* r = &snap->redirects[snap->n_redirects];
  if (tnet_parse_ipv4(f[1].s, f[1].len, &r->ip) && parse_port(f[2], &r->port) &&
      tnet_parse_ipv4(f[3].s, f[3].len, &r->to_ip) && parse_port(f[4], &r->to_port))
    ++snap->n_redirects;
}

// Mixes bits so that neighbouring inputs give unrelated outputs (splitmix64's finaliser).
static uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// "127.80.0.7:3000"
static int parse_endpoint(const char* s, size_t len, struct tnet_endpoint* out) {
  const char* colon = memchr(s, ':', len);
  if (colon == NULL) return 0;
  const struct token port = {colon + 1, (size_t)(s + len - colon - 1)};
  return tnet_parse_ipv4(s, (size_t)(colon - s), &out->ip) && parse_port(port, &out->port);
}

// backends <ip> <port> <none|clientip> <ip>:<port>[,<ip>:<port>...] | -
static void parse_balanced(struct snapshot* snap, const struct token* f, size_t n, uint64_t seed) {
  if (n < 5) return;
  struct balanced* b = &snap->balanced[snap->n_balanced];
  if (!tnet_parse_ipv4(f[1].s, f[1].len, &b->ip) || !parse_port(f[2], &b->port)) return;
  b->client_ip_affinity = token_is(f[3], "clientip");
  b->first_endpoint = snap->n_endpoints;
  b->n_endpoints = 0;
  if (!token_is(f[4], "-")) {
    const char* p = f[4].s;
    const char* end = f[4].s + f[4].len;
    while (p < end) {
      const char* comma = memchr(p, ',', (size_t)(end - p));
      if (comma == NULL) comma = end;
      if (parse_endpoint(p, (size_t)(comma - p), &snap->endpoints[snap->n_endpoints])) {
        ++snap->n_endpoints;
        ++b->n_endpoints;
      }
      p = comma + 1;
    }
  }
  // Each process starts its rotation somewhere else, so that many short-lived clients (one
  // connect each) do not all land on the first endpoint.
  atomic_init(&b->next, (unsigned)mix(seed + snap->n_balanced));
  ++snap->n_balanced;
}

// tapped <pod-ip>: only the line naming this pod matters to this process.
static void parse_tapped(struct snapshot* snap, const struct token* f, size_t n) {
  struct in_addr ip;
  if (n >= 2 && tnet_pod.active && tnet_parse_ipv4(f[1].s, f[1].len, &ip) &&
      ip.s_addr == tnet_pod.ip.s_addr)
    snap->self_tapped = 1;
}

static void parse_table(struct snapshot* snap, const char* text, size_t len, uint64_t seed) {
  const char* line = text;
  const char* end = text + len;
  while (line < end) {
    const char* nl = memchr(line, '\n', (size_t)(end - line));
    if (nl == NULL) nl = end;
    struct token f[6];
    size_t n = split_fields(line, (size_t)(nl - line), f, 6);
    if (n > 0 && token_is(f[0], "svc")) parse_service(snap, f, n);
    if (n > 0 && token_is(f[0], "redirect")) parse_redirect(snap, f, n);
    if (n > 0 && token_is(f[0], "backends")) parse_balanced(snap, f, n, seed);
    if (n > 0 && token_is(f[0], "tapped")) parse_tapped(snap, f, n);
    // Other kinds are ignored: a newer control plane may write lines this library predates.
    line = nl + 1;
  }
}

static int read_all(int fd, char* buf, size_t size, size_t* got) {
  *got = 0;
  while (*got < size) {
    ssize_t n = read(fd, buf + *got, size - *got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return 0;
    if (n == 0) break;
    *got += (size_t)n;
  }
  return 1;
}

static struct snapshot* load_table(const char* path) {
  int fd;
  do fd = open(path, O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return NULL;
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < 0 || st.st_size > MAX_TABLE_BYTES) {
    close(fd);
    return NULL;
  }
  const size_t text_size = (size_t)st.st_size + 1;
  char* text = map_anonymous(text_size);
  size_t len = 0;
  int ok = text != NULL && read_all(fd, text, text_size - 1, &len);
  close(fd);
  if (!ok) {
    if (text != NULL) munmap(text, text_size);
    return NULL;
  }

  // Upper bounds: every line is at most one entry, every comma adds at most one address or
  // endpoint.
  size_t lines = 1, commas = 0;
  for (size_t i = 0; i < len; ++i) {
    lines += text[i] == '\n';
    commas += text[i] == ',';
  }
  const size_t map_size = sizeof(struct snapshot) + lines * sizeof(struct balanced) +
                          lines * sizeof(struct service) + lines * sizeof(struct redirect) +
                          (lines + commas) * sizeof(struct tnet_endpoint) +
                          (lines + commas) * sizeof(struct in_addr);
  struct snapshot* snap = map_anonymous(map_size);
  if (snap != NULL) {
    snap->map_size = map_size;
    snap->dev = st.st_dev;
    snap->ino = st.st_ino;
    snap->mtime = st.st_mtim;
    snap->size = st.st_size;
    // Largest alignment first: every array stays aligned for its type.
    snap->balanced = (struct balanced*)(snap + 1);
    snap->services = (struct service*)(snap->balanced + lines);
    snap->redirects = (struct redirect*)(snap->services + lines);
    snap->endpoints = (struct tnet_endpoint*)(snap->redirects + lines);
    snap->addrs = (struct in_addr*)(snap->endpoints + lines + commas);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    const uint64_t seed = mix((uint64_t)getpid() << 32 ^ (uint64_t)now.tv_nsec);
    parse_table(snap, text, len, seed);
  }
  munmap(text, text_size);
  return snap;
}

static int same_file(const struct snapshot* snap, const struct stat* st) {
  return snap->dev == st->st_dev && snap->ino == st->st_ino && snap->size == st->st_size &&
         snap->mtime.tv_sec == st->st_mtim.tv_sec && snap->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static void push_retired(struct snapshot* first, struct snapshot* last) {
  struct snapshot* head = atomic_load(&retired);
  do last->next_retired = head;
  while (!atomic_compare_exchange_weak(&retired, &head, first));
}

// Unmaps retired snapshots if no reader can still hold one: every snapshot in the list was
// unpublished before we took the list, and a reader that entered later sees a newer pointer.
static void collect_retired(void) {
  struct snapshot* list = atomic_exchange(&retired, NULL);
  if (list == NULL) return;
  if (atomic_load(&readers) != 0) {
    struct snapshot* last = list;
    while (last->next_retired != NULL) last = last->next_retired;
    push_retired(list, last);
    return;
  }
  while (list != NULL) {
    struct snapshot* next = list->next_retired;
    munmap(list, list->map_size);
    list = next;
  }
}

void tnet_table_refresh(int force) {
  if (tnet_pod.table_path[0] == '\0') return;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  const long long now_ns = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
  const long long last = atomic_load(&last_check_ns);
  if (!force && last != 0 && now_ns - last < RECHECK_NS) return;
  atomic_store(&last_check_ns, now_ns);

  struct stat st;
  if (stat(tnet_pod.table_path, &st) != 0) return;  // keep the last table we saw
  enter();
  struct snapshot* cur = atomic_load(&current);
  const int unchanged = cur != NULL && same_file(cur, &st);
  leave();
  if (unchanged) return;

  struct snapshot* fresh = load_table(tnet_pod.table_path);
  if (fresh == NULL) return;
  // If another thread published meanwhile, its table is at least as new as ours: drop ours.
  if (!atomic_compare_exchange_strong(&current, &cur, fresh)) {
    munmap(fresh, fresh->map_size);
    return;
  }
  if (cur != NULL) push_retired(cur, cur);
  collect_retired();
}

static const struct service* find_service(const struct snapshot* snap, const char* name,
                                          size_t name_len, const char* ns, size_t ns_len) {
  for (size_t i = 0; i < snap->n_services; ++i) {
    const struct service* svc = &snap->services[i];
    if (equal_nocase(name, name_len, svc->name) && equal_nocase(ns, ns_len, svc->ns)) return svc;
  }
  return NULL;
}

static const char kClusterSuffix[] = ".svc.cluster.local";

// `fqdn` must read <service>.<namespace>.svc.cluster.local, each part one label.
static int answer_fqdn(const struct snapshot* snap, const char* fqdn, size_t len,
                       struct tnet_answer* out) {
  const size_t suffix_len = sizeof kClusterSuffix - 1;
  if (len <= suffix_len || !equal_nocase(fqdn + len - suffix_len, suffix_len, kClusterSuffix))
    return 0;
  const size_t prefix_len = len - suffix_len;
  const char* dot = memchr(fqdn, '.', prefix_len);
  if (dot == NULL || dot == fqdn || dot + 1 == fqdn + prefix_len ||
      memchr(dot + 1, '.', (size_t)(fqdn + prefix_len - dot - 1)) != NULL)
    return 0;
  const struct service* svc = find_service(snap, fqdn, (size_t)(dot - fqdn), dot + 1,
                                           (size_t)(fqdn + prefix_len - dot - 1));
  if (svc == NULL) return 0;

  char* p = out->fqdn;  // name and ns are < 64 bytes each, so this fits TNET_MAX_FQDN
  size_t n = strlen(svc->name);
  memcpy(p, svc->name, n);
  p += n;
  *p++ = '.';
  n = strlen(svc->ns);
  memcpy(p, svc->ns, n);
  p += n;
  memcpy(p, kClusterSuffix, sizeof kClusterSuffix);
  out->n_addrs = svc->n_addrs < TNET_MAX_ADDRS ? svc->n_addrs : TNET_MAX_ADDRS;
  memcpy(out->addrs, &snap->addrs[svc->first_addr], out->n_addrs * sizeof(struct in_addr));
  return 1;
}

int tnet_table_resolve(const char* name, struct tnet_answer* out) {
  size_t len = strlen(name);
  const int absolute = len > 0 && name[len - 1] == '.';
  if (absolute) --len;
  if (len == 0 || len >= TNET_MAX_FQDN) return 0;

  // The candidates resolv.conf would try with "search <ns>.svc.cluster.local svc.cluster.local
  // cluster.local" and ndots:5; at most one of them can have the shape of a Service name.
  const char* suffixes[4] = {NULL, ".svc.cluster.local", ".cluster.local", ""};
  char pod_suffix[TNET_MAX_NAME + sizeof kClusterSuffix + 1];
  pod_suffix[0] = '.';
  size_t ns_len = strlen(tnet_pod.ns);
  memcpy(pod_suffix + 1, tnet_pod.ns, ns_len);
  memcpy(pod_suffix + 1 + ns_len, kClusterSuffix, sizeof kClusterSuffix);
  suffixes[0] = pod_suffix;

  int found = 0;
  enter();
  const struct snapshot* snap = atomic_load(&current);
  for (size_t i = absolute ? 3 : 0; snap != NULL && i < 4 && !found; ++i) {
    char candidate[2 * TNET_MAX_FQDN];
    const size_t suffix_len = strlen(suffixes[i]);
    memcpy(candidate, name, len);
    memcpy(candidate + len, suffixes[i], suffix_len + 1);
    found = answer_fqdn(snap, candidate, len + suffix_len, out);
  }
  leave();
  return found;
}

int tnet_table_redirect(struct in_addr ip, uint16_t port, struct in_addr* to_ip,
                        uint16_t* to_port) {
  int found = 0;
  enter();
  const struct snapshot* snap = atomic_load(&current);
  for (size_t i = 0; snap != NULL && i < snap->n_redirects && !found; ++i) {
    const struct redirect* r = &snap->redirects[i];
    if (r->ip.s_addr == ip.s_addr && r->port == port) {
      *to_ip = r->to_ip;
      *to_port = r->to_port;
      found = 1;
    }
  }
  leave();
  return found;
}

// Highest random weight (rendezvous hashing): every process of one pod picks the same endpoint for
// the same set, and removing another endpoint never moves a client off its own.
static size_t affinity_choice(const struct tnet_endpoint* eps, size_t n, struct in_addr client) {
  size_t best = 0;
  uint64_t best_weight = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t key = (uint64_t)eps[i].ip.s_addr << 16 | eps[i].port;
    const uint64_t weight = mix(mix(client.s_addr) ^ key);
    if (i == 0 || weight > best_weight) {
      best = i;
      best_weight = weight;
    }
  }
  return best;
}

int tnet_table_service_ip(struct in_addr ip) {
  int found = 0;
  enter();
  const struct snapshot* snap = atomic_load(&current);
  for (size_t i = 0; snap != NULL && i < snap->n_addrs && !found; ++i)
    found = snap->addrs[i].s_addr == ip.s_addr;
  leave();
  return found;
}

int tnet_table_pick(struct in_addr ip, uint16_t port, struct tnet_pick* out) {
  int found = 0;
  enter();
  struct snapshot* snap = atomic_load(&current);
  // A tapped pod balances nothing: its connects go to the ClusterIP, where the relay observes.
  if (snap != NULL && snap->self_tapped) snap = NULL;
  for (size_t i = 0; snap != NULL && i < snap->n_balanced && !found; ++i) {
    struct balanced* b = &snap->balanced[i];
    if (b->ip.s_addr != ip.s_addr || b->port != port) continue;
    found = 1;
    const struct tnet_endpoint* eps = &snap->endpoints[b->first_endpoint];
    const size_t n = b->n_endpoints;
    size_t start = 0;
    if (n > 0)
      start = b->client_ip_affinity ? affinity_choice(eps, n, tnet_pod.ip)
                                    : atomic_fetch_add(&b->next, 1) % n;
    out->n = n < TNET_MAX_TRIES ? n : TNET_MAX_TRIES;
    for (size_t j = 0; j < out->n; ++j) out->order[j] = eps[(start + j) % n];
  }
  leave();
  return found;
}
