// A pod's client. With arguments, runs one command (see commands.h) and prints its result; with
// none, prints "ready" and then runs one command per stdin line, so a test can change the table
// between lookups of the same running process.
#include "commands.h"

int main(int argc, char** argv) {
  char out[8192];
  if (argc > 1) {
    char line[1024] = "";
    for (int i = 1; i < argc; ++i) {
      strncat(line, argv[i], sizeof line - strlen(line) - 2);
      strcat(line, " ");
    }
    run_command(line, out, sizeof out);
    say(out);
    return 0;
  }
  say("ready");
  char line[1024];
  while (fgets(line, sizeof line, stdin) != NULL) {
    run_command(line, out, sizeof out);
    say(out);
  }
  return 0;
}
