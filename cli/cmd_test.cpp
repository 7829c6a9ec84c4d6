// `ticketctl test`: brings the app up (or attaches to a running one), gates as `up --timeout`
// does, runs the checks of its check files (smoke.h), prints each result as it happens, writes
// JUnit XML, JSON and an artifacts bundle, and stops the app unless --keep.

#include <unistd.h>

#include <fmt/format.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/lifecycle.h"
#include "cli/manifest_args.h"
#include "cli/smoke.h"
#include "runtime/core/strings.h"
#include "runtime/daemon/gate.h"
#include "runtime/daemon/ingress.h"
#include "runtime/project/config.h"

namespace ticketctl::cli {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct TestArgs {
  std::vector<std::string> files;
  bool attach = false, keep = false;
  std::string junit, output, artifacts, timeout = "120s";
  int max_restarts = daemon::GateOptions{}.max_restarts;
  StateDirArg state;
};

struct CaseResult {
  std::string suite, name, where;
  bool passed = false;
  std::string message, response;
  double seconds = 0;
};

std::string xml_escape(std::string_view in) {
  std::string out;
  for (char c : in) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // XML 1.0 allows no other control characters, even escaped.
        if (u < 0x20 && c != '\n' && c != '\t' && c != '\r')
          out += "?";
        else
          out += c;
    }
  }
  return out;
}

// JUnit XML as Ant writes it (testsuites > testsuite > testcase > failure), which GitHub
// Actions' and GitLab's report readers take: one testsuite per check file, the gate first.
std::string junit_xml(const std::vector<CaseResult>& cases, double total_seconds) {
  std::vector<std::string> suites;
  for (const CaseResult& c : cases)
    if (std::find(suites.begin(), suites.end(), c.suite) == suites.end()) suites.push_back(c.suite);
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", std::gmtime(&now));
  size_t failures = 0;
  for (const CaseResult& c : cases) failures += c.passed ? 0 : 1;
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  xml += fmt::format(
      "<testsuites name=\"ticketctl test\" tests=\"{}\" failures=\"{}\" "
      "errors=\"0\" time=\"{:.3f}\">\n",
      cases.size(), failures, total_seconds);
  for (size_t i = 0; i < suites.size(); ++i) {
    size_t tests = 0, failed = 0;
    double time = 0;
    for (const CaseResult& c : cases)
      if (c.suite == suites[i]) {
        ++tests;
        failed += c.passed ? 0 : 1;
        time += c.seconds;
      }
    xml += fmt::format(
        "  <testsuite name=\"{}\" package=\"ticketctl\" id=\"{}\" timestamp=\"{}\" "
        "hostname=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\" "
        "time=\"{:.3f}\">\n    <properties/>\n",
        xml_escape(suites[i]), i, stamp, xml_escape(host), tests, failed, time);
    for (const CaseResult& c : cases) {
      if (c.suite != suites[i]) continue;
      xml += fmt::format("    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3f}\"",
                         xml_escape(c.name), xml_escape(c.suite), c.seconds);
      if (c.passed) {
        xml += "/>\n";
        continue;
      }
      xml += fmt::format(
          ">\n      <failure message=\"{}\" type=\"AssertionFailed\">{}</failure>\n",
          xml_escape(c.message),
          xml_escape(c.where + ": " + c.message + (c.response.empty() ? "" : "\n\n" + c.response)));
      xml += "    </testcase>\n";
    }
    xml += "    <system-out/>\n    <system-err/>\n  </testsuite>\n";
  }
  return xml + "</testsuites>\n";
}

Json json_report(const std::vector<CaseResult>& cases, daemon::Verdict gate, double gate_seconds,
                 double total_seconds) {
  Json out = {{"gate", {{"verdict", daemon::to_string(gate)}, {"seconds", gate_seconds}}},
              {"seconds", total_seconds},
              {"checks", Json::array()}};
  size_t failed = 0;
  for (const CaseResult& c : cases) {
    failed += c.passed ? 0 : 1;
    Json j = {{"file", c.suite},
              {"name", c.name},
              {"where", c.where},
              {"passed", c.passed},
              {"seconds", c.seconds}};
    if (!c.passed) j["message"] = c.message;
    if (!c.response.empty()) j["response"] = c.response;
    out["checks"].push_back(std::move(j));
  }
  out["passed"] = failed == 0 && gate == daemon::Verdict::Stable;
  return out;
}

// The gate's sources over the API, for an app this process did not start.
daemon::GateSources api_sources(api::ApiClient& client) {
  daemon::GateSources sources;
  sources.snapshot = [&client] {
    daemon::GateSnapshot s;
    auto items = [&client](const std::string& path) {
      Result<Json> list = client.get(path);
      std::vector<Json> out;
      if (list.ok())
        for (Json& item : list.value()["items"]) out.push_back(std::move(item));
      return out;
    };
    s.deployments = items("/apis/apps/v1/deployments");
    s.replicasets = items("/apis/apps/v1/replicasets");
    s.pods = items("/api/v1/pods");
    s.events = items("/api/v1/events");
    s.now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    return s;
  };
  sources.logs = [&client](const Json& pod, const std::string& container, bool previous) {
    const Json& meta = pod["metadata"];
    const std::string path = fmt::format(
        "/api/v1/namespaces/{}/pods/{}/log?container={}&"
        "tailLines=200{}",
        str(meta["namespace"]), str(meta["name"]), container, previous ? "&previous=true" : "");
    std::vector<std::string> lines;
    Result<std::pair<int, std::string>> r = client.raw("GET", path);
    if (!r.ok() || r.value().first != 200) return lines;
    const std::string& text = r.value().second;
    for (size_t start = 0, eol; (eol = text.find('\n', start)) != std::string::npos;
         start = eol + 1)
      lines.push_back(text.substr(start, eol - start));
    return lines;
  };
  return sources;
}

std::string file_name_part(std::string_view s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
  return out.substr(0, 60);
}

// What a CI artifact needs to tell why: every pod's log, the events, `get all -o yaml`, the
// gate's report and the failing responses.
void write_artifacts(const fs::path& dir, api::ApiClient& client, const std::string& self,
                     const std::string& state_dir, const std::vector<CaseResult>& cases,
                     const std::vector<std::string>& gate_report) {
  std::error_code ec;
  fs::create_directories(dir / "pods", ec);
  fs::create_directories(dir / "responses", ec);
  if (Result<Json> pods = client.get("/api/v1/pods"); pods.ok())
    for (const Json& p : pods.value()["items"])
      for (const Json& c : json_at(json_at(p, "spec"), "containers"))
        for (bool previous : {false, true}) {
          const std::string ns = str(p["metadata"]["namespace"]), name = str(p["metadata"]["name"]),
                            container = str(c["name"]);
          Result<std::pair<int, std::string>> log =
              client.raw("GET", fmt::format("/api/v1/namespaces/{}/pods/{}/log?container={}{}", ns,
                                            name, container, previous ? "&previous=true" : ""));
          if (!log.ok() || log.value().first != 200) continue;
          std::ofstream(
              dir / "pods" /
              fmt::format("{}_{}_{}{}.log", ns, name, container, previous ? ".previous" : ""))
              << log.value().second;
        }
  run_ticketctl(self, {"get", "all", "-A", "-o", "yaml", "--state-dir", state_dir},
                dir / "get-all.yaml");
  run_ticketctl(self, {"get", "events", "-A", "-o", "yaml", "--state-dir", state_dir},
                dir / "events.yaml");
  {
    std::ofstream gate(dir / "gate.txt");
    for (const std::string& l : gate_report) gate << l << '\n';
  }
  size_t n = 0;
  for (const CaseResult& c : cases) {
    ++n;
    if (c.passed) continue;
    std::ofstream(dir / "responses" / fmt::format("{:02}-{}.txt", n, file_name_part(c.name)))
        << c.where << ": " << c.name << "\n"
        << c.message << "\n\n"
        << c.response << '\n';
  }
}

int run_test(TestArgs& a) {
  const auto started = Clock::now();
  const std::optional<std::chrono::milliseconds> timeout = project::parse_duration(a.timeout);
  if (!timeout || timeout->count() <= 0) {
    std::cerr << "ticketctl test: --timeout " << quote(a.timeout)
              << " is not a duration (write e.g. 90s, 2m)\n";
    return kExitUsage;
  }
  const bool json = a.output == "json";
  if (!a.output.empty() && !json) {
    std::cerr << "ticketctl test: -o " << quote(a.output) << " is not supported (json)\n";
    return kExitUsage;
  }
  // With -o json stdout carries the report alone; what people read goes to stderr.
  std::FILE* human = json ? stderr : stdout;
  std::vector<SmokeFile> files;
  Diagnostics diags;
  if (a.files.empty()) a.files.push_back("smoke.yaml");
  for (const std::string& f : a.files)
    if (std::optional<SmokeFile> file = load_smoke_file(f, diags)) files.push_back(*file);
  print_diagnostics(diags, std::cerr);
  if (diags.has_errors()) return kExitFailure;

  std::error_code ec;
  const std::string self = fs::read_symlink("/proc/self/exe", ec).string();
  const daemon::StateDir dir = a.state.dir();
  bool started_here = false;
  if (!a.attach) {
    daemon::ControlPlaneOptions options;
    ManifestArgs manifests;
    if (const std::optional<int> stop = prepare_up(manifests, a.state, "", options)) return *stop;
    std::fflush(stdout);
    // run_detached relays the control plane's report to stdout: keep stdout for JSON.
    const int saved = json ? ::dup(1) : -1;
    if (json) ::dup2(2, 1);
    const int up = run_detached(std::move(options));
    std::cout.flush();
    if (json) {
      ::dup2(saved, 1);
      ::close(saved);
    }
    if (up != 0) return up;
    started_here = true;
  }
  Result<api::ApiClient> connected = a.state.connect();
  if (!connected.ok()) {
    std::cerr << "ticketctl test: " << connected.error().message << '\n';
    return kExitFailure;
  }
  api::ApiClient& client = connected.value();

  // The gate, as `up --timeout` decides it.
  std::fprintf(human, "Waiting for deployments to stabilize...\n");
  std::fflush(human);
  daemon::GateOptions gate_options;
  gate_options.max_restarts = a.max_restarts;
  daemon::GateReporter gate(api_sources(client), gate_options, human);
  const auto deadline = Clock::now() + *timeout;
  daemon::Verdict verdict;
  while (true) {
    verdict = gate.poll(Clock::now() >= deadline);
    if (verdict != daemon::Verdict::Progressing) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const double gate_seconds = gate.elapsed_seconds();
  std::vector<std::string> gate_report;
  std::vector<CaseResult> cases;
  CaseResult gate_case{"readiness gate", "deployments are stable", "", true, "", "", gate_seconds};
  if (verdict == daemon::Verdict::Stable) {
    std::fprintf(human, "Deployments stabilized in %.1fs\n", gate_seconds);
  } else {
    for (const daemon::DeploymentVerdict& d : gate.last())
      if (d.verdict != daemon::Verdict::Stable)
        for (std::string& l : gate.details(d)) gate_report.push_back(std::move(l));
    gate_case.passed = false;
    gate_case.message = verdict == daemon::Verdict::Failed
                            ? "deployments failed"
                            : fmt::format("deployments did not stabilize within {}", a.timeout);
    gate_case.response = join(gate_report, "\n");
    std::fprintf(human, "FAIL  readiness gate: %s (after %.1fs)\n", gate_case.message.c_str(),
                 gate_seconds);
  }
  cases.push_back(gate_case);

  size_t failed = 0;
  if (verdict == daemon::Verdict::Stable) {
    Result<daemon::IngressPorts> ports = daemon::read_ingress_ports(dir);
    SmokeTarget target{&client, ports.ok() ? ports.value().address : std::string(),
                       ports.ok() ? ports.value().http : -1, self, dir.root.string()};
    std::map<std::string, std::string> vars;
    for (const SmokeFile& file : files)
      for (const SmokeCheck& check : file.checks) {
        CaseResult r;
        r.suite = file.path;
        r.name = check.name;
        r.where = fmt::format("{}:{}", check.file, check.line);
        if (check.spec.contains("http") && target.ingress_port <= 0) {
          r.message = "the ingress does not listen on HTTP (ticketctl.yaml ingress.http is -1?)";
        } else {
          const CheckOutcome o = run_check(check, file, target, vars);
          r.passed = o.passed;
          r.message = o.message;
          r.response = o.response;
          r.seconds = o.seconds;
        }
        if (r.passed) {
          std::fprintf(human, "PASS  %s (%.2fs)\n", r.name.c_str(), r.seconds);
        } else {
          ++failed;
          std::fprintf(human, "FAIL  %s (%s): %s\n", r.name.c_str(), r.where.c_str(),
                       r.message.c_str());
          size_t start = 0;
          for (size_t eol; start < r.response.size() &&
                           (eol = r.response.find('\n', start)) != std::string::npos;
               start = eol + 1)
            std::fprintf(human, "    | %s\n", r.response.substr(start, eol - start).c_str());
          if (start < r.response.size())
            std::fprintf(human, "    | %s\n", r.response.substr(start).c_str());
        }
        std::fflush(human);
        cases.push_back(std::move(r));
      }
  }
  const double total = std::chrono::duration<double>(Clock::now() - started).count();
  const size_t checks = cases.size() - 1;
  std::fprintf(human, "%zu of %zu checks passed; gate %.1fs, total %.1fs\n", checks - failed,
               checks, gate_seconds, total);
  if (!a.artifacts.empty()) {
    write_artifacts(a.artifacts, client, self, dir.root.string(), cases, gate_report);
    std::fprintf(human, "artifacts: %s\n", a.artifacts.c_str());
  }
  if (!a.junit.empty()) {
    std::ofstream out(a.junit);
    out << junit_xml(cases, total);
    if (!out) std::cerr << "ticketctl test: cannot write " << a.junit << '\n';
  }
  if (json) std::cout << json_report(cases, verdict, gate_seconds, total).dump(2) << '\n';
  std::fflush(human);
  if (started_here && !a.keep) {
    std::fflush(stdout);
    std::FILE* down = json ? stderr : stdout;
    if (Result<bool> r = daemon::stop_control_plane(dir, down); !r.ok())
      std::cerr << "ticketctl test: " << r.error().message << '\n';
  }
  if (verdict != daemon::Verdict::Stable) return daemon::exit_code(verdict);
  return failed > 0 ? kExitFailure : kExitOk;
}

}  // namespace

Handler attach_test(CLI::App& verb) {
  auto a = std::make_shared<TestArgs>();
  verb.add_option("-f,--filename", a->files, "Check files (default: smoke.yaml)");
  verb.add_flag("--attach", a->attach,
                "Test the app already running in the state directory; do not start or stop it");
  verb.add_flag("--keep", a->keep, "Leave the app running after the checks");
  verb.add_option("--junit", a->junit, "Write JUnit XML here (one testcase per check)");
  verb.add_option("-o,--output", a->output, "json: print the results as JSON on stdout");
  verb.add_option("--artifacts", a->artifacts,
                  "Write every pod's log, events, `get all -o yaml` and failing responses here");
  verb.add_option("--timeout", a->timeout,
                  "How long the gate waits for every Deployment to be stable (default 120s)");
  verb.add_option("--max-restarts", a->max_restarts,
                  "Crashes of one container that fail the gate at once (default 2)")
      ->check(CLI::Range(1, 1000));
  a->state.attach(verb);
  verb.footer(
      "Exit status: 0 all checks passed, 1 a check failed (or the gate failed, or a check file\n"
      "is invalid), 3 the gate timed out, 2 usage error. See docs/commands/test.md.");
  return [a] { return run_test(*a); };
}

}  // namespace ticketctl::cli
