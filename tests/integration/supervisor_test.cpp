// The kubelet end to end: pods of small shell programs (tests/integration/programs) run by a real
// control plane (`ticketctl up -d` in a temporary state directory), observed the way a user
// observes them: `get pods`, events, pid files and the processes themselves.

#include <signal.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "runtime/manifest/json.h"
#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using testing::Result;
using testing::ticketctl;

// These tests' patience: how long a condition may take to hold (the polling is shared).
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  return testing::eventually(condition, limit);
}

// The first child of `pid` found in /proc; 0 when none.
pid_t child_of(pid_t pid) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat) || stat.rfind(')') == std::string::npos) continue;
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    char state = 0;
    pid_t parent = 0;
    if (fields >> state >> parent && parent == pid) return std::stoi(entry.path().filename());
  }
  return 0;
}

// Running: a zombie is not (a pod a killed control plane left is reaped by whoever took it in,
// maybe a moment later).
bool alive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  const size_t close = stat.rfind(')');
  return close == std::string::npos || stat.compare(close + 2, 1, "Z") != 0;
}

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(project_ / "k8s");
    const fs::path programs = fs::path(TICKETCTL_SOURCE_DIR) / "tests/integration/programs";
    std::ofstream(project_ / "ticketctl.yaml")
        << "manifests: [k8s]\n"
           "restartBackoff: {initial: 200ms, max: 800ms}\n"
           "images:\n"
        << "  test/ignore-term: {context: " << programs << ", command: [sh, ignore_term.sh]}\n"
        << "  test/crash: {context: " << programs << ", command: [sh, crash.sh]}\n"
        << "  test/secret-user: {context: " << programs << ", command: [sh, secret_user.sh]}\n"
        << "  test/ready-file: {context: " << programs << ", command: [sh, ready_when_file.sh]}\n"
        << "  test/echo-files: {context: " << programs << ", command: [sh, echo_files.sh]}\n"
        << "  test/term: {context: " << programs << ", command: [sh, term_after_hook.sh]}\n"
        << "  test/http-hook: {context: " << programs << ", command: [node, http_hook.js]}\n"
        << "  test/eat-memory: {context: " << programs << ", command: [node, eat_memory.js]}\n"
        << "  test/silent: {context: " << programs << ", command: [node, silent.js]}\n";
  }
  void TearDown() override {
    ticketctl({"down", "--state-dir", state_.string()});
    fs::remove_all(project_);
  }
  Result run(std::vector<std::string> args) {
    args.push_back("--state-dir");
    args.push_back(state_.string());
    return ticketctl(std::move(args), "", project_.string());
  }
  void up(const std::string& manifest) {
    std::ofstream(project_ / "k8s/pod.yaml") << manifest;
    const Result r = run({"up", "-d"});
    ASSERT_EQ(r.status, 0) << r.out << r.err;
  }
  std::string pod_field(const std::string& pod, const std::string& jsonpath) {
    return run({"get", "pod", pod, "-o", "jsonpath=" + jsonpath}).out;
  }
  // Pod "stubborn" (grace period in seconds), whose grandchild ignores SIGTERM; returns that pid.
  pid_t up_stubborn(int grace_seconds = 1) {
    const fs::path pidfile = scratch_ / "grandchild.pid";
    up("apiVersion: v1\nkind: Pod\nmetadata: {name: stubborn}\nspec:\n"
       "  terminationGracePeriodSeconds: " +
       std::to_string(grace_seconds) +
       "\n"
       "  containers:\n  - name: main\n    image: test/ignore-term\n"
       "    env: [{name: PIDFILE, value: " +
       pidfile.string() + "}]\n");
    pid_t grandchild = 0;
    if (eventually([&] { return fs::exists(pidfile); })) std::ifstream(pidfile) >> grandchild;
    return grandchild;
  }
  // kill -9 of the control plane; returns once it is gone.
  void kill_control_plane() {
    const Json info = Json::parse(testing::slurp(state_ / "apiserver.json"));
    const pid_t pid = info["pid"].get<pid_t>();
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    // Reaped, not only dead: until then it still counts as the running control plane.
    ASSERT_TRUE(eventually([&] { return ::kill(pid, 0) != 0; }));
  }
  std::string events() {
    return run({"get", "events", "-o",
                "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}"})
        .out;
  }
  ticketctl::testing::TempDir tmp_{"ticketctl-kubelet"};
  const fs::path state_ = tmp_.path() / "state";
  const fs::path project_ = tmp_.path() / "project";
  const fs::path scratch_ = tmp_.path();
};

TEST_F(SupervisorTest, AGrandchildThatIgnoresSigtermIsKilledAfterTheGracePeriod) {
  // 3 s: the checks below run three CLI calls inside the grace period, each up to a few hundred
  // milliseconds in the sanitizer build on a loaded machine.
  const pid_t grandchild = up_stubborn(3);
  ASSERT_TRUE(alive(grandchild)) << events();
  EXPECT_EQ(pod_field("stubborn", "{.status.phase}"), "Running");

  const Result del = run({"delete", "pod", "stubborn"});
  ASSERT_EQ(del.status, 0) << del.err;
  // Graceful: the pod is Terminating while its processes get their grace period.
  EXPECT_FALSE(pod_field("stubborn", "{.metadata.deletionTimestamp}").empty());
  const Result pods = run({"get", "pods"});
  EXPECT_NE(pods.out.find("Terminating"), std::string::npos) << pods.out << pods.err << events();
  // It ignores SIGTERM; SIGKILL to the whole group after 3 s ends it (and the subreaper reaps it).
  EXPECT_TRUE(eventually([&] { return !alive(grandchild); }, std::chrono::seconds(10)));
  // Then the kubelet removes the pod.
  EXPECT_TRUE(eventually([&] { return run({"get", "pod", "stubborn"}).status == 1; }));
  EXPECT_NE(events().find("ExceededGracePeriod: Container runtime did not kill the pod within "
                          "specified grace period."),
            std::string::npos)
      << events();
}

TEST_F(SupervisorTest, ACrashLoopRestartsWithTheBackOffAndReportsTheLastExit) {
  const fs::path starts = scratch_ / "starts";
  up("apiVersion: v1\nkind: Pod\nmetadata: {name: crasher}\nspec:\n"
     "  containers:\n  - name: main\n    image: test/crash\n"
     "    env: [{name: STARTS, value: " +
     starts.string() + "}]\n");
  std::vector<int64_t> times;
  ASSERT_TRUE(eventually([&] {
    times.clear();
    std::ifstream in(starts);
    for (int64_t t; in >> t;) times.push_back(t);
    return times.size() >= 5;
  })) << events();
  // First restart at once, then 200 ms doubling to the 800 ms maximum (ticketctl.yaml).
  const double expected[] = {0, 0.2, 0.4, 0.8};
  for (size_t i = 1; i < 5; ++i) {
    const double gap = static_cast<double>(times[i] - times[i - 1]) / 1e9;
    EXPECT_GE(gap, expected[i - 1] * 0.95) << "restart " << i;
  }
  EXPECT_EQ(pod_field("crasher", "{.status.containerStatuses[0].lastState.terminated.exitCode}"),
            "3");
  EXPECT_GE(std::stoi(pod_field("crasher", "{.status.containerStatuses[0].restartCount}")), 4);
  EXPECT_NE(events().find("BackOff: Back-off restarting failed container main in pod crasher"),
            std::string::npos);
  // Repeats are one Event with a count, as client-go's recorder aggregates them.
  const std::string counts =
      run({"get", "events", "-o", "jsonpath={.items[?(@.reason==\"BackOff\")].count}"}).out;
  ASSERT_EQ(counts.find(' '), std::string::npos) << counts;  // a single BackOff event
  EXPECT_GE(std::stoi(counts), 2) << counts;
  const Result table = run({"get", "pods"});
  EXPECT_TRUE(table.out.find("CrashLoopBackOff") != std::string::npos ||
              table.out.find("Running") != std::string::npos)
      << table.out;
}

TEST_F(SupervisorTest, AMissingSecretIsAConfigErrorUntilTheSecretIsCreated) {
  up("apiVersion: v1\nkind: Pod\nmetadata: {name: auth}\nspec:\n"
     "  containers:\n  - name: main\n    image: test/secret-user\n"
     "    env:\n    - name: JWT_KEY\n"
     "      valueFrom: {secretKeyRef: {name: jwt-secret, key: JWT_KEY}}\n");
  ASSERT_TRUE(eventually([&] {
    return pod_field("auth", "{.status.containerStatuses[0].state.waiting.reason}") ==
           "CreateContainerConfigError";
  }));
  EXPECT_EQ(pod_field("auth", "{.status.containerStatuses[0].state.waiting.message}"),
            "secret \"jwt-secret\" not found");
  EXPECT_NE(events().find("Failed: Error: secret \"jwt-secret\" not found"), std::string::npos);

  const Result created =
      run({"create", "secret", "generic", "jwt-secret", "--from-literal=JWT_KEY=s3cr3t-value"});
  ASSERT_EQ(created.status, 0) << created.err;
  ASSERT_TRUE(eventually([&] { return pod_field("auth", "{.status.phase}") == "Running"; }));
  // The pod got the value (12 characters); no log of ticketctl or the pod shows it.
  std::string logs;
  ASSERT_TRUE(eventually([&] {
    logs.clear();
    // The store and exec.json (the env `ticketctl exec` reuses, 0600) hold it by design.
    for (const auto& e : fs::recursive_directory_iterator(state_))
      if (e.is_regular_file() && e.path().extension() != ".db" &&
          e.path().string().find("state.db") == std::string::npos &&
          e.path().filename() != "exec.json")
        logs += testing::slurp(e.path());
    return logs.find("key-length=12") != std::string::npos;
  }));
  EXPECT_EQ(logs.find("s3cr3t-value"), std::string::npos);
}

TEST_F(SupervisorTest, ReadinessFollowsTheProbe) {
  const fs::path ready = scratch_ / "ready";
  up("apiVersion: v1\nkind: Pod\nmetadata: {name: flip}\nspec:\n"
     "  containers:\n  - name: main\n    image: test/ready-file\n"
     "    env: [{name: READY_FILE, value: " +
     ready.string() +
     "}]\n"
     "    readinessProbe:\n      exec: {command: [sh, -c, 'test -f \"$READY_FILE\"']}\n"
     "      periodSeconds: 1\n      failureThreshold: 1\n");
  const std::string ready_path = "{.status.conditions[?(@.type==\"Ready\")].status}";
  ASSERT_TRUE(eventually([&] { return pod_field("flip", "{.status.phase}") == "Running"; }));
  EXPECT_EQ(pod_field("flip", ready_path), "False");
  std::ofstream(ready) << "yes";
  EXPECT_TRUE(eventually([&] { return pod_field("flip", ready_path) == "True"; }));
  fs::remove(ready);
  EXPECT_TRUE(eventually([&] { return pod_field("flip", ready_path) == "False"; }));
  EXPECT_NE(events().find("Unhealthy: Readiness probe failed"), std::string::npos);
}

// Probes run off the kubelet's thread: probes that last their whole 5 s timeout (an httpGet
// against a server that never answers, an exec that never ends) hold up no other pod's restarts
// or log capture. On one thread, each sync would wait for them and the restarts come >= 5 s apart.
TEST_F(SupervisorTest, ASlowProbeDelaysNoOtherPodsRestartOrLogs) {
  const fs::path starts = scratch_ / "starts";
  up("apiVersion: v1\nkind: Pod\nmetadata: {name: slow}\nspec:\n"
     "  containers:\n  - name: main\n    image: test/silent\n"
     "    env: [{name: PORT, value: '8080'}]\n"
     "    ports: [{containerPort: 8080}]\n"
     "    readinessProbe: {httpGet: {port: 8080, path: /}, timeoutSeconds: 5, periodSeconds: 1}\n"
     "    livenessProbe:\n"
     "      exec: {command: [sleep, '59.25']}\n"
     "      timeoutSeconds: 5\n      periodSeconds: 1\n      failureThreshold: 100\n"
     "---\n"
     "apiVersion: v1\nkind: Pod\nmetadata: {name: crasher}\nspec:\n"
     "  containers:\n  - name: main\n    image: test/crash\n"
     "    env: [{name: STARTS, value: " +
     starts.string() + "}]\n");
  // Both probes of `slow` are in progress once its readiness probe has failed once.
  ASSERT_TRUE(eventually([&] {
    return events().find("Unhealthy: Readiness probe failed") != std::string::npos;
  })) << events();
  std::vector<int64_t> times;
  ASSERT_TRUE(eventually([&] {
    times.clear();
    std::ifstream in(starts);
    for (int64_t t; in >> t;) times.push_back(t);
    return times.size() >= 12;
  })) << events();
  // The back-off is at most 800 ms (ticketctl.yaml): every restart follows well within 5 s.
  for (size_t i = 1; i < times.size(); ++i)
    EXPECT_LT(static_cast<double>(times[i] - times[i - 1]) / 1e9, 3.0) << "restart " << i;
  // Each run's line reaches its log as it is written: `logs` shows the latest run, which is this
  // one or, if the pod restarted again meanwhile, a later one.
  std::string last_log;
  EXPECT_TRUE(eventually(
      [&] {
        last_log = run({"logs", "crasher"}).out;
        size_t run_number = 0;
        return std::sscanf(last_log.c_str(), "run %zu failing", &run_number) == 1 &&
               run_number >= times.size();
      },
      std::chrono::seconds(3)))
      << "want run " << times.size() << " or later, logs: " << last_log;
  // Exec attempts that outlast their timeout are killed: one at a time is running, not one
  // per period.
  int sleeping = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline == std::string("sleep\0"
                               "59.25\0",
                               12))
      ++sleeping;
  }
  EXPECT_GE(sleeping, 1);
  EXPECT_LE(sleeping, 2);
  EXPECT_EQ(pod_field("slow", "{.status.phase}"), "Running");
}

TEST_F(SupervisorTest, DownStopsEveryPodProcess) {
  const pid_t grandchild = up_stubborn();
  ASSERT_TRUE(alive(grandchild));
  const Result down = run({"down"});
  EXPECT_EQ(down.status, 0) << down.err;
  // `down` returns once the control plane is gone, and it goes only after its pods.
  EXPECT_FALSE(alive(grandchild));
}

// A pod whose container runs term_after_hook.sh with this preStop handler (YAML flow style).
std::string pre_stop_pod(const std::string& name, const fs::path& dir, const std::string& handler) {
  return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name +
         "}\nspec:\n  containers:\n  - name: main\n    image: test/term\n"
         "    env: [{name: DIR, value: " +
         dir.string() + "}]\n    lifecycle: {preStop: " + handler + "}\n";
}

TEST_F(SupervisorTest, APreStopHookRunsBeforeSigtermWithTheContainersEnvironment) {
  up(pre_stop_pod("hooked", scratch_,
                  "{exec: {command: [sh, -c, 'touch \"$DIR/$HOSTNAME-hook\"']}}"));
  ASSERT_TRUE(eventually([&] { return run({"logs", "hooked"}).out == "waiting\n"; })) << events();
  ASSERT_EQ(run({"delete", "pod", "hooked"}).status, 0);
  ASSERT_TRUE(eventually([&] { return fs::exists(scratch_ / "hooked-term"); }));
  const std::string term = testing::slurp(scratch_ / "hooked-term");
  EXPECT_TRUE(term.starts_with("after-hook ")) << term << events();
}

TEST_F(SupervisorTest, AnHttpGetPreStopHookCallsThePodBeforeSigterm) {
  up("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n"
     "  - name: main\n    image: test/http-hook\n    ports: [{name: http, containerPort: 8080}]\n"
     "    env: [{name: DIR, value: " +
     scratch_.string() +
     "}]\n"
     "    lifecycle: {preStop: {httpGet: {path: /pre-stop, port: http}}}\n");
  ASSERT_TRUE(eventually([&] {
    return pod_field("web", "{.status.containerStatuses[0].ready}") == "true";
  })) << events();
  ASSERT_EQ(run({"delete", "pod", "web"}).status, 0);
  ASSERT_TRUE(eventually([&] { return fs::exists(scratch_ / "web-term"); })) << events();
  const std::string term = testing::slurp(scratch_ / "web-term");
  EXPECT_TRUE(term.starts_with("after-hook ")) << term << events();
}

TEST_F(SupervisorTest, ASleepHookDelaysSigtermAndAFailedHookIsAWarningEvent) {
  up(pre_stop_pod("sleepy", scratch_, "{sleep: {seconds: 1}}") + "---\n" +
     pre_stop_pod("failing", scratch_, "{exec: {command: [sh, -c, 'exit 3']}}"));
  ASSERT_TRUE(eventually([&] {
    return run({"logs", "sleepy"}).out == "waiting\n" &&
           run({"logs", "failing"}).out == "waiting\n";
  })) << events();
  const auto deleted = std::chrono::system_clock::now();
  ASSERT_EQ(run({"delete", "pod", "sleepy", "failing"}).status, 0);
  ASSERT_TRUE(eventually([&] {
    return fs::exists(scratch_ / "sleepy-term") && fs::exists(scratch_ / "failing-term");
  }));
  std::string how;
  int64_t ns = 0;
  std::istringstream(testing::slurp(scratch_ / "sleepy-term")) >> how >> ns;
  const auto term_at = std::chrono::system_clock::time_point(std::chrono::nanoseconds(ns));
  EXPECT_GE(term_at - deleted, std::chrono::milliseconds(950));
  // SIGTERM follows a failed hook at once, and the failure is reported.
  const std::string failing = testing::slurp(scratch_ / "failing-term");
  EXPECT_TRUE(failing.starts_with("no-hook ")) << failing;
  EXPECT_NE(events().find("FailedPreStopHook: Exec lifecycle hook ([sh -c exit 3]) for Container "
                          "\"main\" failed - error: command 'sh -c exit 3' exited with 3"),
            std::string::npos)
      << events();
}

TEST_F(SupervisorTest, AContainerOverItsMemoryLimitIsOomKilled) {
  up("apiVersion: v1\nkind: Pod\nmetadata: {name: hungry}\nspec:\n  restartPolicy: Never\n"
     "  containers:\n  - name: main\n    image: test/eat-memory\n"
     "    env: [{name: MIB, value: '256'}]\n"
     "    resources: {limits: {memory: 64Mi}}\n");
  std::string reason;
  ASSERT_TRUE(eventually([&] {
    reason = pod_field("hungry", "{.status.containerStatuses[0].state.terminated.reason}");
    return !reason.empty() || events().find("MemoryLimitNotEnforced") != std::string::npos;
  })) << events();
  // Where the machine gives no memory cgroup (no cgroup v2 delegation, no writable v1), the
  // limit is not enforced and the pod says why.
  if (reason.empty()) GTEST_SKIP() << events();
  EXPECT_EQ(reason, "OOMKilled") << events();
  EXPECT_EQ(pod_field("hungry", "{.status.containerStatuses[0].state.terminated.exitCode}"), "137");
  EXPECT_EQ(run({"logs", "hungry"}).out.find("survived"), std::string::npos);
}

// Pods outlive their control plane, as containers outlive a kubelet restart: the next `up`
// adopts the live ones (same PIDs, IPs and logs, output written meanwhile kept) and restarts the
// one that died while nobody supervised it.
TEST_F(SupervisorTest, KillNineOfTheControlPlaneThenUpKeepsThePodsAndTheirPids) {
  up("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: echo}\nspec:\n"
     "  replicas: 3\n  selector: {matchLabels: {app: echo}}\n"
     "  template:\n    metadata: {labels: {app: echo}}\n    spec:\n"
     "      terminationGracePeriodSeconds: 1\n"
     "      containers:\n      - name: main\n        image: test/echo-files\n"
     "        env: [{name: DIR, value: " +
     scratch_.string() + "}]\n");
  const std::string columns =
      "jsonpath={range .items[*]}{.metadata.name} {.status.podIP} "
      "{.status.containerStatuses[0].containerID} "
      "{.status.containerStatuses[0].restartCount}{\"\\n\"}{end}";
  struct Row {
    std::string name, ip, id;
    int restarts = -1;
    pid_t pid() const { return id.starts_with("ticketctl://") ? std::stoi(id.substr(12)) : 0; }
  };
  auto rows = [&] {
    std::vector<Row> out;
    std::istringstream in(run({"get", "pods", "-l", "app=echo", "-o", columns}).out);
    for (Row r; in >> r.name >> r.ip >> r.id >> r.restarts;) out.push_back(r);
    return out;
  };
  std::vector<Row> before;
  ASSERT_TRUE(eventually([&] {
    before = rows();
    return before.size() == 3 && before[0].pid() > 0 && before[1].pid() > 0 && before[2].pid() > 0;
  })) << events();
  const Row& kept = before[0];
  const Row& crashed = before[1];  // its program dies while nobody supervises it
  const Row& gone = before[2];     // the whole pod dies, shim included
  ASSERT_TRUE(eventually([&] { return run({"logs", kept.name}).out == "started\n"; }));

  ASSERT_NO_FATAL_FAILURE(kill_control_plane());
  for (const Row& r : before) ASSERT_TRUE(alive(r.pid())) << r.name;
  const Result status = run({"status"});
  EXPECT_EQ(status.status, 1);
  EXPECT_NE(status.out.find("containers:      3 still running"), std::string::npos) << status.out;
  // With nobody reading its output, a pod still writes (no EPIPE, no SIGPIPE) ...
  std::ofstream(scratch_ / (kept.name + "-say-1")) << "while the control plane was dead\n";
  ASSERT_TRUE(eventually([&] { return fs::exists(scratch_ / (kept.name + "-said-1")); }));
  // ... and those that die meanwhile are noticed later: the program under its shim (the
  // container's parent, which writes down how it ended), and a whole pod.
  const pid_t program = child_of(crashed.pid());
  ASSERT_GT(program, 0);
  ASSERT_EQ(::kill(program, SIGKILL), 0);
  ASSERT_EQ(::kill(-gone.pid(), SIGKILL), 0);
  ASSERT_TRUE(eventually([&] { return !alive(crashed.pid()) && !alive(gone.pid()); }));

  const Result again = run({"up", "-d"});
  ASSERT_EQ(again.status, 0) << again.out << again.err;
  const std::string restarts = "{.status.containerStatuses[0].restartCount}";
  std::vector<Row> after;
  ASSERT_TRUE(eventually([&] {
    after = rows();
    return after.size() == 3 && after[1].restarts == 1 && after[1].pid() > 0 &&
           after[2].restarts == 1 && after[2].pid() > 0;
  })) << events();
  // The same pods: the live one with its PID and IP, the dead ones restarted in place.
  EXPECT_EQ(after[0].name, kept.name);
  EXPECT_EQ(after[0].pid(), kept.pid());
  EXPECT_EQ(after[0].ip, kept.ip);
  EXPECT_EQ(after[0].restarts, 0);
  const std::string last = "{.status.containerStatuses[0].lastState.terminated.";
  EXPECT_EQ(after[1].name, crashed.name);
  EXPECT_NE(after[1].pid(), crashed.pid());
  EXPECT_EQ(pod_field(crashed.name, last + "exitCode}"), "137");
  EXPECT_EQ(pod_field(crashed.name, last + "signal}"), "9");
  EXPECT_EQ(after[2].name, gone.name);
  EXPECT_EQ(pod_field(gone.name, last + "reason}"), "ContainerStatusUnknown");
  // What it wrote while unsupervised, and after, is in its log.
  std::ofstream(scratch_ / (kept.name + "-say-2")) << "after up\n";
  EXPECT_TRUE(eventually([&] {
    return run({"logs", kept.name}).out == "started\nwhile the control plane was dead\nafter up\n";
  })) << run({"logs", kept.name}).out;

  // An adopted container is not this control plane's child, yet its exit code is known (its
  // shim wrote it down) and its restart follows it.
  std::ofstream(scratch_ / (kept.name + "-exit")) << "3\n";
  ASSERT_TRUE(eventually([&] { return pod_field(kept.name, restarts) == "1"; })) << events();
  EXPECT_EQ(pod_field(kept.name, last + "exitCode}"), "3");
  EXPECT_EQ(pod_field(kept.name, last + "reason}"), "Error");
  EXPECT_TRUE(eventually([&] { return !alive(kept.pid()); }));  // reaped by whoever adopted it

  const Result down = run({"down"});
  EXPECT_EQ(down.status, 0) << down.err;
  // `down` stops the pods an adopting control plane restarted, and waits for them.
  EXPECT_FALSE(alive(after[1].pid()));
  EXPECT_FALSE(alive(after[2].pid()));
}

TEST_F(SupervisorTest, DownWithoutAControlPlaneStopsThePodsAKilledOneLeftRunning) {
  const pid_t grandchild = up_stubborn();
  ASSERT_NO_FATAL_FAILURE(kill_control_plane());
  ASSERT_TRUE(alive(grandchild));

  const Result down = run({"down"});
  EXPECT_EQ(down.status, 0) << down.err;
  EXPECT_NE(down.out.find("stopped 1 container it left running"), std::string::npos) << down.out;
  // It ignores SIGTERM: SIGKILL after the pod's 1 s grace period, and `down` waited for it.
  EXPECT_FALSE(alive(grandchild));
}

}  // namespace
}  // namespace ticketctl
