// A pod process with children: preload_forker <port> <client> <host> <host-port>. Listens on
// 0.0.0.0:<port> and prints "listening <ip> <port>"; a fork()ed child then fetches
// http://<host>:<host-port>/ in-process ("child got ..."), and a fork()+exec()ed <client> does
// the same ("exec got ..."), showing the library survives both.
#include <sys/wait.h>

#include "commands.h"

static void run_in_child(const char* prefix, char* command) {
  char out[1024], line[1100];
  run_command(command, out, sizeof out);
  snprintf(line, sizeof line, "%s %s", prefix, out);
  say(line);
}

int main(int argc, char** argv) {
  if (argc != 5) return 2;
  struct sockaddr_storage ss;
  socklen_t len = parse_sockaddr("0.0.0.0", (unsigned)atoi(argv[1]), &ss);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr*)&ss, len) != 0 || listen(fd, 8) != 0) {
    printf("bind-error %s\n", strerrorname_np(errno));
    return 1;
  }
  struct sockaddr_storage bound;
  socklen_t bound_len = sizeof bound;
  getsockname(fd, (struct sockaddr*)&bound, &bound_len);
  char text[128], line[160];
  format_sockaddr((struct sockaddr*)&bound, text, sizeof text);
  snprintf(line, sizeof line, "listening %s", text);
  say(line);

  char command[512];
  snprintf(command, sizeof command, "get %s %s", argv[3], argv[4]);
  pid_t child = fork();
  if (child == 0) {
    run_in_child("child", command);
    _exit(0);
  }
  waitpid(child, NULL, 0);
  child = fork();
  if (child == 0) {
    char* args[] = {argv[2], "get", argv[3], argv[4], NULL};
    fputs("exec ", stdout);
    fflush(stdout);
    execv(argv[2], args);
    _exit(127);
  }
  waitpid(child, NULL, 0);
  say("done");
  return 0;
}
