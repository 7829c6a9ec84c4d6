// Small shared pieces of the preload test programs: printing addresses, a one-shot HTTP GET on a
// connected socket, and a line-at-a-time stdout the test reads with deadlines.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static inline void say(const char* fmt_line) {
  fputs(fmt_line, stdout);
  fputc('\n', stdout);
  fflush(stdout);
}

// "127.80.0.7 3000" or "::ffff:127.80.0.7 3000".
static inline void format_sockaddr(const struct sockaddr* sa, char* out, size_t size) {
  char ip[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in* in = (const struct sockaddr_in*)(const void*)sa;
    inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6* in6 = (const struct sockaddr_in6*)(const void*)sa;
    inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    port = ntohs(in6->sin6_port);
  }
  snprintf(out, size, "%s %u", ip, port);
}

// Fills a sockaddr from a numeric IPv4 or IPv6 address; returns its length or 0.
static inline socklen_t parse_sockaddr(const char* ip, unsigned port, struct sockaddr_storage* ss) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in* in = (struct sockaddr_in*)ss;
  struct sockaddr_in6* in6 = (struct sockaddr_in6*)ss;
  if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons((unsigned short)port);
    return sizeof *in;
  }
  if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((unsigned short)port);
    return sizeof *in6;
  }
  return 0;
}

// Sends a GET of `path` on a connected socket and copies the response body's first line into
// `body`.
static inline int http_get_path(int fd, const char* path, char* body, size_t size) {
  char request[512];
  const int sent = snprintf(request, sizeof request, "GET %s HTTP/1.0\r\nHost: test\r\n\r\n", path);
  if (sent < 0 || (size_t)sent >= sizeof request || write(fd, request, (size_t)sent) != sent)
    return 0;
  char response[4096];
  size_t got = 0;
  ssize_t n;
  while (got < sizeof response - 1 && (n = read(fd, response + got, sizeof response - 1 - got)) > 0)
    got += (size_t)n;
  response[got] = '\0';
  const char* start = strstr(response, "\r\n\r\n");
  if (start == NULL) return 0;
  start += 4;
  size_t len = strcspn(start, "\r\n");
  if (len >= size) len = size - 1;
  memcpy(body, start, len);
  body[len] = '\0';
  return 1;
}

static inline int http_get_body(int fd, char* body, size_t size) {
  return http_get_path(fd, "/", body, size);
}
