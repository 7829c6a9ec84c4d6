// The two ends of tests/bench/service_up.sh, run as pods (under the preload library) and on the
// host. Plain C, libc only: service_up.sh compiles it with cc, outside the CMake build.
//
//   service_bench serve PORT
//       listens on 0.0.0.0:PORT (the pod's IP under the preload). A request byte 'p' is answered
//       with one byte (a connect-latency probe); 'b' plus an 8-byte big-endian count is answered,
//       on a thread of its own, with that many bytes; then the connection closes. An HTTP
//       request "GET /<count> ..." is answered with a 200 whose body is <count> bytes
//       (Content-Length; tests/bench/tap_up.sh reads it with curl through the traffic tap).
//   service_bench client HOST PORT BYTES CONNECTS
//       resolves HOST once (getaddrinfo: a Service name goes through the preload library), reads
//       BYTES over one connection, then makes CONNECTS sequential connections, each connect + a
//       1-byte round trip + close, with blocking connects and again with non-blocking ones
//       (EINPROGRESS, poll() for POLLOUT, SO_ERROR: what event loops such as Node's do). Prints:
//       "read_mb_s=<MB/s> client_cpu_s_per_gib=<s> connect_median_us=<us> connect_p99_us=<us>
//        nb_connect_median_us=<us> nb_connect_p99_us=<us>" (one line)
//
// Exits non-zero with a message naming what failed; never pass/fail on figures.

#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { CHUNK = 1 << 20 };

static void die(const char* what) {
  fprintf(stderr, "service_bench: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int read_full(int fd, void* buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    const ssize_t n = recv(fd, (char*)buf + got, len - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;
    got += (size_t)n;
  }
  return 1;
}

// Sends the bulk answer: an 8-byte big-endian count, then that many bytes.
static void* send_bulk(void* arg) {
  const int fd = (int)(intptr_t)arg;
  unsigned char be[8];
  if (read_full(fd, be, sizeof be)) {
    uint64_t left = 0;
    for (int i = 0; i < 8; ++i) left = left << 8 | be[i];
    static char data[CHUNK];
    while (left > 0) {
      const ssize_t n = send(fd, data, left < CHUNK ? left : CHUNK, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      left -= (uint64_t)n;
    }
  }
  close(fd);
  return NULL;
}

// The HTTP answer: the request's head ("G" already read) names the body's size in its path.
static void* send_http(void* arg) {
  const int fd = (int)(intptr_t)arg;
  char head[4096] = "G";
  size_t got = 1;
  while (got < sizeof head - 1 && strstr(head, "\r\n\r\n") == NULL) {
    const ssize_t n = recv(fd, head + got, sizeof head - 1 - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
    head[got] = '\0';
  }
  unsigned long long left = 0;
  if (strncmp(head, "GET /", 5) == 0) left = strtoull(head + 5, NULL, 10);
  char answer[128];
  const int len = snprintf(answer, sizeof answer,
                           "HTTP/1.1 200 OK\r\nContent-Length: %llu\r\nConnection: close\r\n\r\n",
                           left);
  (void)!send(fd, answer, (size_t)len, MSG_NOSIGNAL);
  static char data[CHUNK];
  while (left > 0) {
    const ssize_t n = send(fd, data, left < CHUNK ? left : CHUNK, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    left -= (uint64_t)n;
  }
  close(fd);
  return NULL;
}

static int serve(const char* port_text) {
  const int port = atoi(port_text);
  if (port <= 0 || port > 65535) {
    fprintf(stderr, "service_bench: bad port %s\n", port_text);
    return 2;
  }
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (bind(listener, (struct sockaddr*)&addr, sizeof addr) != 0) die("bind");
  if (listen(listener, 1024) != 0) die("listen");
  printf("serving on port %d\n", port);
  fflush(stdout);
  for (;;) {
    const int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE) continue;
      die("accept");
    }
    // Probes are answered here, without a thread start in the measured round trip; the
    // benchmark's clients send their request byte right after connecting.
    char kind = 0;
    if (read_full(fd, &kind, 1) && kind == 'p') (void)!send(fd, &kind, 1, MSG_NOSIGNAL);
    pthread_t thread;
    void* (*answer)(void*) = kind == 'b' ? send_bulk : kind == 'G' ? send_http : NULL;
    if (answer == NULL || pthread_create(&thread, NULL, answer, (void*)(intptr_t)fd) != 0) {
      close(fd);
      continue;
    }
    pthread_detach(thread);
  }
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_s(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static int dial(const struct addrinfo* target, int nonblocking) {
  const int fd =
      socket(target->ai_family, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) die("socket");
  if (connect(fd, target->ai_addr, target->ai_addrlen) == 0) return fd;
  if (!nonblocking || errno != EINPROGRESS) die("connect");
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  int err = 0;
  socklen_t len = sizeof err;
  if (poll(&p, 1, 10000) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) die("poll");
  if (err != 0) {
    errno = err;
    die("connect");
  }
  return fd;
}

static int compare_doubles(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static int client(const char* host, const char* port, const char* bytes_text,
                  const char* connects_text) {
  const uint64_t bytes = strtoull(bytes_text, NULL, 10);
  const long connects = strtol(connects_text, NULL, 10);
  if (bytes == 0 || connects <= 0 || connects > 10000000) {
    fprintf(stderr, "service_bench: bad BYTES %s or CONNECTS %s\n", bytes_text, connects_text);
    return 2;
  }
  struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
  struct addrinfo* target = NULL;
  const int err = getaddrinfo(host, port, &hints, &target);
  if (err != 0) {
    fprintf(stderr, "service_bench: cannot resolve %s: %s\n", host, gai_strerror(err));
    return 1;
  }

  // Bulk: one connection, BYTES from the server to us.
  int fd = dial(target, 0);
  unsigned char request[9] = {'b'};
  for (int i = 0; i < 8; ++i) request[1 + i] = (unsigned char)(bytes >> (56 - 8 * i));
  if (send(fd, request, sizeof request, MSG_NOSIGNAL) != (ssize_t)sizeof request) die("send");
  static char buf[CHUNK];
  uint64_t got = 0;
  const double t0 = now_s(), cpu0 = cpu_s();
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("recv");
    if (n == 0) break;
    got += (uint64_t)n;
  }
  const double secs = now_s() - t0, cpu = cpu_s() - cpu0;
  close(fd);
  if (got != bytes) {
    fprintf(stderr, "service_bench: read %llu of %llu bytes\n", (unsigned long long)got,
            (unsigned long long)bytes);
    return 1;
  }

  // Connect latency: connect, 1-byte round trip, close; one after another.
  double* us = malloc((size_t)connects * sizeof *us);
  if (us == NULL) die("malloc");
  double median[2], p99[2];
  for (int nonblocking = 0; nonblocking < 2; ++nonblocking) {
    for (long i = 0; i < connects; ++i) {
      const double c0 = now_s();
      fd = dial(target, nonblocking);
      char probe = 'p';
      struct pollfd p = {.fd = fd, .events = POLLIN};
      if (send(fd, &probe, 1, MSG_NOSIGNAL) != 1 || poll(&p, 1, 10000) != 1 ||
          recv(fd, &probe, 1, 0) != 1)
        die("probe");
      us[i] = (now_s() - c0) * 1e6;
      close(fd);
    }
    qsort(us, (size_t)connects, sizeof *us, compare_doubles);
    median[nonblocking] = us[connects / 2];
    p99[nonblocking] = us[connects * 99 / 100];
  }
  printf(
      "read_mb_s=%.0f client_cpu_s_per_gib=%.3f connect_median_us=%.1f connect_p99_us=%.1f "
      "nb_connect_median_us=%.1f nb_connect_p99_us=%.1f\n",
      (double)got / 1e6 / secs, cpu / ((double)got / (double)(1ULL << 30)), median[0], p99[0],
      median[1], p99[1]);
  free(us);
  freeaddrinfo(target);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "serve") == 0) return serve(argv[2]);
  if (argc == 6 && strcmp(argv[1], "client") == 0)
    return client(argv[2], argv[3], argv[4], argv[5]);
  fprintf(stderr,
          "usage: service_bench serve PORT\n"
          "       service_bench client HOST PORT BYTES CONNECTS\n");
  return 2;
}
