// Kubelet::sync(): one pass of the level-based loop. The stored pods are read under the store's
// lock and compared with what runs; the planner (pod_plan.h) says what to start, restart, stop
// and report; containers start after the lock is released, and status and events are written
// under it again at the end.

#include <fmt/format.h>

#include <algorithm>

#include "runtime/core/rfc3339.h"
#include "runtime/events/events.h"
#include "runtime/logs/pod_logs.h"
#include "runtime/net/allocator.h"
#include "runtime/supervisor/kubelet_internal.h"

namespace ticketctl::supervisor {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using kubelet_detail::PendingEvent;
using kubelet_detail::str;
using std::chrono::seconds;

Kubelet::Pod& Kubelet::add_pod(const std::string& uid, const Json& pod_json,
                               std::vector<PendingEvent>& events) {
  auto pod = std::make_unique<Pod>();
  static_cast<plan::PodState&>(*pod) = plan::pod_from_stored(uid, pod_json, rfc3339::now_seconds());
  pod->dir = options_.pods_dir / logs::pod_dir_name(pod->ns, pod->name, uid);
  const Json& status = json_at(pod_json, "status");
  // Containers a previous control plane left running keep their pod's IP: they are bound to it.
  std::map<std::string, RecordedRun> leftovers = std::move(adoptable_[uid]);
  const std::map<std::string, Json> exited = std::move(exited_unsupervised_[uid]);
  adoptable_.erase(uid);
  exited_unsupervised_.erase(uid);
  if (!leftovers.empty()) {
    pod->ip = str(json_at(leftovers.begin()->second.exec, "podIP"));
  } else {
    const std::string old_ip = str(json_at(status, "podIP"));
    bool ip_free = !old_ip.empty();
    for (const auto& [u, other] : pods_) ip_free = ip_free && other->ip != old_ip;
    if (ip_free) ip_free = !host_addresses_.get().count(net::parse_ipv4(old_ip));
    pod->ip = ip_free ? old_ip : allocate_ip();
  }
  bool adopted = false;
  for (const Json& spec : json_at(json_at(pod_json, "spec"), "containers")) {
    auto container = std::make_unique<Container>();
    static_cast<plan::ContainerState&>(*container) = plan::container_from_stored(spec, status);
    container->pod_name = pod->name;
    auto left = leftovers.find(container->name);
    if (left != leftovers.end() && adopt(*pod, *container, left->second)) {
      adopted = true;
    } else if (left != leftovers.end() || exited.count(container->name)) {
      // It ended while nobody supervised it: a restart, as the policy says.
      auto how = exited.find(container->name);
      plan::mark_exited_unsupervised(*container, how != exited.end() ? how->second : Json(),
                                     rfc3339::now_seconds());
    }
    pod->containers.push_back(std::move(container));
  }
  if (adopted) {
    pod->volumes_prepared = true;
    plan::restore_pod_status(*pod, status);
  } else {
    events.push_back({pod_json, "Normal", "Scheduled",
                      fmt::format("Successfully assigned {}/{} to localhost", pod->ns, pod->name)});
  }
  return *pods_.emplace(uid, std::move(pod)).first->second;
}

void Kubelet::plan_stored_pods(std::map<std::string, Json>& wanted, Clock::time_point now,
                               std::vector<PlannedStart>& starts,
                               std::vector<PendingEvent>& events) {
  for (auto& [uid, pod_json] : wanted) {
    auto it = pods_.find(uid);
    Pod& pod = it == pods_.end() ? add_pod(uid, pod_json, events) : *it->second;
    const Json& meta = pod_json["metadata"];
    if (!json_at(meta, "deletionTimestamp").is_null() && !pod.deleting) {
      for (plan::Event& e : plan::begin_delete(pod, meta, pod.states()))
        events.push_back({pod_json, e.type, e.reason, std::move(e.message)});
      for (auto& c : pod.containers)
        if (c->pid != 0) begin_stop(pod, *c, seconds(pod.grace_seconds));
    }
    // A stop that arrives during a long sync (hundreds of pods starting) starts nothing more:
    // `down` would otherwise wait for every start first.
    if (pod.deleting || stopping_) continue;
    for (auto& cp : pod.containers) {
      Container& c = *cp;
      if (c.pid != 0 || c.stopping) continue;
      plan::IdlePlan idle = plan::plan_idle(c, pod, now, backoff_);
      if (idle.event)
        events.push_back(
            {pod_json, idle.event->type, idle.event->reason, std::move(idle.event->message)});
      if (idle.start) starts.push_back({&pod, &c, &pod_json, idle.restart});
    }
  }
}

void Kubelet::start_planned(const std::vector<PlannedStart>& starts,
                            std::vector<PendingEvent>& events) {
  for (const PlannedStart& s : starts) {
    if (stopping_) break;  // as above: `down` waits for no more starts
    Pod& pod = *s.pod;
    Container& c = *s.container;
    const Json& pod_json = *s.pod_json;
    const std::string before = c.waiting_reason + c.waiting_message;
    if (s.restart) ++c.restart_count;
    if (!start_container(pod, c, pod_json)) {
      if (s.restart) --c.restart_count;
      if (std::optional<plan::Event> e = plan::start_failed_event(c, before))
        events.push_back({pod_json, e->type, e->reason, std::move(e->message)});
      continue;
    }
    for (plan::Event& e : plan::started_events(c))
      events.push_back({pod_json, e.type, e.reason, std::move(e.message)});
    if (!c.limit_not_enforced.empty())
      events.push_back(
          {pod_json, "Warning", "MemoryLimitNotEnforced", std::move(c.limit_not_enforced)});
    c.limit_not_enforced.clear();
    for (std::string& w : c.volume_warnings)
      events.push_back({pod_json, "Warning", "HostPathOutsideProject", std::move(w)});
    c.volume_warnings.clear();
    if (options_.report)
      options_.report(pod.name, fmt::format("started container {} (pid {})", c.name, c.pid), false);
  }
}

void Kubelet::stop_unwanted(const std::map<std::string, Json>& wanted,
                            const std::set<std::string>& stored) {
  // Pods no longer stored (deleted, or everything on `down`) are stopped, then forgotten.
  for (auto it = pods_.begin(); it != pods_.end();) {
    Pod& pod = *it->second;
    if (!wanted.count(pod.uid)) {
      for (auto& c : pod.containers)
        if (c->pid != 0 && !c->stopping) begin_stop(pod, *c, seconds(pod.grace_seconds));
      if (pod.all_gone()) {
        // A deleted pod's logs go with it; those of pods still stored stay for the next `up`
        // (`logs --previous`).
        if (!stored.count(pod.uid)) {
          if (stopping_) {  // a Terminating pod's delete ends here, as in write_status()
            store::Shared::Locked s = store_.lock();
            Result<Json> p = s->get({"pods", pod.ns, pod.name});
            if (p.ok() && str(p.value()["metadata"]["uid"]) == pod.uid)
              (void)s->remove({"pods", pod.ns, pod.name});
          }
          std::error_code ec;
          fs::remove_all(pod.dir, ec);
        }
        it = pods_.erase(it);
        continue;
      }
    }
    ++it;
  }
}

bool Kubelet::write_status(const std::map<std::string, Json>& wanted,
                           std::vector<PendingEvent>& events) {
  bool wrote = false;
  store::Shared::Locked s = store_.lock();
  // A Terminating pod whose processes are all gone is removed: the end of a graceful delete.
  for (auto& [uid, pod] : pods_) {
    if (!pod->deleting || !wanted.count(uid) || !pod->all_gone()) continue;
    Result<Json> stored = s->get({"pods", pod->ns, pod->name});
    if (stored.ok() && str(stored.value()["metadata"]["uid"]) == uid &&
        s->remove({"pods", pod->ns, pod->name}).ok())
      wrote = true;
  }
  for (auto& [uid, pod] : pods_) {
    if (!wanted.count(uid) || pod->deleting) continue;
    std::vector<const plan::ContainerState*> containers;
    for (const auto& c : pod->containers) containers.push_back(c.get());
    Json status = plan::pod_status(*pod, containers, rfc3339::now_seconds());
    if (status == pod->last_status) continue;
    if (s->update_status({"pods", pod->ns, pod->name}, status).ok()) {
      pod->last_status = std::move(status);
      wrote = true;
    }
  }
  for (PendingEvent& e : events)
    events::record_event(*s, e.object, e.type, e.reason, std::move(e.message), "kubelet");
  return wrote || !events.empty();
}

void Kubelet::sync() {
  std::vector<PendingEvent> events;
  std::map<std::string, Json> wanted;  // uid -> pod
  // Uids of stored pods, also while stopping: their logs stay. A Terminating pod is not one:
  // its delete ends once its processes are gone, also when that is during `down`.
  std::set<std::string> stored;
  const auto now = Clock::now();
  std::vector<PlannedStart> starts;  // decided under the store's lock, started after it
  {
    store::Shared::Locked s = store_.lock();
    for (Json& p : s->list("pods", "")) {
      const bool terminating = !json_at(p["metadata"], "deletionTimestamp").is_null();
      if (!terminating) stored.insert(str(p["metadata"]["uid"]));
      if (!stopping_) wanted.emplace(str(p["metadata"]["uid"]), std::move(p));
    }
    plan_stored_pods(wanted, now, starts, events);
    sync_volumes(*s, wanted);
  }
  // Containers start without the store's lock: forks, FIFOs, cgroups and exec.json take time
  // that API requests and controllers would otherwise wait for.
  start_planned(starts, events);

  adopt_orphans();
  // The run directories of pods deleted while no control plane ran (or before this one could
  // remove them) hold nothing anyone can ask for.
  if (!run_dirs_collected_ && !stopping_) {
    run_dirs_collected_ = true;
    collect_run_dirs(wanted);
  }
  // Without a cgroup, the processes of each container are looked for in /proc: remembered now,
  // they are still known once their parent is gone and they are reparented.
  if (!tracking_ || !tracking_->available()) {
    std::optional<std::vector<ProcessEntry>> all;
    for (auto& [uid, pod] : pods_)
      for (auto& c : pod->containers)
        if (c->pid != 0) {
          if (!all) all = list_processes();
          c->procs.remember(*all);
        }
  }
  stop_unwanted(wanted, stored);
  // preStop hooks that ended, and grace periods that ran out; then probes.
  step_stops(now, events);
  step_probes(wanted, now, events);
  if (write_status(wanted, events) && options_.on_status_written) options_.on_status_written();
}

}  // namespace ticketctl::supervisor
