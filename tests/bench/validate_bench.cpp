// How long validating one generated file of 10,000 objects takes (target: under 1 s), split
// into reading YAML and the whole load (parse + schema walk + checks). Prints figures; not a test.
//   ./build/tests/validate_bench
//   TICKETCTL_BENCH_WRITE=/tmp/10k.yaml ./build/tests/validate_bench   # also keep the file

#include <benchmark/benchmark.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>

#include "runtime/manifest/loader.h"
#include "runtime/manifest/source.h"

namespace {

// A course-shaped mix: per service a Deployment, its Service, a ConfigMap and a Secret.
std::string generate(int objects) {
  std::string out;
  for (int i = 0; i < objects / 4; ++i) {
    const std::string n = "svc" + std::to_string(i);
    out += "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + n +
           "-depl\n  labels:\n    app: " + n +
           "\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: " + n +
           "\n  template:\n    metadata:\n      labels:\n        app: " + n +
           "\n    spec:\n      containers:\n        - name: " + n + "\n          image: demo/" + n +
           "\n          ports:\n            - containerPort: 3000\n          env:\n"
           "            - name: MONGO_URI\n              value: \"mongodb://" +
           n +
           "-mongo-srv:27017/db\"\n            - name: JWT_KEY\n              valueFrom:\n"
           "                secretKeyRef:\n                  name: jwt-secret\n"
           "                  key: JWT_KEY\n          readinessProbe:\n            httpGet:\n"
           "              path: /healthz\n              port: 3000\n          resources:\n"
           "            limits:\n              memory: 256Mi\n              cpu: 500m\n---\n";
    out += "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + n +
           "-srv\nspec:\n  selector:\n    app: " + n +
           "\n  ports:\n    - name: http\n      protocol: TCP\n      port: 3000\n      targetPort: "
           "3000\n---\n";
    out += "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + n +
           "-config\ndata:\n  LOG_LEVEL: debug\n  FEATURE_X: \"on\"\n---\n";
    out += "apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + n +
           "-secret\ntype: Opaque\ndata:\n  JWT_KEY: YXNkZg==\n---\n";
  }
  return out;
}

const std::string& corpus() {
  static const std::string text = [] {
    std::string t = generate(10000);
    if (const char* path = std::getenv("TICKETCTL_BENCH_WRITE")) std::ofstream(path) << t;
    return t;
  }();
  return text;
}

void BM_ParseYamlOnly(benchmark::State& state) {
  const std::string& text = corpus();
  for (auto _ : state) {
    size_t n = 0;
    for (const auto& doc : ticketctl::manifest::split_documents(text))
      n += YAML::LoadAll(std::string(doc.text)).size();
    benchmark::DoNotOptimize(n);
  }
  state.counters["objects"] = 10000;
  state.counters["MB"] = static_cast<double>(text.size()) / 1e6;
}

void BM_Validate10kObjects(benchmark::State& state) {
  const std::string& text = corpus();
  for (auto _ : state) {
    auto r = ticketctl::manifest::load_text("bench.yaml", text, {});
    if (r.objects.size() != 10000 || r.diagnostics.has_errors()) {
      state.SkipWithError("generated manifests did not validate");
      return;
    }
    benchmark::DoNotOptimize(r);
  }
  state.counters["objects"] = 10000;
}

BENCHMARK(BM_ParseYamlOnly)->Unit(benchmark::kMillisecond)->Iterations(5);
BENCHMARK(BM_Validate10kObjects)->Unit(benchmark::kMillisecond)->Iterations(5);

}  // namespace

BENCHMARK_MAIN();
