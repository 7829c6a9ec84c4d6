// How long one routing decision takes on the proxy's hot path: the course's blog Ingress (a
// regex host) and 200-rule tables, plain and regex. Prints figures; not a test.
//   ./build/tests/router_bench

#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/ingress/router.h"

namespace {

using ticketctl::Json;
using ticketctl::ingress::RouteTable;

Json path_rule(const std::string& path, const std::string& type, const std::string& service) {
  return Json{{"path", path},
              {"pathType", type},
              {"backend", {{"service", {{"name", service}, {"port", {{"number", 80}}}}}}}};
}

Json ingress(const std::string& name, const std::string& host, Json paths, bool regex) {
  Json ing = {{"apiVersion", "networking.k8s.io/v1"},
              {"kind", "Ingress"},
              {"metadata", {{"name", name}, {"namespace", "default"}}},
              {"spec", {{"rules", Json::array({{{"host", host}, {"http", {{"paths", paths}}}}})}}}};
  if (regex) ing["metadata"]["annotations"] = {{"nginx.ingress.kubernetes.io/use-regex", "true"}};
  return ing;
}

// The blog Ingress of manifests/blog/ingress-srv.yaml, as the loader hands it over.
std::vector<Json> blog() {
  Json paths =
      Json::array({path_rule("/posts/create", "Prefix", "posts-clusterip-srv"),
                   path_rule("/posts", "Prefix", "query-srv"),
                   path_rule("/posts/?(.*)/comments", "ImplementationSpecific", "comments-srv"),
                   path_rule("/?(.*)", "ImplementationSpecific", "client-srv")});
  return {ingress("ingress-srv", "posts.com", paths, true)};
}

// 20 hosts x 10 paths: "/svcN", "/svcN/api/v1", ... like a course project grown large.
std::vector<Json> table200(bool regex) {
  std::vector<Json> out;
  for (int h = 0; h < 20; ++h) {
    Json paths = Json::array();
    for (int p = 0; p < 10; ++p) {
      const std::string base = "/svc" + std::to_string(p);
      paths.push_back(path_rule(regex ? base + "/api/v[0-9]+/(.*)" : base + "/api/v1",
                                regex ? "ImplementationSpecific" : "Prefix",
                                "api" + std::to_string(p)));
    }
    out.push_back(
        ingress("ing" + std::to_string(h), "host" + std::to_string(h) + ".test", paths, regex));
  }
  return out;
}

void run(benchmark::State& state, const RouteTable& table, const std::vector<std::string>& hosts,
         const std::vector<std::string>& targets) {
  size_t i = 0;
  for (auto _ : state) {
    auto m = table.route(hosts[i % hosts.size()], targets[i % targets.size()]);
    benchmark::DoNotOptimize(m);
    ++i;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_RouteBlog(benchmark::State& state) {
  const RouteTable table = RouteTable::build(blog(), nullptr);
  run(state, table, {"posts.com", "posts.com:8080"},
      {"/posts/abc/comments", "/posts", "/posts/create", "/", "/static/js/main.js?v=3"});
}
BENCHMARK(BM_RouteBlog);

void BM_RouteBlogClientOnly(benchmark::State& state) {  // worst case: last regex matches
  const RouteTable table = RouteTable::build(blog(), nullptr);
  run(state, table, {"posts.com"}, {"/static/js/main.chunk.js"});
}
BENCHMARK(BM_RouteBlogClientOnly);

void BM_Route200Plain(benchmark::State& state) {
  const RouteTable table = RouteTable::build(table200(false), nullptr);
  run(state, table, {"host0.test", "host7.test", "HOST19.test:8443"},
      {"/svc0/api/v1/users/42", "/svc9/api/v1", "/svc5/api/v1/x?y=1", "/nomatch"});
}
BENCHMARK(BM_Route200Plain);

void BM_Route200Regex(benchmark::State& state) {
  const RouteTable table = RouteTable::build(table200(true), nullptr);
  run(state, table, {"host0.test", "host7.test", "HOST19.test:8443"},
      {"/svc0/api/v2/users/42", "/svc9/api/v1/x", "/svc5/api/v3/x?y=1", "/nomatch"});
}
BENCHMARK(BM_Route200Regex);

void BM_Build200(benchmark::State& state) {
  const std::vector<Json> plain = table200(state.range(0) != 0);
  for (auto _ : state) {
    RouteTable t = RouteTable::build(plain, nullptr);
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_Build200)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
