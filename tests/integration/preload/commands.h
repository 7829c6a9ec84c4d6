// The commands of preload_client (also run in-process by preload_forker's child). Each command
// is one line of words and produces one line of output, so the test can drive a running process.
//
//   gai <name> <unspec|inet|inet6> <flags|-> <service|-> <0|stream|dgram>
//       -> "ok [canon=<name>] <ip>/<port>/<socktype>/<protocol>..." | "err <EAI_*>"
//   ghbn <name> | ghbn2 <name> <inet|inet6>      -> "ok <h_name> <ip>..." | "err herr=<n>"
//   ghbnr <name> <buflen> | ghbn2r <name> <af> <buflen>
//       -> "ok <h_name> <ip>..." | "notfound herr=<n>" | "err ret=<n> herr=<n>"
//   get <host> <port>      getaddrinfo + connect + HTTP GET -> "got <body>" | "err <reason>"
//   getaddr <ip> <port>    the same to a numeric address (IPv4 or IPv6 socket by its form)
//   peer <host> <port> <block|nonblock> [<path>]   getaddrinfo + connect (a non-blocking socket
//       waits in poll() and reads SO_ERROR, as event loops do), getpeername() of the socket and of
//       a dup() of it, HTTP GET of <path> (default /)
//       -> "got <body> peer <ip> <port> dup <ip> <port> local <ip> <port>" | "err <reason>"
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>

#include "http_io.h"

#define APPEND(...) \
  (used += (size_t)snprintf(out + used, used < size ? size - used : 0, __VA_ARGS__))

static const char* eai_name(int err) {
  switch (err) {
    case EAI_NONAME:
      return "EAI_NONAME";
    case EAI_AGAIN:
      return "EAI_AGAIN";
    case EAI_FAIL:
      return "EAI_FAIL";
    case EAI_FAMILY:
      return "EAI_FAMILY";
    case EAI_SOCKTYPE:
      return "EAI_SOCKTYPE";
    case EAI_SERVICE:
      return "EAI_SERVICE";
    case EAI_NODATA:
      return "EAI_NODATA";
    case EAI_ADDRFAMILY:
      return "EAI_ADDRFAMILY";
    case EAI_BADFLAGS:
      return "EAI_BADFLAGS";
    default:
      return "EAI_OTHER";
  }
}

static int parse_family(const char* s) {
  if (strcmp(s, "inet") == 0) return AF_INET;
  if (strcmp(s, "inet6") == 0) return AF_INET6;
  return AF_UNSPEC;
}

static int parse_flags(const char* s) {
  int flags = 0;
  if (strstr(s, "v4mapped")) flags |= AI_V4MAPPED;
  if (strstr(s, "canon")) flags |= AI_CANONNAME;
  if (strstr(s, "numerichost")) flags |= AI_NUMERICHOST;
  if (strstr(s, "passive")) flags |= AI_PASSIVE;
  if (strstr(s, "all")) flags |= AI_ALL;
  if (strstr(s, "addrconfig")) flags |= AI_ADDRCONFIG;
  return flags;
}

static void cmd_gai(char** w, int n, char* out, size_t size) {
  size_t used = 0;
  if (n < 6) {
    APPEND("usage");
    return;
  }
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = parse_family(w[2]);
  hints.ai_flags = parse_flags(w[3]);
  hints.ai_socktype = strcmp(w[5], "stream") == 0  ? SOCK_STREAM
                      : strcmp(w[5], "dgram") == 0 ? SOCK_DGRAM
                                                   : 0;
  struct addrinfo* res = NULL;
  int err = getaddrinfo(w[1], strcmp(w[4], "-") == 0 ? NULL : w[4], &hints, &res);
  if (err != 0) {
    APPEND("err %s", eai_name(err));
    return;
  }
  APPEND("ok");
  if (res->ai_canonname != NULL) APPEND(" canon=%s", res->ai_canonname);
  for (struct addrinfo* p = res; p != NULL; p = p->ai_next) {
    char text[128];
    format_sockaddr(p->ai_addr, text, sizeof text);
    *strchr(text, ' ') = '/';
    APPEND(" %s/%d/%d", text, p->ai_socktype, p->ai_protocol);
  }
  freeaddrinfo(res);
}

static void print_hostent(const struct hostent* h, char* out, size_t size) {
  size_t used = 0;
  APPEND("ok %s", h->h_name);
  for (char** a = h->h_addr_list; *a != NULL; ++a) {
    char ip[INET6_ADDRSTRLEN];
    inet_ntop(h->h_addrtype, *a, ip, sizeof ip);
    APPEND(" %s", ip);
  }
}

static void cmd_ghbn(char** w, int n, char* out, size_t size) {
  size_t used = 0;
  struct hostent* h = n >= 3 ? gethostbyname2(w[1], parse_family(w[2])) : gethostbyname(w[1]);
  if (h == NULL)
    APPEND("err herr=%d", h_errno);
  else
    print_hostent(h, out, size);
}

static void cmd_ghbnr(char** w, int n, int with_family, char* out, size_t size) {
  size_t used = 0;
  size_t buflen = (size_t)atoi(w[n - 1]);
  char* buf = malloc(buflen > 0 ? buflen : 1);
  struct hostent host, *result = NULL;
  int herr = 0;
  int ret = with_family
                ? gethostbyname2_r(w[1], parse_family(w[2]), &host, buf, buflen, &result, &herr)
                : gethostbyname_r(w[1], &host, buf, buflen, &result, &herr);
  if (ret != 0)
    APPEND("err ret=%d herr=%d", ret, herr);
  else if (result == NULL)
    APPEND("notfound herr=%d", herr);
  else
    print_hostent(result, out, size);
  free(buf);
}

static int get_over(int fd, const struct sockaddr* sa, socklen_t len, char* out, size_t size) {
  size_t used = 0;
  if (connect(fd, sa, len) != 0) {
    APPEND("err connect %s", strerrorname_np(errno));
    return 0;
  }
  char body[256];
  if (!http_get_body(fd, body, sizeof body)) {
    APPEND("err no response");
    return 0;
  }
  APPEND("got %s", body);
  return 1;
}

// getaddrinfo(host, port) for a stream socket; on failure writes "err EAI_..." to `out` and
// returns NULL.
static struct addrinfo* resolve_stream(const char* host, const char* port, char* out, size_t size) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  int err = getaddrinfo(host, port, &hints, &res);
  if (err != 0) {
    snprintf(out, size, "err %s", eai_name(err));
    return NULL;
  }
  return res;
}

static void cmd_get(char** w, int n, char* out, size_t size) {
  size_t used = 0;
  if (n < 3) {
    APPEND("usage");
    return;
  }
  struct addrinfo* res = resolve_stream(w[1], w[2], out, size);
  if (res == NULL) return;
  for (struct addrinfo* p = res; p != NULL; p = p->ai_next) {
    int fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
    int ok = get_over(fd, p->ai_addr, p->ai_addrlen, out, size);
    close(fd);
    if (ok) break;
  }
  freeaddrinfo(res);
}

static void cmd_getaddr(char** w, int n, char* out, size_t size) {
  struct sockaddr_storage ss;
  socklen_t len = n >= 3 ? parse_sockaddr(w[1], (unsigned)atoi(w[2]), &ss) : 0;
  if (len == 0) {
    snprintf(out, size, "usage");
    return;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (ss.ss_family == AF_INET6) {
    int zero = 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  get_over(fd, (struct sockaddr*)&ss, len, out, size);
  close(fd);
}

static int connect_nonblocking(int fd, const struct sockaddr* sa, socklen_t len) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (connect(fd, sa, len) != 0) {
    if (errno != EINPROGRESS) return errno;
    struct pollfd p = {fd, POLLOUT, 0};
    if (poll(&p, 1, 10000) != 1) return ETIMEDOUT;
    int err = 0;
    socklen_t err_len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
    if (err != 0) return err;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return 0;
}

static void cmd_peer(char** w, int n, char* out, size_t size) {
  size_t used = 0;
  if (n < 4) {
    APPEND("usage");
    return;
  }
  struct addrinfo* res = resolve_stream(w[1], w[2], out, size);
  if (res == NULL) return;
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int err = strcmp(w[3], "nonblock") == 0 ? connect_nonblocking(fd, res->ai_addr, res->ai_addrlen)
            : connect(fd, res->ai_addr, res->ai_addrlen) == 0 ? 0
                                                              : errno;
  freeaddrinfo(res);
  char body[256], peer[128] = "?", dup_peer[128] = "?", local[128] = "?";
  if (err != 0) {
    APPEND("err connect %s", strerrorname_np(err));
  } else {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getpeername(fd, (struct sockaddr*)&ss, &len) == 0)
      format_sockaddr((struct sockaddr*)&ss, peer, sizeof peer);
    int copy = dup(fd);
    len = sizeof ss;
    if (getpeername(copy, (struct sockaddr*)&ss, &len) == 0)
      format_sockaddr((struct sockaddr*)&ss, dup_peer, sizeof dup_peer);
    close(copy);
    len = sizeof ss;
    if (getsockname(fd, (struct sockaddr*)&ss, &len) == 0)
      format_sockaddr((struct sockaddr*)&ss, local, sizeof local);
    if (http_get_path(fd, n >= 5 ? w[4] : "/", body, sizeof body))
      APPEND("got %s peer %s dup %s local %s", body, peer, dup_peer, local);
    else
      APPEND("err no response");
  }
  close(fd);
}

// Splits `line` in place into words and runs the command they form.
static void run_command(char* line, char* out, size_t size) {
  char* w[8];
  int n = 0;
  for (char* tok = strtok(line, " \t\r\n"); tok != NULL && n < 8; tok = strtok(NULL, " \t\r\n"))
    w[n++] = tok;
  out[0] = '\0';
  if (n < 2)
    snprintf(out, size, "usage");
  else if (strcmp(w[0], "gai") == 0)
    cmd_gai(w, n, out, size);
  else if (strcmp(w[0], "ghbn") == 0 || strcmp(w[0], "ghbn2") == 0)
    cmd_ghbn(w, n, out, size);
  else if (strcmp(w[0], "ghbnr") == 0 && n >= 3)
    cmd_ghbnr(w, n, 0, out, size);
  else if (strcmp(w[0], "ghbn2r") == 0 && n >= 4)
    cmd_ghbnr(w, n, 1, out, size);
  else if (strcmp(w[0], "get") == 0)
    cmd_get(w, n, out, size);
  else if (strcmp(w[0], "getaddr") == 0)
    cmd_getaddr(w, n, out, size);
  else if (strcmp(w[0], "peer") == 0)
    cmd_peer(w, n, out, size);
  else
    snprintf(out, size, "unknown command %s", w[0]);
}
