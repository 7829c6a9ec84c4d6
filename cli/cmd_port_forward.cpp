// `ticketctl port-forward TYPE/NAME [LOCAL:]REMOTE...`: exposes a pod's port on localhost, as
// kubectl does. The relay is the Services' own data plane (runtime/net/service_proxy.h) run in
// this process. Unlike kubectl, which binds one pod when it starts, the target is resolved per
// connection: a thread watches the target's pods through the API and swaps the listeners'
// backends, so replacing the pod (a rollout, a deleted pod) does not end the forward.
//
// Which pods serve: pod/NAME that pod; deploy/NAME (or rs/NAME) and svc/NAME the pods their
// selector matches. Ready pods are preferred (newest first); without any ready pod a running
// one still serves, so a pod that fails its readiness probe can be debugged. Connections from
// this machine stick to one pod while it stays (client-IP affinity), like kubectl's single pod.

#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "cli/api_verbs.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "runtime/api/resources.h"
#include "runtime/controllers/endpoints.h"
#include "runtime/net/service_proxy.h"

namespace ticketctl::cli {
namespace {

struct PortForwardArgs {
  std::string target;
  std::vector<std::string> ports;
  std::string ns = "default";
  std::string address = "localhost";
  std::string pod_running_timeout = "1m";
  StateDirArg state;
};

// One LOCAL:REMOTE argument. REMOTE is a port number or a port name (a named container port;
// for a Service, the name of a Service port).
struct Mapping {
  std::optional<uint16_t> local;  // unset: the resolved remote port number
  std::string remote;
  bool remote_is_number = false;
};

// What the forward reaches, and how its pods are listed.
struct Target {
  enum class Kind { Pod, Selector, Service } kind = Kind::Pod;
  std::string name, labels, fields;  // the list/watch selectors
  Json service;                      // Kind::Service: the Service, for its ports
  std::string ref;                   // "svc/posts-srv", for messages
};

std::optional<uint16_t> parse_port(const std::string& text, bool allow_zero) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(c) != 0; }))
    return std::nullopt;
  const int port = std::stoi(text);
  if (port > 65535 || (port == 0 && !allow_zero)) return std::nullopt;
  return static_cast<uint16_t>(port);
}

// kubectl's forms: "8080:80", ":80" and "0:80" (any free local port), "80" (the same port).
Result<Mapping> parse_mapping(const std::string& text) {
  const size_t colon = text.find(':');
  Mapping m;
  m.remote = colon == std::string::npos ? text : text.substr(colon + 1);
  if (m.remote.empty() || m.remote.find(':') != std::string::npos)
    return Error{ErrorCode::Invalid, fmt::format("invalid port format {:?}", text)};
  m.remote_is_number = parse_port(m.remote, false).has_value();
  const bool is_name = std::all_of(m.remote.begin(), m.remote.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(c) || c == '-';
  });
  if (!m.remote_is_number && (!is_name || m.remote.size() > 15))
    return Error{ErrorCode::Invalid,
                 fmt::format("Error parsing remote port {:?}: not a port number (1-65535) or "
                             "port name",
                             m.remote)};
  if (colon == std::string::npos) {
    if (m.remote_is_number) m.local = parse_port(m.remote, false);
    return m;
  }
  const std::string local = text.substr(0, colon);
  if (local.empty()) {
    m.local = 0;
  } else if (!(m.local = parse_port(local, true))) {
    return Error{ErrorCode::Invalid,
                 fmt::format("Error parsing local port {:?}: not a port number (0-65535)", local)};
  }
  return m;
}

Result<Target> resolve_target(api::ApiClient& client, const std::string& word,
                              const std::string& ns) {
  const size_t slash = word.find('/');
  const api::Resource* r = slash == std::string::npos ? api::find_resource("pods")
                                                      : api::find_resource(word.substr(0, slash));
  Target t;
  t.name = slash == std::string::npos ? word : word.substr(slash + 1);
  if (!r || t.name.empty() ||
      (r->kind != "Pod" && r->kind != "Service" && r->kind != "Deployment" &&
       r->kind != "ReplicaSet"))
    return Error{ErrorCode::Invalid,
                 fmt::format("cannot forward to {:?}: expected pod/NAME, svc/NAME, deploy/NAME "
                             "or rs/NAME",
                             word)};
  t.ref = fmt::format("{}/{}", r->singular, t.name);
  Result<Json> object = client.get(r->path(ns, t.name));
  if (!object.ok()) return object.error();
  if (r->kind == "Pod") {
    t.kind = Target::Kind::Pod;
    t.fields = "metadata.name=" + t.name;
    return t;
  }
  const Json& spec = json_at(object.value(), "spec");
  if (r->kind == "Service") {
    const Json& selector = json_at(spec, "selector");
    if (!selector.is_object() || selector.empty())
      return Error{
          ErrorCode::Invalid,
          fmt::format("invalid service '{}': Service is defined without a selector", t.name)};
    t.kind = Target::Kind::Service;
    t.labels = label_selector_text({{"matchLabels", selector}});
    t.service = object.value();
    return t;
  }
  t.kind = Target::Kind::Selector;
  t.labels = label_selector_text(json_at(spec, "selector"));
  return t;
}

// The Service port a REMOTE names (its number or its name); null when there is none.
const Json* service_port(const Target& t, const Mapping& m) {
  for (const Json& sp : json_at(json_at(t.service, "spec"), "ports")) {
    if (m.remote_is_number ? json_at(sp, "port") == std::stoi(m.remote)
                           : str(json_at(sp, "name")) == m.remote)
      return &sp;
  }
  return nullptr;
}

int container_port_named(const Json& pod, const std::string& name) {
  for (const Json& c : json_at(json_at(pod, "spec"), "containers"))
    for (const Json& p : json_at(c, "ports"))
      if (str(json_at(p, "name")) == name && json_at(p, "containerPort").is_number_integer())
        return p["containerPort"].get<int>();
  return 0;
}

// The port of `pod` a mapping reaches; 0 when the pod has none (an unknown port name).
int pod_port(const Target& t, const Mapping& m, const Json& pod) {
  if (t.kind != Target::Kind::Service)
    return m.remote_is_number ? std::stoi(m.remote) : container_port_named(pod, m.remote);
  const Json* sp = service_port(t, m);
  if (!sp) return 0;
  const Json& target = json_at(*sp, "targetPort");
  if (target.is_number_integer()) return target.get<int>();
  if (target.is_string()) return container_port_named(pod, target.get<std::string>());
  return json_at(*sp, "port").get<int>();
}

// Ready pods, newest first; when none is ready, the running ones.
net::Backends backends_of(const Target& t, const Mapping& m,
                          const std::map<std::string, Json>& pods, const std::string& ns) {
  std::vector<const Json*> live;
  for (const auto& [name, pod] : pods) {
    const Json& status = json_at(pod, "status");
    if (!json_at(pod["metadata"], "deletionTimestamp").is_null() ||
        str(json_at(status, "phase")) != "Running" || str(json_at(status, "podIP")).empty())
      continue;
    live.push_back(&pod);
  }
  auto rank = [](const Json* p) {
    return std::make_tuple(controllers::pod_ready(*p),
                           str(json_at((*p)["metadata"], "creationTimestamp")),
                           str((*p)["metadata"]["name"]));
  };
  std::sort(live.begin(), live.end(),
            [&](const Json* a, const Json* b) { return rank(a) > rank(b); });
  const bool any_ready = !live.empty() && controllers::pod_ready(*live.front());
  net::Backends out;
  for (const Json* p : live) {
    if (any_ready && !controllers::pod_ready(*p)) break;
    const int port = pod_port(t, m, *p);
    if (port <= 0 || port > 65535) continue;
    out.push_back({str((*p)["status"]["podIP"]), static_cast<uint16_t>(port),
                   ns + "/" + str((*p)["metadata"]["name"])});
  }
  return out;
}

// kubectl's --address: a comma-separated list; "localhost" is 127.0.0.1 and ::1.
std::vector<std::string> listen_addresses(const std::string& flag) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= flag.size()) {
    const size_t comma = flag.find(',', start);
    const std::string a = flag.substr(start, comma == std::string::npos ? comma : comma - start);
    if (a == "localhost") {
      out.push_back("127.0.0.1");
      out.push_back("::1");
    } else if (!a.empty()) {
      out.push_back(a);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// The pods of the target as last seen, and the listeners they feed. The watch thread writes,
// the main thread waits for the first backends; both under `mu`.
struct Forward {
  Target target;
  std::vector<Mapping> mappings;
  std::string ns;
  std::unique_ptr<net::ServiceProxy> proxy;  // made once signals are blocked: its thread inherits
  std::mutex mu;
  std::condition_variable changed;
  std::map<std::string, Json> pods;
  std::vector<net::Backends> backends;         // per mapping
  std::vector<std::vector<std::string>> keys;  // per mapping: its listeners

  void update_locked() {
    backends.clear();
    for (size_t i = 0; i < mappings.size(); ++i) {
      backends.push_back(backends_of(target, mappings[i], pods, ns));
      for (const std::string& key : keys[i]) proxy->set_backends(key, backends.back());
    }
    changed.notify_all();
  }
};

// Lists the target's pods, then follows their changes; on any error (the control plane
// restarted, the watch expired) lists again. Runs until the process ends.
void watch_pods(Forward& f, const StateDirArg& state) {
  const std::string path =
      api::find_resource("pods")->path(f.ns) + selector_query(f.target.labels, f.target.fields);
  bool warned = false;
  while (true) {
    Result<api::ApiClient> client = state.connect();
    Result<Json> list = client.ok() ? client.value().get(path) : Result<Json>(client.error());
    if (!list.ok()) {
      if (!warned) std::cerr << "error: watching pods: " << list.error().message << " (retrying)\n";
      warned = true;
      // A retry delay, not synchronisation: the control plane may be restarting.
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    warned = false;
    {
      std::lock_guard<std::mutex> l(f.mu);
      f.pods.clear();
      for (Json& p : list.value()["items"]) f.pods[str(p["metadata"]["name"])] = std::move(p);
      f.update_locked();
    }
    const std::string rv = str(json_at(list.value()["metadata"], "resourceVersion"));
    Result<bool> watched =
        client.value().watch(path + "&watch=1&resourceVersion=" + rv, [&](const Json& event) {
          const std::string type = str(json_at(event, "type"));
          if (type == "ERROR") return false;  // 410 Gone: list again
          const Json& pod = json_at(event, "object");
          const std::string name = str(json_at(json_at(pod, "metadata"), "name"));
          std::lock_guard<std::mutex> l(f.mu);
          if (type == "DELETED")
            f.pods.erase(name);
          else
            f.pods[name] = pod;
          f.update_locked();
          return true;
        });
    // A watch that ends normally (its timeout, 410 Gone) is resumed at once; a failing one after
    // a retry delay.
    if (!watched.ok()) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

// Flushes and ends the process: the watch thread sits in a blocking read nothing can interrupt,
// so the process ends around it, as Ctrl-C ends kubectl's port-forward.
[[noreturn]] void finish(int code) {
  std::cout << std::flush;
  std::cerr << std::flush;
  std::_Exit(code);
}

std::string host_port(const std::string& ip, uint16_t port) {
  return ip.find(':') == std::string::npos ? fmt::format("{}:{}", ip, port)
                                           : fmt::format("[{}]:{}", ip, port);
}

}  // namespace

Handler attach_port_forward(CLI::App& verb) {
  auto a = std::make_shared<PortForwardArgs>();
  verb.add_option("target", a->target, "pod/NAME (or NAME), svc/NAME, deploy/NAME or rs/NAME")
      ->required();
  verb.add_option("ports", a->ports,
                  "[LOCAL:]REMOTE... e.g. 8080:3000, :3000 (any free local port), 3000")
      ->required();
  verb.add_option("-n,--namespace", a->ns, "Namespace")->capture_default_str();
  verb.add_option("--address", a->address,
                  "Addresses to listen on, comma-separated; localhost is 127.0.0.1 and ::1")
      ->capture_default_str();
  verb.add_option("--pod-running-timeout", a->pod_running_timeout,
                  "How long to wait for a running pod before giving up")
      ->capture_default_str();
  a->state.attach(verb);
  return [a] {
    auto f = std::make_shared<Forward>();
    f->ns = a->ns;
    for (const std::string& p : a->ports) {
      Result<Mapping> m = parse_mapping(p);
      if (!m.ok()) {
        std::cerr << "error: " << m.error().message << '\n';
        return kExitFailure;
      }
      f->mappings.push_back(m.value());
    }
    Result<std::chrono::milliseconds> timeout = parse_duration(a->pod_running_timeout);
    if (!timeout.ok()) {
      std::cerr << "error: --pod-running-timeout: " << timeout.error().message << '\n';
      return kExitFailure;
    }
    const std::vector<std::string> addresses = listen_addresses(a->address);
    if (addresses.empty()) {
      std::cerr << "error: --address: no address given\n";
      return kExitFailure;
    }
    Result<api::ApiClient> client = a->state.connect();
    if (!client.ok()) {
      std::cerr << "error: " << client.error().message << '\n';
      return kExitFailure;
    }
    Result<Target> target = resolve_target(client.value(), a->target, a->ns);
    if (!target.ok()) {
      std::cerr << (target.error().code == ErrorCode::NotFound ? server_error(target.error())
                                                               : "error: " + target.error().message)
                << '\n';
      return kExitFailure;
    }
    f->target = target.value();
    if (f->target.kind == Target::Kind::Service)
      for (const Mapping& m : f->mappings)
        if (!service_port(f->target, m)) {
          std::cerr << "error: Service " << f->target.name << " does not have a service port "
                    << m.remote << '\n';
          return kExitFailure;
        }
    f->keys.resize(f->mappings.size());

    // Every thread from here on inherits the mask: Ctrl-C and SIGTERM go to the signal thread.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    ::pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    f->proxy = std::make_unique<net::ServiceProxy>(1);
    std::thread([stop] {
      int sig = 0;
      ::sigwait(&stop, &sig);
      finish(kExitOk);
    }).detach();
    std::thread([f, a] { watch_pods(*f, a->state); }).detach();

    std::unique_lock<std::mutex> lock(f->mu);
    const bool found = f->changed.wait_for(lock, timeout.value(), [&] {
      return !f->backends.empty() && std::all_of(f->backends.begin(), f->backends.end(),
                                                 [](const net::Backends& b) { return !b.empty(); });
    });
    if (!found) {
      std::cerr << "error: timed out waiting for a running pod of " << f->target.ref
                << " with the requested ports\n";
      finish(kExitFailure);
    }
    for (size_t i = 0; i < f->mappings.size(); ++i) {
      const Mapping& m = f->mappings[i];
      const uint16_t remote = f->backends[i].front().port;
      std::optional<uint16_t> local = m.local ? m.local : remote;
      bool listening = false;
      for (const std::string& ip : addresses) {
        const std::string key = fmt::format("pf/{}/{}", i, ip);
        Result<uint16_t> bound =
            f->proxy->listen(key, {ip, *local}, f->backends[i], net::Affinity::ClientIP);
        if (!bound.ok()) {
          std::cerr << "Unable to listen on " << host_port(ip, *local) << ": "
                    << bound.error().message << '\n';
          continue;
        }
        local = bound.value();  // an any-port forward gets the same port on every address
        listening = true;
        f->keys[i].push_back(key);
        std::cout << "Forwarding from " << host_port(ip, bound.value()) << " -> " << remote << '\n';
      }
      if (!listening) {
        std::cerr << "error: unable to listen on any of the requested ports: [{" << *local << " "
                  << remote << "}]\n";
        finish(kExitFailure);
      }
    }
    std::cout << std::flush;
    // Serve until a signal ends the process.
    f->changed.wait(lock, [] { return false; });
    return kExitOk;
  };
}

}  // namespace ticketctl::cli
