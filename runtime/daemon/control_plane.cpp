#include "runtime/daemon/control_plane.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "runtime/api/apply.h"
#include "runtime/api/defaults.h"
#include "runtime/api/resources.h"
#include "runtime/api/server.h"
#include "runtime/api/tls.h"
#include "runtime/controllers/deployment.h"
#include "runtime/controllers/endpoints.h"
#include "runtime/core/oplog.h"
#include "runtime/core/strings.h"
#include "runtime/daemon/cluster_objects.h"
#include "runtime/daemon/gate.h"
#include "runtime/daemon/ingress.h"
#include "runtime/dashboard/server.h"
#include "runtime/events/events.h"
#include "runtime/logs/pod_logs.h"
#include "runtime/net/allocator.h"
#include "runtime/net/dataplane.h"
#include "runtime/net/host_sockets.h"
#include "runtime/net/node_ports.h"
#include "runtime/store/store.h"
#include "runtime/supervisor/kubelet.h"

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
    if (const Json* current = store.find({r->store_key(), o.ns, o.name}))
      body = api::merge_applied(*current, body).object;
    batch.emplace_back(r->store_key(), std::move(body));
    resources.push_back(r);
  }
  Result<std::vector<store::Applied>> applied = store.apply(batch);
  if (!applied.ok()) return applied.error();
  std::vector<std::string> lines;
  for (size_t i = 0; i < objects.size(); ++i) {
    const store::Outcome outcome = applied.value()[i].outcome;
    lines.push_back(fmt::format("{}/{} {}", resources[i]->kubectl_kind(), objects[i].name,
                                outcome == store::Outcome::Created      ? "created"
                                : outcome == store::Outcome::Configured ? "configured"
                                                                        : "unchanged"));
  }
  return lines;
}

// The nodePorts the stored Services use: port -> "ns/name".
std::map<int, std::string> stored_node_ports(const store::Store& store) {
  std::map<int, std::string> out;
  for (const store::ObjectRef& svc : store.items("services", "")) {
    const Json& meta = json_at(*svc, "metadata");
    for (const Json& p : json_at(json_at(*svc, "spec"), "ports"))
      if (json_at(p, "nodePort").is_number_integer())
        out[p["nodePort"].get<int>()] =
            fmt::format("{}/{}", meta.value("namespace", ""), meta.value("name", ""));
  }
  return out;
}

// Runs the controllers on their own thread: after every API write, and every few seconds as a
// level-based safety net; each round repeats until a pass writes nothing.
class ControllerLoop {
 public:
  ControllerLoop(store::Store& store, std::mutex& store_mutex, net::Dataplane& dataplane,
                 IngressService& ingress, net::NodePortRegistry* node_ports,
                 std::function<void()> after_write)
      : ingress_(ingress),
        store_(store),
        deployments_(store),
        endpoints_(store),
        store_mutex_(store_mutex),
        dataplane_(dataplane),
        node_ports_(node_ports),
        after_write_(std::move(after_write)) {}
  ~ControllerLoop() { stop(); }

  // Converges once on the calling thread, then keeps converging in the background.
  void start() {
    converge();
    thread_ = std::thread([this] { run(); });
  }
  void wake() {
    {
      std::lock_guard<std::mutex> l(mu_);
      dirty_ = true;
    }
    cv_.notify_one();
  }
  // Before start(): each round puts back the cluster's built-in objects when deleted.
  void keep(ClusterObjects* objects) { cluster_objects_ = objects; }
  void stop() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  // Under the store's lock: the network as the store describes it. The nodePort registry
  // follows the stored Services first, so ports of deleted Services are free for other
  // projects and ports other projects hold are left out of the plan.
  net::DataplanePlan plan_network() {
    if (node_ports_) {
      std::map<int, std::string> ports = stored_node_ports(store_);
      // Also while another project holds one of them: it may have let go since.
      if (ports != synced_ports_ || !foreign_ports_.empty()) {
        Result<std::map<int, std::string>> foreign = node_ports_->sync(ports);
        if (foreign.ok()) {
          synced_ports_ = std::move(ports);
          foreign_ports_ = std::move(foreign.value());
        } else {
          repeated_.write(oplog::Level::Error, "node-ports", foreign.error().message);
        }
      }
    }
    net::DataplanePlan plan = net::Dataplane::plan(store_, foreign_ports_);
    // Routing problems belong to their Ingress, as ingress-nginx reports them: Warning events.
    for (std::string& w : ingress_.update(store_)) {
      const size_t slash = w.find('/'), colon = w.find(": ");
      const Json* ing = nullptr;
      if (slash != std::string::npos && colon != std::string::npos && slash < colon)
        ing = store_.find({"ingresses.networking.k8s.io", w.substr(0, slash),
                           w.substr(slash + 1, colon - slash - 1)});
      if (ing)
        events::record_event(store_, Json(*ing), "Warning", "Sync", w.substr(colon + 2),
                             "ingress-controller");
      plan.warnings.push_back(std::move(w));
    }
    return plan;
  }

 private:
  void converge() {
    int writes = 0;
    // Each pass holds the store's lock on its own, so API requests go between passes of a long
    // round (an apply of 1,000 objects waited on rounds of several passes), and is one
    // transaction: its writes are savepoints of one commit, not a commit each.
    for (int pass = 0; pass < 10; ++pass) {
      std::lock_guard<std::mutex> l(store_mutex_);
      store::Store::Transaction tx = store_.transaction();
      int n = cluster_objects_ ? cluster_objects_->restore(store_) : 0;
      n += deployments_.reconcile() + endpoints_.reconcile();
      // (Without a transaction, each write was committed on its own.)
      if (Result<bool> c = tx.began() ? tx.commit() : Result<bool>(true); !c.ok()) {
        repeated_.write(oplog::Level::Error, "controllers", c.error().message);
        break;
      }
      writes += n;
      if (n == 0) break;
    }
    net::DataplanePlan plan;
    {
      std::lock_guard<std::mutex> l(store_mutex_);
      plan = plan_network();
    }
    // Listeners and the name table change outside the lock; problems become Warning events.
    const std::vector<net::PortProblem> problems = dataplane_.apply(plan);
    for (const std::string& w : plan.warnings) repeated_.write(oplog::Level::Warn, "dataplane", w);
    report_port_problems(problems);
    if (writes > 0 && after_write_) after_write_();
  }

  // A Service port that is not served is said once, on stderr and as a Warning event on the
  // Service, until it is served again (so a recurrence is said again).
  void report_port_problems(const std::vector<net::PortProblem>& problems) {
    std::set<net::PortProblem> now(problems.begin(), problems.end());
    std::vector<net::PortProblem> fresh;
    for (const net::PortProblem& p : now)
      if (!port_problems_.count(p)) fresh.push_back(p);
    port_problems_ = std::move(now);
    if (fresh.empty()) return;
    std::lock_guard<std::mutex> l(store_mutex_);
    for (const net::PortProblem& p : fresh) {
      const std::string line =
          p.service.empty() ? p.message : "service " + p.service + ": " + p.message;
      oplog::warn("dataplane", "{}", line);
      const size_t slash = p.service.find('/');
      if (slash == std::string::npos) continue;
      if (const Json* svc =
              store_.find({"services", p.service.substr(0, slash), p.service.substr(slash + 1)}))
        events::record_event(store_, Json(*svc), "Warning", "PortUnavailable", p.message,
                             "service-proxy");
    }
  }

  void run() {
    // Rounds are passes over every object: during a burst of writes (an apply of 1,000 objects,
    // the kubelet starting their pods) one round per write made the burst quadratic. A round
    // starts at most every kMinRound; the writes meanwhile are all seen by it.
    constexpr auto kMinRound = std::chrono::milliseconds(100);
    auto last_round = std::chrono::steady_clock::now();
    while (true) {
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait_for(l,
                     std::min<std::chrono::milliseconds>(std::chrono::seconds(5),
                                                         deployments_.requeue_after()),
                     [this] { return dirty_ || stopping_; });
        if (stopping_) return;
        cv_.wait_until(l, last_round + kMinRound, [this] { return stopping_; });
        if (stopping_) return;
        dirty_ = false;
      }
      last_round = std::chrono::steady_clock::now();
      converge();
    }
  }

  IngressService& ingress_;
  ClusterObjects* cluster_objects_ = nullptr;
  store::Store& store_;
  controllers::DeploymentController deployments_;
  controllers::EndpointsController endpoints_;
  std::mutex& store_mutex_;
  net::Dataplane& dataplane_;
  net::NodePortRegistry* node_ports_;
  std::map<int, std::string> synced_ports_, foreign_ports_;
  std::function<void()> after_write_;
  // The dataplane's warnings recur every round while their cause lasts: said at once, then at
  // most once a minute with how many were held back.
  oplog::RateLimited repeated_;
  std::set<net::PortProblem> port_problems_;  // controller thread only
  std::mutex mu_;
  std::condition_variable cv_;
  bool dirty_ = false, stopping_ = false;
  std::thread thread_;
};

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

// `up` in the foreground: every log line with its pod's name in front, in a colour of its own
// on a terminal.
class ForegroundPrinter {
 public:
  explicit ForegroundPrinter(std::FILE* out) : out_(out), colour_(::isatty(::fileno(out)) != 0) {}
  void print(const std::string& pod, const std::string& line, bool is_log) {
    std::lock_guard<std::mutex> l(mu_);
    auto [it, inserted] = colours_.try_emplace(pod, static_cast<int>(colours_.size() % 6));
    if (colour_)
      std::fprintf(out_, "\033[%dm[%s]\033[0m %s%s\n", 31 + it->second, pod.c_str(),
                   is_log ? "" : "\033[2m", (line + (is_log ? "" : "\033[0m")).c_str());
    else
      std::fprintf(out_, "[%s] %s\n", pod.c_str(), line.c_str());
    std::fflush(out_);
  }

 private:
  std::FILE* out_;
  bool colour_;
  std::mutex mu_;
  std::map<std::string, int> colours_;
};

// Lines that other threads (the builder's) add to `report`; once `up -d` closed its pipe, to
// stderr (the detached control plane's log).
class ReportLines {
 public:
  explicit ReportLines(std::FILE* out) : out_(out) {}
  void print(const std::string& line) {
    std::lock_guard<std::mutex> l(mu_);
    std::FILE* to = out_ ? out_ : stderr;
    std::fprintf(to, "%s\n", line.c_str());
    std::fflush(to);
  }
  void close() {
    std::lock_guard<std::mutex> l(mu_);
    if (out_) std::fclose(out_);
    out_ = nullptr;
  }

 private:
  std::mutex mu_;
  std::FILE* out_;
};

// The gate's view of the store, and container logs read as pods/log serves them.
GateSources store_sources(store::Store& store, std::mutex& mu, const fs::path& pods_dir) {
  GateSources sources;
  sources.snapshot = [&store, &mu] {
    GateSnapshot s;
    std::lock_guard<std::mutex> l(mu);
    s.deployments = store.list("deployments.apps", "");
    s.replicasets = store.list("replicasets.apps", "");
    s.pods = store.list("pods", "");
    s.events = store.list("events", "");
    s.now_ns = logs::unix_now_ns();
    return s;
  };
  sources.logs = [pods_dir](const Json& pod, const std::string& container, bool previous) {
    logs::LogOptions options;
    options.container = container;
    options.previous = previous;
    options.tail_lines = 200;
    std::vector<std::string> lines;
    Result<logs::LogRun> run = logs::choose_log_run(pod, pods_dir, options);
    if (!run.ok()) return lines;
    std::string text;
    logs::LogReader(run.value(), options, logs::unix_now_ns()).poll(text);
    for (size_t start = 0, eol; (eol = text.find('\n', start)) != std::string::npos;
         start = eol + 1)
      lines.push_back(text.substr(start, eol - start));
    return lines;
  };
  return sources;
}

// Where to point a browser or curl: one line per Ingress host.
void print_ingress_hosts(store::Store& store, std::mutex& mu, const IngressPorts& ports,
                         std::FILE* out) {
  if (ports.http <= 0) return;
  std::set<std::string> hosts;
  {
    std::lock_guard<std::mutex> l(mu);
    for (const Json& ing : store.list("ingresses.networking.k8s.io", ""))
      for (const Json& rule : json_at(json_at(ing, "spec"), "rules"))
        hosts.insert(json_at(rule, "host").is_string() ? rule["host"].get<std::string>() : "");
  }
  if (hosts.empty()) return;
  std::fprintf(out, "Open the app through the ingress (http://%s:%d):\n", ports.address.c_str(),
               ports.http);
  for (const std::string& host : hosts) {
    if (host.empty()) {
      std::fprintf(out, "  curl http://%s:%d/\n", ports.address.c_str(), ports.http);
      continue;
    }
    std::fprintf(out, "  curl -H 'Host: %s' http://%s:%d/\n", host.c_str(), ports.address.c_str(),
                 ports.http);
    std::fprintf(out, "  or add \"%s %s\" to /etc/hosts and open http://%s:%d/ in a browser\n",
                 ports.address.c_str(), host.c_str(), host.c_str(), ports.http);
  }
  std::fprintf(out,
               "  (browsers resolve *.localhost to loopback: add e.g. \"%s\" as a host of the "
               "Ingress and open http://%s:%d/)\n",
               "posts.localhost", "posts.localhost", ports.http);
  std::fflush(out);
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

  // One lock for the store, shared by the API's worker threads and the controllers.
  std::mutex store_mutex;
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
  supervisor::Kubelet kubelet(*store.value(), store_mutex, kubelet_options);
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
  store.value()->set_admission([range](store::Store& s, const std::string& resource, Json& object,
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
  net::ServiceProxy service_proxy(1);
  net::Dataplane dataplane(service_proxy, kubelet_options.net_table);
  IngressService ingress(dir, o.project, dataplane);
  // The Node and the `kubernetes` Service; declared first, so it outlives the controller thread.
  ClusterObjects cluster_objects;
  ControllerLoop controllers(*store.value(), store_mutex, dataplane, ingress,
                             node_ports.value().get(), [&kubelet] { kubelet.wake(); });
  controllers_ptr = &controllers;
  controllers.keep(&cluster_objects);
  // The API reports every write, also an apply that changed nothing: only a committed change
  // (the store's observer saw one) wakes the controllers and the kubelet.
  std::atomic<bool> store_changed{false};
  api::ApiServer server(*store.value(), store_mutex,
                        [&controllers, &kubelet, &store_changed] {
                          if (!store_changed.exchange(false)) return;
                          controllers.wake();
                          kubelet.wake();
                        },
                        {tls.value().server_cert, tls.value().server_key, token.value(),
                         "127.0.0.1", 0, kubelet_options.pods_dir});
  store.value()->set_observer([&server, &store_changed](const store::Event& e) {
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
  dashboard::LogSource error_lines =
      [logs = store_sources(*store.value(), store_mutex, kubelet_options.pods_dir).logs](
          const Json& pod, const std::string& container, bool previous) {
        std::vector<std::string> errors;
        for (std::string& line : error_excerpt(logs(pod, container, previous)))
          if (has_error_line({line})) errors.push_back(std::move(line));
        return errors;
      };
  dashboard::DashboardServer dashboard(*server.handler(), server.watches(), *store.value(),
                                       store_mutex,
                                       {token.value(), kubelet_options.pods_dir, error_lines});
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
    std::lock_guard<std::mutex> l(store_mutex);
    store::Store::Transaction tx = store.value()->transaction();
    if (!tx.began()) return fail(o.report, "cannot begin a transaction on " + dir.db().string());
    if (Result<bool> n = ensure_builtin_namespaces(*store.value()); !n.ok())
      return fail(o.report, n.error().message);
    Result<std::vector<std::string>> applied = apply_objects(*store.value(), o.objects);
    if (!applied.ok()) return fail(o.report, applied.error().message);
    if (Result<bool> r = ingress.register_service(*store.value()); !r.ok())
      return fail(o.report, r.error().message);
    if (Result<bool> r = cluster_objects.write(*store.value()); !r.ok())
      return fail(o.report, r.error().message);
    // Every Service port must be served before `up` says ready: one that cannot be bound
    // (another program has it) fails `up` instead of advertising a port that reaches that
    // program.
    std::string unserved;
    for (const net::PortProblem& p : dataplane.apply(controllers.plan_network()))
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
    GateReporter gate(store_sources(*store.value(), store_mutex, kubelet_options.pods_dir), o.gate,
                      o.report);
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
      print_ingress_hosts(*store.value(), store_mutex, ingress_ports.value(), o.report);
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

namespace {

// How long a stopping control plane may take: its containers' longest grace period (each
// recorded in its run's exec.json), a preStop hook's two extra seconds, and time for the rest.
std::chrono::seconds stop_deadline(const fs::path& pods_dir) {
  int longest = 0;
  for (const supervisor::RecordedRun& r : supervisor::recorded_runs(pods_dir)) {
    const Json& grace = json_at(r.exec, "gracePeriodSeconds");
    longest = std::max(longest, grace.is_number_integer() ? grace.get<int>() : 30);
  }
  return std::chrono::seconds(longest + 15);
}

void print_killed(const std::vector<std::string>& lines, std::FILE* report) {
  for (const std::string& line : lines) std::fprintf(report, "%s\n", line.c_str());
}

}  // namespace

Result<bool> stop_control_plane(const StateDir& dir, std::FILE* report) {
  const fs::path pods_dir = dir.root / "pods";
  const int fd = ::open(dir.lock().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::flock(fd, LOCK_SH | LOCK_NB) == 0) {
    if (fd >= 0) ::close(fd);
    std::fprintf(report, "no control plane is running for %s\n", dir.root.c_str());
    // One that was killed leaves its pods running (for the next `up` to adopt): `down` means
    // none should run.
    const supervisor::LeftoverStop stopped = supervisor::stop_leftover_containers(pods_dir);
    if (const int n = stopped.containers; n > 0)
      std::fprintf(report, "stopped %d container%s it left running\n", n, n == 1 ? "" : "s");
    print_killed(stopped.killed, report);
    return false;
  }
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  const pid_t pid = n > 0 ? static_cast<pid_t>(std::atol(buf)) : 0;
  if (pid <= 0) {
    ::close(fd);
    return Error{ErrorCode::Internal,
                 fmt::format("cannot read the control plane's pid from {}", dir.lock().string())};
  }
  std::error_code ec;
  fs::remove(dir.stop_report(), ec);  // a report left by a stop nobody printed is stale
  if (::kill(pid, SIGTERM) != 0) {
    ::close(fd);
    return Error{ErrorCode::Internal,
                 fmt::format("cannot signal pid {}: {}", pid, std::strerror(errno))};
  }
  // The lock is released when the control plane exits: waiting for it is waiting for the exit.
  auto wait_for_exit = [fd](std::chrono::steady_clock::duration limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::flock(fd, LOCK_SH | LOCK_NB) == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  const std::chrono::seconds limit = stop_deadline(pods_dir);
  if (!wait_for_exit(limit)) {
    // It should have ended every container by now. Whatever holds it, `down` must end and leave
    // nothing running: the control plane is killed and its containers stopped from outside.
    ::kill(pid, SIGKILL);
    const bool gone = wait_for_exit(std::chrono::seconds(5));
    ::close(fd);
    fs::remove(dir.apiserver(), ec);
    const supervisor::LeftoverStop stopped = supervisor::stop_leftover_containers(pods_dir, true);
    print_killed(stopped.killed, report);
    const int n = stopped.containers;
    return Error{
        ErrorCode::Internal,
        fmt::format("the control plane (pid {}) did not stop within {}s and {}; {}", pid,
                    limit.count(), gone ? "was killed" : "did not even end on SIGKILL within 5s",
                    n == 0 ? std::string("no container was left running")
                           : fmt::format("{} container{} it left {} killed", n, n == 1 ? "" : "s",
                                         n == 1 ? "was" : "were"))};
  }
  ::close(fd);
  std::fprintf(report, "control plane (pid %d) stopped\n", pid);
  std::ifstream killed(dir.stop_report());
  for (std::string line; std::getline(killed, line);) std::fprintf(report, "%s\n", line.c_str());
  fs::remove(dir.stop_report(), ec);
  return true;
}

}  // namespace ticketctl::daemon
