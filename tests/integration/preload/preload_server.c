// A pod's server: preload_server <greeting> <addr> <port> [<addr> <port>...]. Listens on each
// address like a typical server does (SO_REUSEADDR, IPv6 sockets dual-stack), prints
// "listening <ip> <port>" from getsockname() for each, then "ready", and answers every HTTP
// request with <greeting>. Exits when stdin closes, so it never outlives the test.
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "http_io.h"

enum { MAX_LISTENERS = 8 };

static void serve(int listener, const char* greeting) {
  int fd = accept(listener, NULL, NULL);
  if (fd < 0) return;
  char request[4096];
  size_t got = 0;
  ssize_t n;
  while (got < sizeof request - 1 && (n = read(fd, request + got, sizeof request - 1 - got)) > 0) {
    got += (size_t)n;
    request[got] = '\0';
    if (strstr(request, "\r\n\r\n") != NULL) break;
  }
  char response[512];
  int len = snprintf(response, sizeof response,
                     "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s\n",
                     strlen(greeting) + 1, greeting);
  if (write(fd, response, (size_t)len) != len) perror("write");
  close(fd);
}

int main(int argc, char** argv) {
  if (argc < 4 || argc % 2 != 0 || (argc - 2) / 2 > MAX_LISTENERS) {
    fprintf(stderr, "usage: %s greeting addr port [addr port...]\n", argv[0]);
    return 2;
  }
  struct pollfd fds[MAX_LISTENERS + 1];
  int n_fds = 0;
  for (int i = 2; i < argc; i += 2) {
    struct sockaddr_storage ss;
    socklen_t len = parse_sockaddr(argv[i], (unsigned)atoi(argv[i + 1]), &ss);
    if (len == 0) return 2;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (bind(fd, (struct sockaddr*)&ss, len) != 0 || listen(fd, 64) != 0) {
      printf("bind-error %s %s %s\n", argv[i], argv[i + 1], strerrorname_np(errno));
      fflush(stdout);
      return 1;
    }
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof bound;
    getsockname(fd, (struct sockaddr*)&bound, &bound_len);
    char text[128], line[160];
    format_sockaddr((struct sockaddr*)&bound, text, sizeof text);
    snprintf(line, sizeof line, "listening %s", text);
    say(line);
    fds[n_fds].fd = fd;
    fds[n_fds++].events = POLLIN;
  }
  say("ready");
  fds[n_fds].fd = 0;
  fds[n_fds].events = POLLIN;
  for (;;) {
    if (poll(fds, (nfds_t)n_fds + 1, -1) < 0 && errno != EINTR) return 1;
    if (fds[n_fds].revents != 0) {
      char buf[256];
      if (read(0, buf, sizeof buf) <= 0) return 0;
    }
    for (int i = 0; i < n_fds; ++i)
      if (fds[i].revents & POLLIN) serve(fds[i].fd, argv[1]);
  }
}
