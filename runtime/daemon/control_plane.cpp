#include "runtime/daemon/control_plane.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>

#include "runtime/api/admission.h"
#include "runtime/api/apply.h"
#include "runtime/api/defaults.h"
#include "runtime/api/resources.h"
#include "runtime/api/server.h"
#include "runtime/api/tls.h"
#include "runtime/core/oplog.h"
#include "runtime/core/strings.h"
#include "runtime/daemon/cluster_objects.h"
#include "runtime/daemon/controller_loop.h"
#include "runtime/daemon/gate.h"
#include "runtime/daemon/ingress.h"
#include "runtime/daemon/tap_peers.h"
#include "runtime/daemon/tap_relay.h"
#include "runtime/daemon/up_report.h"
#include "runtime/dashboard/server.h"
#include "runtime/net/allocator.h"
#include "runtime/net/dataplane.h"
#include "runtime/net/host_sockets.h"
#include "runtime/net/node_ports.h"
#include "runtime/store/shared.h"
#include "runtime/supervisor/kubelet.h"
#include "runtime/tap/tap.h"

namespace ticketctl::daemon {
namespace fs = std::filesystem;
namespace {

// Holds the state directory's flock for the life of the process; the kernel drops it when the
// process dies, so a control plane killed with -9 leaves no stale lock.
class DirLock {
 public:
  ~DirLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  Result<bool> acquire(const StateDir& dir) {
    fd_ = ::open(dir.lock().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0)
      return Error{ErrorCode::Internal,
                   fmt::format("cannot open {}: {}", dir.lock().string(), std::strerror(errno))};
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      char buf[32] = {};
      const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
      const std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "?";
      return Error{ErrorCode::AlreadyExists,
                   fmt::format("the state directory {} is in use by the control plane with pid {}",
                               dir.root.string(), pid.substr(0, pid.find('\n')))};
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) < 0)
      return Error{ErrorCode::Internal, fmt::format("cannot write {}", dir.lock().string())};
    return true;
  }

 private:
  int fd_ = -1;
};

Result<std::string> load_or_create_token(const StateDir& dir) {
  std::ifstream in(dir.token());
  std::string token;
  if (in && std::getline(in, token) && token.size() == 64) return token;
  token = api::random_token();
  Result<bool> w = write_private_file(dir.token(), token + "\n");
  if (!w.ok()) return w.error();
  return token;
}

std::string kubeconfig_text(const std::string& name, int port, const std::string& ca_pem,
                            const std::string& token) {
  return fmt::format(
      "apiVersion: v1\n"
      "kind: Config\n"
      "clusters:\n"
      "- name: {0}\n"
      "  cluster:\n"
      "    server: https://127.0.0.1:{1}\n"
      "    certificate-authority-data: {2}\n"
      "users:\n"
      "- name: {0}\n"
      "  user:\n"
      "    token: {3}\n"
      "contexts:\n"
      "- name: {0}\n"
      "  context:\n"
      "    cluster: {0}\n"
      "    user: {0}\n"
      "    namespace: default\n"
      "current-context: {0}\n",
      name, port, base64_encode(ca_pem), token);
}

// The namespaces every cluster has; objects may only be created in namespaces that exist.
Result<bool> ensure_builtin_namespaces(store::Store& store) {
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    if (store.get({"namespaces", "", ns}).ok()) continue;
    Json object = {{"apiVersion", "v1"},
                   {"kind", "Namespace"},
                   {"metadata", {{"name", ns}}},
                   {"status", {{"phase", "Active"}}}};
    if (Result<Json> r = store.create("namespaces", std::move(object)); !r.ok()) return r.error();
  }
  return true;
}

// Applies the manifests `up` was given: all or nothing (the caller's transaction). Returns the
// "kind/name created" lines, to print once the transaction is committed.
Result<std::vector<std::string>> apply_objects(store::Store& store,
                                               const std::vector<manifest::Object>& objects) {
  std::vector<std::pair<std::string, Json>> batch;
  std::vector<const api::Resource*> resources;
  std::map<size_t, const char*> replaced;  // batch index → why it was removed first
  for (const manifest::Object& o : objects) {
    const api::Resource* r = api::resource_for_kind(o.api_version, o.kind);
    if (!r) return Error{ErrorCode::Invalid, fmt::format("{}: kind is not served", o.ref())};
    const bool ns_defined = std::any_of(objects.begin(), objects.end(), [&](const auto& other) {
      return other.kind == "Namespace" && other.name == o.ns;
    });
    if (r->namespaced && !ns_defined && !store.get({"namespaces", "", o.ns}).ok())
      return Error{ErrorCode::NotFound,
                   fmt::format("{}: namespaces {} not found", o.ref(), quote(o.ns))};
    // As kubectl apply writes: annotated, and merged into what is stored (a rollout restart or
    // a kubectl scale since the last `up` stays).
    Json body = api::annotated_for_apply(o, r->namespaced);
    const char* replace = nullptr;
    if (const Json* current = store.find({r->store_key(), o.ns, o.name})) {
      // What the API server refuses to update (a Deployment's new selector, an immutable
      // ConfigMap's new data) `up` replaces, as skaffold's `--force` does: a Deployment's old
      // pods go with it.
      Json merged = api::merge_applied(*current, body).object;
      replace = api::replacement_reason(r->store_key(), *current, merged);
      if (!replace) body = std::move(merged);
    }
    if (replace) {
      if (Result<Json> removed = store.remove({r->store_key(), o.ns, o.name}); !removed.ok())
        return removed.error();
      replaced.emplace(batch.size(), replace);
    }
    batch.emplace_back(r->store_key(), std::move(body));
    resources.push_back(r);
  }
  Result<std::vector<store::Applied>> applied = store.apply(batch);
  if (!applied.ok()) return applied.error();
  std::vector<std::string> lines;
  for (size_t i = 0; i < objects.size(); ++i) {
    const store::Outcome outcome = applied.value()[i].outcome;
    const auto why = replaced.find(i);
    lines.push_back(fmt::format("{}/{} {}", resources[i]->kubectl_kind(), objects[i].name,
                                why != replaced.end()                   ? why->second
                                : outcome == store::Outcome::Created    ? "created"
                                : outcome == store::Outcome::Configured ? "configured"
                                                                        : "unchanged"));
  }
  return lines;
}

// A file the control plane gives every pod: $<env>, else next to the binary (installed), in
// lib/ticketctl beside its bin, or where the build tree puts it. Empty when none exists.
fs::path find_pod_helper(const char* env, const std::string& name, const std::string& build_dir) {
  if (const char* path = std::getenv(env)) return path;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  for (const fs::path& candidate :
       {exe.parent_path() / name, exe.parent_path() / "../lib/ticketctl" / name,
        exe.parent_path() / ".." / build_dir / name})
    if (fs::exists(candidate, ec)) return fs::canonical(candidate, ec);
  return {};
}

int fail(std::FILE* report, const std::string& message) {
  std::fprintf(report, "ticketctl up: %s\n", message.c_str());
  std::fflush(report);
  return 1;
}

}  // namespace

int run_control_plane(const ControlPlaneOptions& o) {
  const StateDir& dir = o.dir;
  std::error_code ec;
  // The token and pid files decide what runs as this user: only a tree nobody else can change.
  if (Result<bool> trusted = check_private_tree(dir.root, kPodDataDirs); !trusted.ok())
    return fail(o.report, fmt::format("refusing the state directory {}: {}", dir.root.string(),
                                      trusted.error().message));
  if (Result<bool> made = make_private_dirs(dir.root); !made.ok())
    return fail(o.report, made.error().message);
  DirLock lock;
  if (Result<bool> l = lock.acquire(dir); !l.ok()) return fail(o.report, l.error().message);
  // The operator log: a detached control plane's stderr is controlplane.log already, so only
  // the foreground echoes warnings to the terminal.
  if (Result<bool> opened = oplog::init({.file = dir.operator_log(),
                                         .level = oplog::level_for_verbosity(o.verbosity),
                                         .echo_stderr = !o.close_report_when_ready});
      !opened.ok())
    std::fprintf(stderr, "ticketctl: %s; its lines go to stderr\n", opened.error().message.c_str());
  struct CloseLog {
    ~CloseLog() { oplog::shutdown(); }
  } close_log;
  oplog::info("control-plane", "starting in {} (pid {})", dir.root.string(), ::getpid());

  // Signals are taken with sigwait below; block them before any thread exists so every thread
  // inherits the mask and none is interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigset_t blocked = signals;
  sigaddset(&blocked, SIGCHLD);  // the kubelet takes SIGCHLD through a signalfd
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
  // Pods' grandchildren (npm start -> sh -> node) are reparented here when their parent dies,
  // so they are reaped instead of lingering as zombies of init.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);

  Result<std::unique_ptr<store::Store>> store = store::Store::open(dir.db());
  if (!store.ok()) return fail(o.report, store.error().message);
  Result<api::TlsFiles> tls = api::ensure_tls(dir.pki());
  if (!tls.ok()) return fail(o.report, tls.error().message);
  Result<std::string> token = load_or_create_token(dir);
  if (!token.ok()) return fail(o.report, token.error().message);
  Result<std::string> ca = api::read_file(tls.value().ca_cert);
  if (!ca.ok()) return fail(o.report, ca.error().message);

  // From here on the store is reached only with its lock held (store/shared.h): the API's worker
  // threads, the controllers, the kubelet, the dashboard and the gate share it.
  store::Shared shared(std::move(store.value()));
  supervisor::KubeletOptions kubelet_options;
  kubelet_options.pods_dir = dir.root / "pods";
  kubelet_options.project = o.project;
  // The preload library gives pods their network identity; the shim keeps each container's
  // exit status for a control plane that adopts it.
  kubelet_options.preload_library =
      find_pod_helper("TICKETCTL_PRELOAD", "libticketctl_net.so", "runtime/net/preload");
  kubelet_options.shim =
      find_pod_helper("TICKETCTL_SHIM", "ticketctl-shim", "runtime/supervisor/shim");
  kubelet_options.net_table = dir.root / "net" / "table";
  kubelet_options.claims_dir = dir.root / "volumes";
  // Images are built (their Dockerfiles' dependency installs) before their pods start.
  images::Builder* builder_ptr = nullptr;
  kubelet_options.build_gate = [&builder_ptr](const std::string& image) {
    return builder_ptr ? builder_ptr->gate(image) : std::nullopt;
  };
  kubelet_options.backoff_initial = o.project.backoff_initial;
  kubelet_options.backoff_max = o.project.backoff_max;
  for (const std::string& name : o.project.host_env) kubelet_options.host_env.push_back(name);
  kubelet_options.pod_ip_base = o.project.pod_cidr;
  kubelet_options.pod_ip_mask_bits = static_cast<uint32_t>(o.project.pod_prefix);
  // Projects side by side start in different /24s of the shared ranges (and skip used ones).
  const auto start_of = [&](int prefix) {
    const uint32_t blocks = prefix <= 24 ? 1u << (24 - prefix) : 1u;
    return net::project_offset(dir.root.string(), blocks) * 256 + 2;
  };
  kubelet_options.pod_ip_first_offset = start_of(o.project.pod_prefix);
  ForegroundPrinter printer(o.report);
  if (o.echo_logs)
    kubelet_options.report = [&printer](const std::string& pod, const std::string& line,
                                        bool is_log) { printer.print(pod, line, is_log); };
  ControllerLoop* controllers_ptr = nullptr;
  kubelet_options.on_status_written = [&controllers_ptr] {
    if (controllers_ptr) controllers_ptr->wake();
  };
  supervisor::Kubelet kubelet(shared, kubelet_options);
  ReportLines report_lines(o.report);
  images::Builder builder(
      {.project = o.project,
       .records_dir = dir.root / "builds",
       .skip = {dir.root},
       .report = [&report_lines](const std::string& l) { report_lines.print(l); },
       .on_done = [&kubelet] { kubelet.wake(); }});
  builder_ptr = &builder;
  // NodePorts come from one range shared with every other control plane of this user.
  Result<std::unique_ptr<net::NodePortRegistry>> node_ports =
      net::NodePortRegistry::open(net::default_node_port_dir(), dir.root.string());
  if (!node_ports.ok()) return fail(o.report, node_ports.error().message);
  // Services get their addresses as they are written (the API server's admission step).
  net::ServiceRange range;
  range.base = o.project.service_cidr;
  range.prefix = o.project.service_prefix;
  range.first_offset = start_of(o.project.service_prefix) - 1;
  // A batch of new Services reads the host's socket tables once a second at most (the store's
  // lock serialises admissions).
  range.taken_on_host = [seen = std::make_shared<net::RecentLoopbackAddresses>()] {
    return seen->get();
  };
  range.node_ports = node_ports.value().get();
  range.ports_listening = net::listening_tcp_ports;
  shared.lock()->set_admission([range](store::Store& s, const std::string& resource, Json& object,
                                       const Json* old) -> Result<bool> {
    api::apply_defaults(resource, object);
    if (resource == "pods") api::bind_to_node(object);
    if (resource == "persistentvolumeclaims") {
      api::bind_claim(object);
      return true;
    }
    if (resource != "services") return true;
    return net::admit_service(s, range, object, old);
  });
  // The traffic tap's stream: the ingress and the observing relay publish, the API and the
  // dashboard read. Declared before them all (the proxy's loops publish until they stop), so it
  // is destroyed after every one has stopped.
  tap::Hub tap_hub;
  TapPeers tap_peers;
  net::ServiceProxy service_proxy(1);
  service_proxy.set_observer(relay_publisher(tap_hub, tap_peers));
  net::Dataplane dataplane(service_proxy, kubelet_options.net_table);
  IngressService ingress(dir, o.project, dataplane, &tap_hub, &tap_peers);
  // The Node and the `kubernetes` Service; declared first, so it outlives the controller thread.
  ClusterObjects cluster_objects;
  ControllerLoop controllers(shared, dataplane, ingress, node_ports.value().get(),
                             [&kubelet] { kubelet.wake(); });
  controllers_ptr = &controllers;
  controllers.keep(&cluster_objects);
  controllers.follow_taps(&tap_hub, &tap_peers);
  // A tap that starts or ends re-plans the network at once (the subscriber's thread only wakes).
  tap_hub.on_targets_changed([&controllers] { controllers.wake_network(); });
  // A new tap names pods from a fresh directory at once (its first exchange may follow within
  // microseconds of its SUBSCRIBED line), and the controllers' rounds keep it fresh after that.
  const auto on_tap_opened = [&shared, &tap_peers, &controllers] {
    tap_peers.rebuild(*shared.lock());
    controllers.wake();
  };
  // The API reports every write, also an apply that changed nothing: only a committed change
  // (the store's observer saw one) wakes the controllers and the kubelet.
  std::atomic<bool> store_changed{false};
  api::ServerOptions api_options{tls.value().server_cert,
                                 tls.value().server_key,
                                 token.value(),
                                 "127.0.0.1",
                                 0,
                                 kubelet_options.pods_dir,
                                 &tap_hub,
                                 on_tap_opened};
  api::ApiServer server(
      shared,
      [&controllers, &kubelet, &store_changed] {
        if (!store_changed.exchange(false)) return;
        controllers.wake();
        kubelet.wake();
      },
      std::move(api_options));
  shared.lock()->set_observer([&server, &store_changed](const store::Event& e) {
    server.publish(e);
    store_changed = true;
  });
  Result<int> port = server.start();
  if (!port.ok()) return fail(o.report, port.error().message);

  const std::string name = fmt::format("ticketctl-{}", dir.root.filename().string());
  for (auto [file, text] :
       {std::pair{dir.kubeconfig(), kubeconfig_text(name, port.value(), ca.value(), token.value())},
        std::pair{dir.apiserver(),
                  Json{{"pid", ::getpid()}, {"port", port.value()}}.dump() + "\n"}}) {
    if (Result<bool> w = write_private_file(file, text); !w.ok())
      return fail(o.report, w.error().message);
  }
  // The `kubernetes` Service's Endpoints name this API's port.
  cluster_objects.set_api_port(port.value());
  // The dashboard reads through the API's own handler and watch log; without it `up` still
  // works, so a failure to listen is logged and `ticketctl dashboard` says it is not served.
  // The last crash's error line is the gate's: its excerpt of the run's last lines.
  dashboard::LogSource error_lines = [logs = store_sources(shared, kubelet_options.pods_dir).logs](
                                         const Json& pod, const std::string& container,
                                         bool previous) {
    std::vector<std::string> errors;
    for (std::string& line : error_excerpt(logs(pod, container, previous)))
      if (has_error_line({line})) errors.push_back(std::move(line));
    return errors;
  };
  dashboard::DashboardServer dashboard(
      *server.handler(), server.watches(), shared,
      {token.value(), kubelet_options.pods_dir, error_lines, 0, &tap_hub, on_tap_opened});
  if (Result<int> dashboard_port = dashboard.start(); dashboard_port.ok()) {
    if (Result<bool> w = write_private_file(dir.dashboard(),
                                            Json{{"port", dashboard_port.value()}}.dump() + "\n");
        !w.ok())
      return fail(o.report, w.error().message);
    oplog::info("control-plane", "dashboard serving on http://127.0.0.1:{}",
                dashboard_port.value());
  } else {
    oplog::warn("control-plane", "{}", dashboard_port.error().message);
  }
  // Nothing of an `up` that fails is stored: what can fail without writing goes first (the
  // ingress's ports), the rest happens in one transaction that a failure rolls back, and the
  // "created" lines are printed once it is committed.
  Result<IngressPorts> ingress_ports = ingress.start();
  if (!ingress_ports.ok()) return fail(o.report, ingress_ports.error().message);
  {
    store::Shared::Locked s = shared.lock();
    store::Store::Transaction tx = s->transaction();
    if (!tx.began()) return fail(o.report, "cannot begin a transaction on " + dir.db().string());
    if (Result<bool> n = ensure_builtin_namespaces(*s); !n.ok())
      return fail(o.report, n.error().message);
    Result<std::vector<std::string>> applied = apply_objects(*s, o.objects);
    if (!applied.ok()) return fail(o.report, applied.error().message);
    if (Result<bool> r = ingress.register_service(*s); !r.ok())
      return fail(o.report, r.error().message);
    if (Result<bool> r = cluster_objects.write(*s); !r.ok())
      return fail(o.report, r.error().message);
    // Every Service port must be served before `up` says ready: one that cannot be bound
    // (another program has it) fails `up` instead of advertising a port that reaches that
    // program.
    std::string unserved;
    for (const net::PortProblem& p : dataplane.apply(controllers.plan_network(*s)))
      unserved += fmt::format("\n  {}{}{}", p.service.empty() ? "" : "service ", p.service,
                              (p.service.empty() ? "" : ": ") + p.message);
    if (!unserved.empty())
      return fail(o.report, "Service ports cannot be served, nothing was applied:" + unserved);
    if (Result<bool> c = tx.commit(); !c.ok()) return fail(o.report, c.error().message);
    for (const std::string& line : applied.value()) std::fprintf(o.report, "%s\n", line.c_str());
  }
  // Converge before saying ready, so a script that runs `get pods` next sees them.
  controllers.start();
  kubelet.start();
  std::fprintf(o.report, "control plane ready: https://127.0.0.1:%d (pid %d)\nkubeconfig: %s\n",
               port.value(), ::getpid(), dir.kubeconfig().c_str());
  oplog::info("control-plane", "API serving on https://127.0.0.1:{}", port.value());
  if (ingress_ports.value().http > 0)
    std::fprintf(o.report, "ingress: http://%s:%d", ingress_ports.value().address.c_str(),
                 ingress_ports.value().http);
  if (ingress_ports.value().https > 0)
    std::fprintf(o.report, "%shttps://%s:%d",
                 ingress_ports.value().http > 0 ? " and " : "ingress: ",
                 ingress_ports.value().address.c_str(), ingress_ports.value().https);
  if (ingress_ports.value().http > 0 || ingress_ports.value().https > 0)
    std::fprintf(o.report, "\n");
  std::fflush(o.report);

  int sig = 0;
  Verdict verdict = Verdict::Stable;
  // Foreground, and -d with --timeout: the readiness gate (gate.h).
  if (o.echo_logs || o.stabilize_timeout.count() > 0) {
    GateReporter gate(store_sources(shared, kubelet_options.pods_dir), o.gate, o.report);
    std::fprintf(o.report, "Waiting for deployments to stabilize...\n");
    std::fflush(o.report);
    const bool bounded = o.stabilize_timeout.count() > 0;
    const auto deadline = std::chrono::steady_clock::now() + o.stabilize_timeout;
    while (sig == 0) {
      verdict = gate.poll(bounded && std::chrono::steady_clock::now() >= deadline);
      if (verdict == Verdict::Stable || verdict == Verdict::TimedOut) break;
      // A failure ends a bounded wait (CI); the foreground dev loop keeps running to be fixed.
      if (verdict == Verdict::Failed && bounded) break;
      // The tick of this status loop; a signal ends the wait at once.
      const timespec tick{0, 100'000'000};
      siginfo_t info;
      const int got = sigtimedwait(&signals, &info, &tick);
      if (got > 0) sig = got;
    }
    if (sig == 0 && verdict == Verdict::Stable) {
      std::fprintf(o.report, "Deployments stabilized in %.1fs\n", gate.elapsed_seconds());
      print_ingress_hosts(shared, ingress_ports.value(), o.report);
    } else if (sig == 0) {
      std::vector<std::string> names;
      for (const DeploymentVerdict& d : gate.last())
        if (d.verdict != Verdict::Stable) names.push_back(d.ref());
      if (verdict == Verdict::Failed)
        std::fprintf(o.report, "deployments failed after %.1fs: %s (exit status 1)\n",
                     gate.elapsed_seconds(), join(names, ", ").c_str());
      else
        std::fprintf(o.report, "deployments did not stabilize within %gs: %s (exit status 3)\n",
                     static_cast<double>(o.stabilize_timeout.count()) / 1000.0,
                     join(names, ", ").c_str());
    }
    std::fflush(o.report);
  }
  // The waiting parent of `up -d` learns the verdict from this byte: '0' + exit status.
  const bool gate_failed = sig == 0 && verdict != Verdict::Stable;
  const char ready = static_cast<char>('0' + (gate_failed ? exit_code(verdict) : 0));
  if (o.close_report_when_ready) report_lines.close();
  if (o.ready_fd >= 0) {
    if (::write(o.ready_fd, &ready, 1) != 1) return 1;
    ::close(o.ready_fd);
  }
  // In the foreground, a gate that failed or timed out ends `up` (after stopping everything).
  if (sig == 0 && !(gate_failed && o.echo_logs)) sigwait(&signals, &sig);
  oplog::info("control-plane", "stopping ({})", sig == 0 ? "the gate failed" : strsignal(sig));
  // The dashboard first: its event streams wait on the API's watch log, which ends their wait.
  server.watches().stop();
  dashboard.stop();
  fs::remove(dir.dashboard(), ec);
  server.stop();
  // No API any more: clients (`status`) must not take this control plane for a serving one.
  fs::remove(dir.apiserver(), ec);
  ingress.stop();
  // Nothing reads any more; the relay's observing listeners may still report until the proxy
  // goes (publish() into a closed hub is harmless).
  tap_hub.on_targets_changed({});
  tap_hub.close();
  controllers.stop();
  builder.stop();
  // Every pod stops in parallel; this returns once all their processes are gone.
  kubelet.stop();
  node_ports.value()->release_all();
  // What had to be killed, for `down` to print once the lock is released.
  std::string killed;
  for (const std::string& line : kubelet.kill_report()) killed += line + "\n";
  if (!killed.empty())
    if (Result<bool> w = write_private_file(dir.stop_report(), killed); !w.ok())
      oplog::error("control-plane", "the stop report for `down`: {}", w.error().message);
  oplog::info("control-plane", "stopped");
  fs::remove(dir.root / "ingress.json", ec);
  if (gate_failed && o.echo_logs && sig == 0) return exit_code(verdict);
  return sig == SIGINT ? 130 : 0;
}

}  // namespace ticketctl::daemon
