// The ingress proxy as a standalone process for tests/bench/ingress_wrk.sh: every host and path
// goes to one backend. Usage: ingress_bench_proxy LISTEN_PORT BACKEND_PORT [THREADS]
// Prints "ready PORT" once listening; runs until SIGINT or SIGTERM.

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "runtime/ingress/proxy.h"

int main(int argc, char** argv) {
  using namespace ticketctl;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s LISTEN_PORT BACKEND_PORT [THREADS]\n", argv[0]);
    return 2;
  }
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);  // before the I/O threads start

  ingress::ProxyOptions opt;
  opt.http_port = std::atoi(argv[1]);
  opt.https_port = -1;
  opt.threads = argc > 3 ? std::atoi(argv[3]) : 0;
  opt.upstream_idle_per_endpoint = 1024;  // as the nginx it is compared with (ingress_wrk.sh)
  const auto backend_port = static_cast<uint16_t>(std::atoi(argv[2]));
  ingress::ProxyHooks hooks;
  ingress::RouteMatch m;
  m.ns = "default";
  m.service = "bench";
  m.port = "80";
  m.rule = "bench";
  ingress::IngressProxy proxy(opt, hooks);
  proxy.publish(std::make_shared<ingress::FixedRouting>(
      m, net::Backends{net::Backend{"127.0.0.1", backend_port, "default/bench"}}));
  auto ports = proxy.start();
  if (!ports) {
    std::fprintf(stderr, "%s\n", ports.error().message.c_str());
    return 1;
  }
  std::printf("ready %d\n", ports.value().first);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&sigs, &sig);
  proxy.stop();
}
