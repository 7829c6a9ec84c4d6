#include "runtime/daemon/ingress.h"

#include <fmt/format.h>

#include <array>
#include <cstdlib>
#include <fstream>
#include <span>
#include <unordered_map>

#include "runtime/api/tls.h"
#include "runtime/core/files.h"
#include "runtime/core/strings.h"

namespace ticketctl::daemon {
namespace {

// $name as an integer in [lo, hi]; `fallback` when unset or not such a number.
int int_from_env(const char* name, int fallback, long lo, long hi) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  return (*end == '\0' && n >= lo && n <= hi) ? static_cast<int>(n) : fallback;
}

// What the proxy routes with: one Ingress table and one endpoint map, both immutable.
class IngressRouting final : public ingress::Routing {
 public:
  IngressRouting(std::shared_ptr<const ingress::RouteTable> table,
                 std::shared_ptr<const net::ServiceBackends> backends)
      : table_(std::move(table)), backends_(std::move(backends)) {
    for (const auto& [key, set] : *backends_) next_.try_emplace(&set, 0);
  }

  std::optional<ingress::RouteRef> route(std::string_view host, std::string_view target,
                                         std::string& scratch) const override {
    return table_->route_ref(host, target, scratch);
  }

  ingress::Endpoints endpoints(std::string_view ns, std::string_view service,
                               std::string_view port) const override {
    // The map's key (net::backends_key: "ns/service/port"), built on the stack: names are
    // at most 63 characters, ports 15.
    std::array<char, 256> buf;
    const std::size_t n = ns.size() + service.size() + port.size() + 2;
    if (n > buf.size()) return {};
    char* at = std::copy(ns.begin(), ns.end(), buf.data());
    *at++ = '/';
    at = std::copy(service.begin(), service.end(), at);
    *at++ = '/';
    std::copy(port.begin(), port.end(), at);
    auto it = backends_->find(std::string_view(buf.data(), n));
    if (it == backends_->end()) return {};
    auto next = next_.find(&it->second);
    return {it->second, next == next_.end() ? nullptr : &next->second};
  }

 private:
  std::shared_ptr<const ingress::RouteTable> table_;
  std::shared_ptr<const net::ServiceBackends> backends_;
  // Round-robin position per endpoint set, shared by the I/O threads.
  mutable std::unordered_map<const net::Backends*, std::atomic<uint64_t>> next_;
};

}  // namespace

IngressService::IngressService(const StateDir& dir, const project::Config& config,
                               net::Dataplane& dataplane, tap::Hub* tap, const TapPeers* peers)
    : dir_(dir),
      config_(config),
      dataplane_(dataplane),
      table_(std::make_shared<const ingress::RouteTable>()),
      backends_(dataplane.backends()),
      tap_(peers ? tap : nullptr),
      peers_(peers) {
  dataplane_.on_backends([this](std::shared_ptr<const net::ServiceBackends> backends) {
    std::lock_guard lock(routing_mu_);
    if (*backends == *backends_) return;
    backends_ = std::move(backends);
    publish_routing();
  });
}

void IngressService::publish_routing() {
  if (proxy_) proxy_->publish(std::make_shared<const IngressRouting>(table_, backends_));
}

IngressService::~IngressService() {
  stop();
  dataplane_.on_backends({});
}

Result<IngressPorts> IngressService::start() {
  ingress::ProxyOptions options;
  options.address = config_.ingress_address;
  options.http_port = int_from_env("TICKETCTL_INGRESS_HTTP", config_.ingress_http, -1, 65535);
  options.https_port = int_from_env("TICKETCTL_INGRESS_HTTPS", config_.ingress_https, -1, 65535);
  // I/O threads: one per core unless $TICKETCTL_INGRESS_THREADS says otherwise (1-64).
  options.threads = int_from_env("TICKETCTL_INGRESS_THREADS", 0, 1, 64);
  ingress::ProxyHooks hooks;
  hooks.certificate = [this](std::string_view host) { return certificate(host); };
  if (Result<bool> made = make_private_dirs(dir_.root / "ingress"); !made.ok()) return made.error();
  AccessLogOptions log_options;
  log_options.file = dir_.root / "ingress" / "access.log";
  access_log_ = std::make_unique<AccessLog>(std::move(log_options));
  access_log_->start();
  hooks.access_log = [log = access_log_.get(), hub = tap_,
                      peers = peers_](const ingress::AccessLogEntry& e) {
    log->write(e);
    // `captured`: somebody tapped when the request began (the capture hook below).
    if (hub && e.captured) hub->publish(tap_exchange(e, *peers));
  };
  if (tap_) {
    // Asked once per request: with nobody tapping, this relaxed load is all the tap costs.
    hooks.capture = [hub = tap_] {
      if (!hub->active()) return ingress::Capture::None;
      return hub->wants_bodies() ? ingress::Capture::Bodies : ingress::Capture::Headers;
    };
    hooks.body_limit = tap::kBodyLimit;
  }
  {
    std::lock_guard lock(routing_mu_);
    proxy_ = std::make_unique<ingress::IngressProxy>(options, std::move(hooks));
    publish_routing();
  }
  Result<std::pair<int, int>> bound = proxy_->start();
  if (!bound.ok()) {
    const bool in_use = bound.error().message.find("in use") != std::string::npos;
    return Error{
        bound.error().code,
        fmt::format("ingress: {}{}", bound.error().message,
                    in_use ? " (another `ticketctl up`? set `ingress: {http: N, https: M}` "
                             "in ticketctl.yaml)"
                           : "")};
  }
  ports_ = {options.address, bound.value().first, bound.value().second};
  const Json info = {{"address", ports_.address}, {"http", ports_.http}, {"https", ports_.https}};
  if (Result<bool> w = write_private_file(dir_.root / "ingress.json", info.dump() + "\n"); !w.ok())
    return w.error();
  return ports_;
}

Result<bool> IngressService::register_service(store::Store& store) {
  if (!store.get({"namespaces", "", "ingress-nginx"}).ok()) {
    Json ns = {{"apiVersion", "v1"},
               {"kind", "Namespace"},
               {"metadata", {{"name", "ingress-nginx"}}},
               {"status", {{"phase", "Active"}}}};
    if (Result<Json> r = store.create("namespaces", std::move(ns)); !r.ok()) return r.error();
  }
  const Json labels = {{"app.kubernetes.io/name", "ingress-nginx"},
                       {"app.kubernetes.io/component", "controller"},
                       {"app.kubernetes.io/managed-by", "ticketctl"}};
  Json ports = Json::array();
  Json endpoint_ports = Json::array();
  for (auto [name, port, bound] :
       {std::tuple{"http", 80, ports_.http}, std::tuple{"https", 443, ports_.https}}) {
    if (bound <= 0) continue;
    ports.push_back({{"name", name}, {"port", port}, {"protocol", "TCP"}, {"targetPort", name}});
    endpoint_ports.push_back({{"name", name}, {"port", bound}, {"protocol", "TCP"}});
  }
  Json service = {
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata",
       {{"name", "ingress-nginx-controller"}, {"namespace", "ingress-nginx"}, {"labels", labels}}},
      {"spec", {{"type", "ClusterIP"}, {"ports", ports}}}};
  Json endpoints = {
      {"apiVersion", "v1"},
      {"kind", "Endpoints"},
      {"metadata",
       {{"name", "ingress-nginx-controller"}, {"namespace", "ingress-nginx"}, {"labels", labels}}},
      {"subsets",
       {{{"addresses", {{{"ip", ports_.address}, {"nodeName", "localhost"}}}},
         {"ports", endpoint_ports}}}}};
  Result<std::vector<store::Applied>> r =
      store.apply({{"services", std::move(service)}, {"endpoints", std::move(endpoints)}});
  if (!r.ok()) return r.error();
  return true;
}

std::vector<std::string> IngressService::update(const store::Store& store) {
  std::vector<Json> ingresses = store.list("ingresses.networking.k8s.io", "");
  // TLS Secrets named by the Ingresses, by host.
  std::map<std::string, ingress::CertificatePem, std::less<>> certs;
  std::string fingerprint;
  for (const Json& ing : ingresses) fingerprint += str(ing["metadata"]["resourceVersion"]) + ",";
  for (const Json& ing : ingresses) {
    const std::string ns = str(ing["metadata"]["namespace"]);
    for (const Json& tls : json_at(json_at(ing, "spec"), "tls")) {
      const std::string secret = str(json_at(tls, "secretName"));
      if (secret.empty()) continue;
      Result<Json> s = store.get({"secrets", ns, secret});
      if (!s.ok()) continue;
      fingerprint += str(s.value()["metadata"]["resourceVersion"]) + ";";
      const Json& data = json_at(s.value(), "data");
      std::optional<std::string> crt = base64_decode(str(json_at(data, "tls.crt")));
      std::optional<std::string> key = base64_decode(str(json_at(data, "tls.key")));
      if (!crt || !key || crt->empty() || key->empty()) continue;
      for (const Json& host : json_at(tls, "hosts")) certs[str(host)] = {*crt, *key};
    }
  }
  if (fingerprint == fingerprint_) return {};
  fingerprint_ = fingerprint;
  std::vector<std::string> warnings;
  auto table =
      std::make_shared<const ingress::RouteTable>(ingress::RouteTable::build(ingresses, &warnings));
  {
    std::lock_guard lock(routing_mu_);
    table_ = std::move(table);
    publish_routing();
  }
  {
    std::lock_guard<std::mutex> l(certs_mu_);
    if (certs != secret_certs_) {
      secret_certs_ = std::move(certs);
      if (proxy_) proxy_->clear_certificate_cache();
    }
  }
  return warnings;
}

std::optional<ingress::CertificatePem> IngressService::certificate(std::string_view host) {
  if (host.empty()) return std::nullopt;
  std::lock_guard<std::mutex> l(certs_mu_);
  if (auto it = secret_certs_.find(host); it != secret_certs_.end()) return it->second;
  if (auto it = issued_.find(host); it != issued_.end()) return it->second;
  Result<std::pair<std::string, std::string>> issued =
      api::issue_host_certificate(dir_.pki(), std::string(host));
  if (!issued.ok()) return std::nullopt;
  return issued_.emplace(std::string(host), issued.value()).first->second;
}

void IngressService::stop() {
  if (proxy_) proxy_->stop();
  {
    std::lock_guard lock(routing_mu_);
    proxy_.reset();
  }
  // After the proxy: every request it finished has been handed to the log, which writes it all.
  if (access_log_) access_log_->stop();
  access_log_.reset();
}

tap::Exchange tap_exchange(const ingress::AccessLogEntry& e, const TapPeers& peers) {
  tap::Exchange x;
  x.time = e.time;
  x.via = tap::Exchange::Via::Ingress;
  x.http = true;
  x.source = peers.at(e.client, e.client_port);
  // "ip:port" of the endpoint that answered; empty when the ingress answered itself (404...).
  if (const size_t colon = e.upstream.rfind(':'); colon != std::string::npos) {
    const unsigned long port = std::strtoul(e.upstream.c_str() + colon + 1, nullptr, 10);
    x.destination = peers.at(e.upstream.substr(0, colon), static_cast<uint16_t>(port));
  }
  // The controller loop renames addresses after pods change; until it has, the proxy's own
  // record of the endpoint's pod is right.
  if (x.destination.pod.empty() && !e.pod.empty()) {
    x.destination.pod = e.pod;
    x.destination.workload = peers.workload_of(e.pod);
  }
  x.destination.service = e.service;
  x.method = e.method;
  x.host = e.host;
  x.path = e.path;
  x.status = e.status;
  x.latency_ms = e.duration_ms;
  x.request_bytes = e.bytes_in;
  x.response_bytes = e.bytes_out;
  x.request_headers = e.request_headers;
  x.response_headers = e.response_headers;
  x.request_body = e.request_body;
  x.response_body = e.response_body;
  return x;
}

Result<IngressPorts> read_ingress_ports(const StateDir& dir) {
  std::ifstream in(dir.root / "ingress.json");
  if (!in)
    return Error{ErrorCode::NotFound,
                 fmt::format("no ingress is running for {} (start it with `ticketctl up`)",
                             dir.root.string())};
  try {
    const Json j = Json::parse(in);
    return IngressPorts{j.value("address", "127.0.0.1"), j.value("http", -1), j.value("https", -1)};
  } catch (const Json::exception& e) {
    return Error{ErrorCode::Internal,
                 fmt::format("cannot read {}: {}", (dir.root / "ingress.json").string(), e.what())};
  }
}

}  // namespace ticketctl::daemon
