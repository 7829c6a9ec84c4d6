// Control-plane figures for issue targets; prints numbers, never pass/fail.
//   ./build/tests/control_plane_bench
// 1. `ticketctl get pods` end to end (process start, TLS handshake, list, table) with 100 pods
//    stored: median and p90 over 50 runs (target <= 10 ms median).
// 2. `ticketctl apply -f` of 1,000 objects (target <= 2 s).
// 3. Resident memory of the idle control plane with the blog app applied (target <= 20 MiB).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "runtime/api/client.h"
#include "runtime/daemon/state_dir.h"
#include "tests/support/process.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

ticketctl::testing::Result run(std::vector<std::string> args) {
  return ticketctl::testing::ticketctl(std::move(args));
}

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

long rss_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
  return -1;
}

int control_plane_pid(const fs::path& dir) {
  std::ifstream in(dir / "apiserver.json");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  return ticketctl::Json::parse(text)["pid"].get<int>();
}

}  // namespace

int main() {
  const fs::path dir =
      fs::temp_directory_path() / ("ticketctl-bench-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string state = dir.string();

  // 3 first, on a fresh control plane with only the blog app.
  if (run({"up", "-d", "--state-dir", state, "-f", "manifests/blog"}).status != 0) {
    std::fprintf(stderr, "up failed\n");
    return 1;
  }
  std::printf("control plane RSS, blog app applied, idle: %.1f MiB\n",
              rss_kib(control_plane_pid(dir)) / 1024.0);

  // 1. 100 pods through the API.
  auto conn = ticketctl::daemon::connection_for({dir});
  ticketctl::api::ApiClient client(conn.value());
  for (int i = 0; i < 100; ++i) {
    ticketctl::Json pod = {
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata", {{"name", "pod-" + std::to_string(i)}, {"namespace", "default"}}},
        {"spec", {{"containers", {{{"name", "c"}, {"image", "demo/posts"}}}}}}};
    if (!client.post("/api/v1/namespaces/default/pods", pod).ok()) {
      std::fprintf(stderr, "creating pods failed\n");
      return 1;
    }
  }
  std::vector<double> samples;
  for (int i = 0; i < 50; ++i) {
    const auto t = Clock::now();
    auto r = run({"get", "pods", "--state-dir", state});
    samples.push_back(ms_since(t));
    if (r.status != 0) return 1;
  }
  std::sort(samples.begin(), samples.end());
  std::printf("ticketctl get pods, 100 pods stored: median %.2f ms, p90 %.2f ms (50 runs)\n",
              samples[samples.size() / 2], samples[samples.size() * 9 / 10]);

  // 2. 1,000 objects in one apply: ConfigMaps, as small as objects come, so the figure is the
  // control plane's per-object cost.
  const fs::path many = dir / "many.yaml";
  {
    std::ofstream out(many);
    for (int i = 0; i < 1000; ++i)
      out << "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-" << i
          << "\ndata:\n  KEY: value-" << i << "\n---\n";
  }
  auto t = Clock::now();
  auto applied = run({"apply", "--state-dir", state, "-f", many.string()});
  std::printf("ticketctl apply -f, 1000 objects (create): %.0f ms (exit %d)\n", ms_since(t),
              applied.status);
  t = Clock::now();
  applied = run({"apply", "--state-dir", state, "-f", many.string()});
  std::printf("ticketctl apply -f, 1000 objects (unchanged): %.0f ms (exit %d)\n", ms_since(t),
              applied.status);
  std::printf("control plane RSS after all of the above: %.1f MiB\n",
              rss_kib(control_plane_pid(dir)) / 1024.0);

  run({"down", "--state-dir", state});
  fs::remove_all(dir);
  return 0;
}
