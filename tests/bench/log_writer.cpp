// Writes numbered 100-byte lines to stdout as fast as it can, then exits: the pod for the log
// capture benchmark. Usage: bench_log_writer MEGABYTES
#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  const long megabytes = argc > 1 ? std::atol(argv[1]) : 100;
  const long lines = megabytes * 1024 * 1024 / 100;
  static char buffer[1 << 20];
  std::setvbuf(stdout, buffer, _IOFBF, sizeof buffer);
  char line[101];
  std::memset(line, 'x', sizeof line);
  for (long i = 0; i < lines; ++i) {
    // Ten digits of the sequence number, then a space: written by hand, snprintf is the bottleneck.
    long n = i;
    for (int d = 9; d >= 0; --d, n /= 10) line[d] = static_cast<char>('0' + n % 10);
    line[10] = ' ';
    line[99] = '\n';
    std::fwrite(line, 1, 100, stdout);
  }
  std::fflush(stdout);
  std::fprintf(stderr, "wrote %ld lines\n", lines);
  return 0;
}
