// Kubelet figures for issue targets; prints numbers, never pass/fail.
//   ./build/tests/kubelet_bench
// 1. `up -d --timeout` to all Ready for 50 trivial pods (an HTTP server that is ready once its
//    port accepts), against the program's own start time (target <= 1 s beyond it).
// 2. Log capture from a pod writing 100-byte numbered lines as fast as it can: MB/s between the
//    first and last captured line, and every sequence number present (target >= 100 MB/s).
// 3. Control-plane CPU while the 50 pods idle, over 10 s (target < 1% of one core).

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/core/rfc3339.h"
#include "runtime/logs/log_file.h"
#include "runtime/manifest/json.h"
#include "tests/support/process.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

ticketctl::testing::Result run(std::vector<std::string> args, const fs::path& cwd) {
  return ticketctl::testing::ticketctl(std::move(args), "", cwd.string());
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

long cpu_ticks(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  std::string rest = stat.substr(stat.rfind(')') + 2);
  std::vector<std::string> f;
  size_t pos = 0;
  while (pos < rest.size()) {
    size_t next = rest.find(' ', pos);
    if (next == std::string::npos) next = rest.size();
    f.push_back(rest.substr(pos, next - pos));
    pos = next + 1;
  }
  return std::stol(f[11]) + std::stol(f[12]);  // utime + stime
}

// Seconds between two of the log's RFC 3339 times (core/rfc3339: fractions and offsets); 0 when
// either does not parse.
double seconds_between(const std::string& from, const std::string& to) {
  const auto a = ticketctl::rfc3339::parse_nanos(from), b = ticketctl::rfc3339::parse_nanos(to);
  return a && b ? static_cast<double>(*b - *a) / 1e9 : 0.0;
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path bin_dir = fs::canonical("/proc/self/exe").parent_path();
  const fs::path dir =
      fs::temp_directory_path() / ("ticketctl-kubelet-bench-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "k8s");
  const std::string state = (dir / "state").string();
  const int megabytes = argc > 1 ? std::atoi(argv[1]) : 45;  // all kept: 10 MiB x 5
  std::ofstream(dir / "ticketctl.yaml")
      << "manifests: [k8s]\nimages:\n"
      << "  bench/web: {context: " << bin_dir << ", command: [" << (bin_dir / "bench_backend")
      << ", \"3000\", \"1\"]}\n"
      << "  bench/logs: {context: " << bin_dir << ", command: [" << (bin_dir / "bench_log_writer")
      << ", \"" << megabytes << "\"]}\n";
  std::ofstream(dir / "k8s/web.yaml")
      << "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 50\n"
         "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n"
         "    spec:\n      containers:\n      - name: web\n        image: bench/web\n"
         "        ports: [{containerPort: 3000}]\n";

  // The program's own start: exec to "port N" printed.
  {
    const auto t = Clock::now();
    FILE* p = ::popen((bin_dir / "bench_backend").string().append(" 0 1").c_str(), "r");
    char line[64];
    if (p && std::fgets(line, sizeof line, p)) {
      std::printf("bench_backend's own start: %.1f ms\n", seconds_since(t) * 1000);
    }
    std::system("pkill -f 'bench_backend 0 1'");
    if (p) ::pclose(p);
  }

  const auto t0 = Clock::now();
  const auto up = run({"up", "-d", "--timeout", "60s", "--state-dir", state}, dir);
  const double up_s = seconds_since(t0);
  if (up.status != 0) {
    std::fprintf(stderr, "up failed:\n%s%s\n", up.out.c_str(), up.err.c_str());
    return 1;
  }
  const std::string stabilized = up.out.substr(up.out.find("Deployments stabilized"));
  std::printf(
      "50 pods: `up -d --timeout` returned after %.2f s (control plane start, apply, all "
      "Ready); %s",
      up_s, stabilized.substr(0, stabilized.find('\n') + 1).c_str());

  std::ifstream in(dir / "state" / "apiserver.json");
  const int pid = ticketctl::Json::parse(in)["pid"].get<int>();
  const long before = cpu_ticks(pid);
  std::this_thread::sleep_for(std::chrono::seconds(10));  // a measurement window, not a sync
  const long used = cpu_ticks(pid) - before;
  std::printf(
      "control plane CPU with 50 idle pods: %.2f%% of one core over 10 s\n",
      100.0 * static_cast<double>(used) / static_cast<double>(::sysconf(_SC_CLK_TCK)) / 10.0);

  // Log capture.
  std::ofstream(dir / "k8s/logs.yaml")
      << "apiVersion: v1\nkind: Pod\nmetadata: {name: chatty}\nspec:\n  restartPolicy: Never\n"
         "  containers:\n  - {name: main, image: bench/logs}\n";
  run({"apply", "-f", "k8s/logs.yaml", "--state-dir", state}, dir);
  const long expected = static_cast<long>(megabytes) * 1024 * 1024 / 100;
  fs::path log_dir;
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (Clock::now() < deadline) {
    const auto phase =
        run({"get", "pod", "chatty", "-o", "jsonpath={.status.phase}", "--state-dir", state}, dir);
    if (phase.out == "Succeeded" || phase.out == "Failed") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  for (const auto& e : fs::directory_iterator(dir / "state" / "pods"))
    if (e.path().filename().string().find("_chatty_") != std::string::npos)
      log_dir = e.path() / "main";
  long next = -1, lost = 0, first_seq = -1;
  std::string first_time, last_time;
  uint64_t bytes = 0;
  for (const fs::path& f : ticketctl::logs::run_files(log_dir / "0.log")) {
    std::ifstream log(f);
    for (std::string line; std::getline(log, line);) {
      auto parsed = ticketctl::logs::parse_log_line(line);
      if (!parsed || parsed->stderr_stream) continue;
      if (first_time.empty()) first_time = parsed->time;
      last_time = parsed->time;
      // Each line starts with its sequence number; a line that does not (cut by rotation) is
      // skipped rather than ending the benchmark with its control plane still up.
      long seq = 0;
      const std::string_view text = parsed->text;
      const auto [end, ec] =
          std::from_chars(text.data(), text.data() + std::min<size_t>(10, text.size()), seq);
      if (ec != std::errc() || end == text.data()) continue;
      if (first_seq < 0) first_seq = next = seq;
      if (seq != next) lost += seq - next;
      next = seq + 1;
      bytes += parsed->text.size() + 1;
    }
  }
  const double span = seconds_between(first_time, last_time);
  std::printf(
      "log capture: %d MiB written as %ld lines; kept lines %ld..%ld with %ld missing "
      "in between (older lines rotate away beyond 10 MiB x 5); %.1f MB/s captured\n",
      megabytes, expected, first_seq, next - 1, lost, static_cast<double>(bytes) / 1e6 / span);
  run({"down", "--state-dir", state}, dir);
  fs::remove_all(dir);
  return 0;
}
