// Starting a container the planner asked for: its image resolved to a command, its environment
// and volumes, cgroups, the record a later control plane adopts it from (exec.json), the spawn,
// and its output watched. Runs without the store's lock.

#include <unistd.h>

#include <fmt/format.h>

#include <sys/epoll.h>
#include <algorithm>
#include <set>

#include "runtime/core/files.h"
#include "runtime/core/oplog.h"
#include "runtime/core/rfc3339.h"
#include "runtime/manifest/reasons.h"
#include "runtime/net/allocator.h"
#include "runtime/supervisor/kubelet_internal.h"
#include "runtime/supervisor/volumes.h"

namespace ticketctl::supervisor {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using kubelet_detail::str;

void Kubelet::collect_run_dirs(const std::map<std::string, Json>& stored) {
  std::error_code ec;
  for (const fs::directory_entry& dir : fs::directory_iterator(options_.pods_dir, ec)) {
    const std::string name = dir.path().filename().string();
    const size_t last = name.rfind('_');
    if (last == std::string::npos) continue;
    const std::string uid = name.substr(last + 1);
    if (!stored.count(uid) && !pods_.count(uid)) fs::remove_all(dir.path(), ec);
  }
}

// configMap and secret volumes follow their objects; claims' directories go with their claims.
// Under the store's lock (`store` is the holder's).
void Kubelet::sync_volumes(const store::Store& store, const std::map<std::string, Json>& wanted) {
  VolumeInputs in;
  in.lookup = [&store](const std::string& resource, const std::string& ns,
                       const std::string& name) -> std::optional<Json> {
    Result<Json> o = store.get({resource, ns, name});
    if (!o.ok()) return std::nullopt;
    return o.value();
  };
  for (const auto& [uid, pod_json] : wanted) {
    auto it = pods_.find(uid);
    if (it != pods_.end() && it->second->volumes_prepared && !it->second->deleting)
      refresh_projected_volumes(pod_json, it->second->dir, in);
  }
  if (options_.claims_dir.empty() || stopping_) return;
  std::set<std::string> claims;
  for (const Json& claim : store.list("persistentvolumeclaims", ""))
    claims.insert(str(json_at(json_at(claim, "metadata"), "uid")));
  collect_claim_dirs(options_.claims_dir, claims);
}

std::string Kubelet::allocate_ip() {
  std::set<std::string> used;
  for (const auto& [uid, p] : pods_) used.insert(p->ip);
  // Pods still to be adopted in this sync are bound to theirs.
  for (const auto& [uid, runs] : adoptable_)
    for (const auto& [name, run] : runs) used.insert(str(json_at(run.exec, "podIP")));
  // Other projects' pods (and anything else on 127/8) keep their addresses.
  const std::set<uint32_t>& host_addresses = host_addresses_.get();
  const uint32_t size = 1u << (32 - options_.pod_ip_mask_bits);
  if (next_ip_ == 0) next_ip_ = options_.pod_ip_first_offset;
  for (uint32_t i = 0; i < size; ++i) {
    const uint32_t offset = (next_ip_ + i) % size;
    if (offset < 2 || offset == size - 1) continue;
    const std::string ip = net::ipv4_string(options_.pod_ip_base + offset);
    if (used.count(ip) || host_addresses.count(options_.pod_ip_base + offset)) continue;
    next_ip_ = offset + 1;  // the next pod gets the next address: a fresh IP for a replacement
    return ip;
  }
  return {};
}

bool Kubelet::start_container(Pod& pod, Container& c, const Json& pod_json) {
  const images::Resolution r = resolver_.resolve(c.spec);
  if (!r.spec) {
    c.waiting_reason = r.reason;
    c.waiting_message = r.message;
    return false;
  }
  // The image's build (its Dockerfile's dependency installs) runs first; a failed one keeps its
  // pods waiting instead of running without their dependencies.
  if (options_.build_gate) {
    if (std::optional<images::BuildWait> wait =
            options_.build_gate(str(json_at(c.spec, "image")))) {
      c.waiting_reason = wait->reason;
      c.waiting_message = wait->message;
      return false;
    }
  }
  EnvInputs in;
  in.pod = &pod_json;
  in.container = &c.spec;
  in.image_env = r.spec->env;
  for (const std::string& name : options_.host_env)
    if (const char* v = std::getenv(name.c_str())) in.host_env.emplace_back(name, v);
  const bool service_links = json_at(json_at(pod_json, "spec"), "enableServiceLinks") != false;
  // Called without the store's lock (sync() starts containers after releasing it).
  if (service_links) {
    const std::vector<Json> services = store_.lock()->list("services", pod.ns);
    for (const Json& svc : services)
      for (auto& kv : service_link_env(svc)) in.service_env.push_back(std::move(kv));
  }
  in.lookup = [this](const std::string& resource, const std::string& ns,
                     const std::string& name) -> std::optional<Json> {
    Result<Json> o = store_.lock()->get({resource, ns, name});
    if (!o.ok()) return std::nullopt;
    return o.value();
  };
  in.node_memory_bytes = static_cast<int64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGESIZE);
  in.node_cpus = static_cast<int>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
  Result<EnvList> env = resolve_env(in);
  if (!env.ok()) {
    c.waiting_reason = reasons::kCreateContainerConfigError;
    c.waiting_message = env.error().message;
    return false;
  }
  EnvList vars = std::move(env.value());
  auto has = [&](const std::string& k) {
    return std::any_of(vars.begin(), vars.end(), [&](const auto& kv) { return kv.first == k; });
  };
  if (!has("HOSTNAME")) vars.emplace_back("HOSTNAME", pod.name);
  std::vector<std::string> ports;
  for (const Json& ctr : json_at(json_at(pod_json, "spec"), "containers"))
    for (const Json& p : json_at(ctr, "ports"))
      if (p.value("protocol", "TCP") == "TCP")
        ports.push_back(std::to_string(json_at(p, "containerPort").get<int>()));
  const Json& own_ports = json_at(c.spec, "ports");
  if (!has("PORT") && own_ports.is_array() && !own_ports.empty())
    vars.emplace_back("PORT", std::to_string(json_at(own_ports[0], "containerPort").get<int>()));
  if (!options_.preload_library.empty()) {
    vars.emplace_back("TICKETCTL_POD_IP", pod.ip);
    vars.emplace_back("TICKETCTL_POD_NAMESPACE", pod.ns);
    std::string joined;
    for (const std::string& p : ports) joined += (joined.empty() ? "" : ",") + p;
    vars.emplace_back("TICKETCTL_POD_PORTS", joined);
    vars.emplace_back("TICKETCTL_NET_TABLE", options_.net_table.string());
    auto preload = std::find_if(vars.begin(), vars.end(),
                                [](const auto& kv) { return kv.first == "LD_PRELOAD"; });
    if (preload == vars.end())
      vars.emplace_back("LD_PRELOAD", options_.preload_library.string());
    else
      preload->second += ":" + options_.preload_library.string();
  }
  VolumeInputs vin;
  vin.pod = &pod_json;
  vin.container = &c.spec;
  vin.pod_dir = pod.dir;
  vin.claims_dir = options_.claims_dir;
  if (!options_.project.file.empty()) vin.project_dir = options_.project.file.parent_path();
  vin.image_volume = r.spec->volume;
  vin.first_start = !pod.volumes_prepared;
  vin.lookup = in.lookup;
  Result<PreparedVolumes> volumes = prepare_volumes(vin);
  if (!volumes.ok()) {
    c.waiting_reason = reasons::kCreateContainerConfigError;
    c.waiting_message = volumes.error().message;
    return false;
  }
  pod.volumes_prepared = true;
  c.volume_warnings = volumes.value().warnings;
  if (!volumes.value().data_dir.empty())
    vars.emplace_back("TICKETCTL_DATA_DIR", volumes.value().data_dir.string());
  if (!volumes.value().mounts.empty())
    vars.emplace_back("TICKETCTL_MOUNTS", mounts_env(volumes.value().mounts));
  c.process.argv.clear();
  for (const std::string& a : r.spec->argv) c.process.argv.push_back(expand_vars(a, vars));
  c.process.env = std::move(vars);
  // An image without a directory of its own (a well-known server) starts in its data
  // directory, else in its pod's.
  c.process.working_dir = !r.spec->working_dir.empty()        ? r.spec->working_dir
                          : !volumes.value().data_dir.empty() ? volumes.value().data_dir
                                                              : pod.dir;
  const fs::path dir = pod.dir / c.name;
  std::error_code ec;
  if (Result<bool> made = make_private_dirs(dir); !made.ok()) {
    c.waiting_reason = reasons::kRunContainerError;
    c.waiting_message = made.error().message;
    return false;
  }
  // c.process is also what exec probes and hooks start from: the FIFOs are this run's alone.
  SpawnSpec spec = c.process;
  spec.stdout_fifo = dir / "stdout";
  spec.stderr_fifo = dir / "stderr";
  spec.shim = options_.shim;
  spec.run_dir = dir;
  c.pid_file = dir / "pid";
  fs::remove(c.pid_file, ec);
  fs::remove(dir / "exit", ec);
  const std::string run_name = fmt::format("{}_{}_{}", pod.uid, c.name, c.restart_count);
  fs::path tracking;
  if (tracking_ && tracking_->available()) {
    Result<fs::path> group = tracking_->create(run_name);
    Result<int> procs = group.ok() ? MemoryCgroups::open_procs(group.value()) : group.error();
    if (!procs.ok()) {
      if (group.ok()) MemoryCgroups::remove(group.value());
      c.waiting_reason = reasons::kRunContainerError;
      c.waiting_message = "cannot make the container's cgroup: " + procs.error().message;
      return false;
    }
    tracking = group.value();
    spec.cgroup_procs_fds[0] = procs.value();
  }
  // Either cgroup's failure below leaves neither behind.
  auto release = [&] {
    for (int& fd : spec.cgroup_procs_fds)
      if (fd >= 0) ::close(std::exchange(fd, -1));
  };
  const std::string memory =
      str(json_at(json_at(json_at(c.spec, "resources"), "limits"), "memory"));
  fs::path cgroup;
  if (!memory.empty()) {
    if (!cgroups_) cgroups_ = MemoryCgroups::detect();
    const std::optional<int64_t> bytes = parse_byte_quantity(memory);
    if (!cgroups_->available()) {
      c.limit_not_enforced =
          fmt::format("resources.limits.memory ({}) of container {} is not enforced: {}", memory,
                      c.name, cgroups_->reason());
    } else if (bytes && *bytes > 0) {
      Result<fs::path> group = cgroups_->create(run_name, *bytes);
      Result<int> procs = group.ok() ? MemoryCgroups::open_procs(group.value()) : group.error();
      if (!procs.ok()) {
        if (group.ok()) MemoryCgroups::remove(group.value());
        release();
        if (!tracking.empty()) MemoryCgroups::remove(tracking);
        c.waiting_reason = reasons::kRunContainerError;
        c.waiting_message = "cannot apply the memory limit: " + procs.error().message;
        return false;
      }
      cgroup = group.value();
      spec.cgroup_procs_fds[1] = procs.value();
    }
  }
  // How this run is started: `ticketctl exec` runs commands with its environment and directory,
  // and the next control plane adopts the run from it if this one dies. Written before the run
  // begins, so the pid file (the shim's first act) never names a run without it. The
  // environment holds secret values: the file is 0600 and its content is never logged.
  const std::string started_at = rfc3339::now_seconds();
  Json exec_info = spawn_record(c.process);
  exec_info.update({{"startedAt", started_at},
                    {"restartCount", c.restart_count},
                    {"podIP", pod.ip},
                    {"gracePeriodSeconds", pod.grace_seconds},
                    {"cgroup", cgroup.string()},
                    {"trackingCgroup", tracking.string()},
                    {"pod", pod.name},
                    {"namespace", pod.ns}});
  // A run without its record could not be adopted or exec'd into: do not start it.
  if (Result<bool> w = write_private_file(dir / "exec.json", exec_info.dump()); !w.ok()) {
    release();
    for (const fs::path& g : {cgroup, tracking})
      if (!g.empty()) MemoryCgroups::remove(g);
    c.waiting_reason = reasons::kRunContainerError;
    c.waiting_message = w.error().message;
    return false;
  }
  Result<Spawned> spawned = spawn_process(spec);
  release();
  if (!spawned.ok())
    for (const fs::path& g : {cgroup, tracking})
      if (!g.empty()) MemoryCgroups::remove(g);
  if (!spawned.ok()) {
    c.waiting_reason = reasons::kRunContainerError;
    c.waiting_message = spawned.error().message;
    return false;
  }
  const Spawned& s = spawned.value();
  plan::mark_started(c, s.pid, started_at, Clock::now());
  // Attempts of the previous run's probes still in progress count no more.
  for (kubelet_detail::Attempt& a : c.probe_attempts) a = {};
  c.cgroup = cgroup;
  c.tracking_cgroup = tracking;
  c.start_ticks = process_start_time(s.pid);
  c.procs = ContainerProcesses(s.pid, c.start_ticks, tracking, dir);
  by_pid_[s.pid] = &c;
  c.log = std::make_shared<logs::LogFile>(dir / fmt::format("{}.log", c.restart_count),
                                          options_.log_max_bytes, options_.log_max_files);
  // Only the previous run is kept for --previous.
  if (c.restart_count >= 2)
    for (const fs::path& old : logs::run_files(dir / fmt::format("{}.log", c.restart_count - 2)))
      fs::remove(old, ec);
  // The shim wrote it already; without one, this is the first moment it can be written.
  if (options_.shim.empty())
    if (Result<bool> w =
            write_private_file(c.pid_file, fmt::format("{} {}\n", s.pid, c.start_ticks));
        !w.ok())
      oplog::error("kubelet", "pod {}: container {} (pid {}) cannot be adopted after a restart: {}",
                   pod.name, c.name, s.pid, w.error().message);
  oplog::info("kubelet", "pod {}/{}: started container {} (pid {}, run {})", pod.ns, pod.name,
              c.name, s.pid, c.restart_count);
  watch_output(pod, c, s.stdout_fd, s.stderr_fd);
  return true;
}

void Kubelet::watch_fd(int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
}

void Kubelet::watch_output(const Pod& pod, Container& c, int stdout_fd, int stderr_fd) {
  for (auto [fd, is_err] : {std::pair{stdout_fd, false}, std::pair{stderr_fd, true}}) {
    auto stream = std::make_unique<Stream>();
    stream->fd = fd;
    stream->is_stderr = is_err;
    stream->log = c.log;
    stream->pod = pod.name;
    watch_fd(fd);
    streams_[fd] = std::move(stream);
  }
}

}  // namespace ticketctl::supervisor
