#include "cli/commands.h"

int main(int argc, char** argv) {
  return ticketctl::cli::run(argc, argv);
}
