// A statically linked client, which the preload library cannot reach: it finds a Service only
// through the Kubernetes variables <SVC>_SERVICE_HOST / <SVC>_SERVICE_PORT, as Go programs and
// other static binaries must. net_static_client SVC_PREFIX: GETs / from that Service and prints
// "static got <first line of the body>" (or "static error <reason>"), then exits.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  char host_var[128], port_var[128];
  snprintf(host_var, sizeof host_var, "%s_SERVICE_HOST", argv[1]);
  snprintf(port_var, sizeof port_var, "%s_SERVICE_PORT", argv[1]);
  const char* host = getenv(host_var);
  const char* port = getenv(port_var);
  if (host == NULL || port == NULL) {
    printf("static error %s or %s not set\n", host_var, port_var);
    return 1;
  }
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)atoi(port));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1 ||
      connect(fd, (struct sockaddr*)&addr, sizeof addr) != 0) {
    printf("static error connect %s:%s: %s\n", host, port, strerror(errno));
    return 1;
  }
  static const char request[] = "GET / HTTP/1.0\r\nHost: static\r\n\r\n";
  if (write(fd, request, sizeof request - 1) != (ssize_t)(sizeof request - 1)) return 1;
  char response[4096];
  size_t got = 0;
  ssize_t n;
  while (got < sizeof response - 1 && (n = read(fd, response + got, sizeof response - 1 - got)) > 0)
    got += (size_t)n;
  response[got] = '\0';
  char* body = strstr(response, "\r\n\r\n");
  if (body == NULL) {
    printf("static error no response\n");
    return 1;
  }
  body += 4;
  body[strcspn(body, "\r\n")] = '\0';
  printf("static got %s\n", body);
  return 0;
}
