#include "cli/tap_format.h"

#include <algorithm>
#include <ctime>
#include <optional>

#include <fmt/format.h>

#include "runtime/core/rfc3339.h"

namespace ticketctl::cli {
namespace {

// "default/posts-depl-x" → "posts-depl-x" when `ns` is "default".
std::string short_name(const std::string& qualified, const std::string& ns) {
  if (qualified.size() > ns.size() && qualified.compare(0, ns.size(), ns) == 0 &&
      qualified[ns.size()] == '/')
    return qualified.substr(ns.size() + 1);
  return qualified;
}

std::string local_time(const std::string& rfc) {
  const std::optional<rfc3339::Time> t = rfc3339::parse(rfc);
  if (!t) return rfc;
  const std::time_t secs = static_cast<std::time_t>(t->seconds);
  std::tm tm{};
  localtime_r(&secs, &tm);
  return fmt::format("{:02}:{:02}:{:02}.{:03}", tm.tm_hour, tm.tm_min, tm.tm_sec,
                     t->nanos / 1'000'000);
}

// A peer as a person names it: service/pod, pod, or ip:port.
std::string peer_text(const Json& p, const std::string& ns, bool destination) {
  const std::string pod = short_name(str(json_at(p, "pod")), ns);
  const std::string service = short_name(str(json_at(p, "service")), ns);
  if (destination && !service.empty()) return pod.empty() ? service : service + "/" + pod;
  if (!pod.empty()) return pod;
  const std::string ip = str(json_at(p, "ip"));
  const Json& port = json_at(p, "port");
  // No endpoint: the ingress answered itself (no rule, no ready pod).
  if (ip.empty()) return destination ? "(no endpoint)" : "?";
  return port.is_number() && port.get<int>() > 0 ? fmt::format("{}:{}", ip, port.get<int>()) : ip;
}

std::string duration_text(double ms) {
  if (ms < 1000) return fmt::format("{:.1f}ms", ms);
  return fmt::format("{:.1f}s", ms / 1000);
}

void append_body(std::string& out, const std::string& marker, const std::string& body) {
  if (body.empty()) return;
  size_t at = 0;
  while (at < body.size()) {
    const size_t eol = std::min(body.find('\n', at), body.size());
    std::string line = body.substr(at, eol - at);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out += "\n    " + marker + " " + line;
    at = eol + 1;
  }
}

uint64_t count(const Json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  return v.is_number_integer() && v.get<int64_t>() > 0 ? static_cast<uint64_t>(v.get<int64_t>())
                                                       : 0;
}

}  // namespace

std::string human_bytes(uint64_t n) {
  if (n < 1024) return fmt::format("{}B", n);
  if (n < 1024 * 1024) return fmt::format("{:.1f}KiB", static_cast<double>(n) / 1024);
  if (n < 1024ull * 1024 * 1024)
    return fmt::format("{:.1f}MiB", static_cast<double>(n) / (1024 * 1024));
  return fmt::format("{:.1f}GiB", static_cast<double>(n) / (1024.0 * 1024 * 1024));
}

std::string tap_text(const Json& e, const std::string& ns, bool bodies) {
  const bool via_ingress = str(json_at(e, "via")) == "ingress";
  const Json& source = json_at(e, "source");
  // A request from outside reaches the ingress; one from a pod is named by its pod.
  const std::string from = via_ingress && str(json_at(source, "pod")).empty()
                               ? std::string("ingress")
                               : peer_text(source, ns, false);
  const std::string to = peer_text(json_at(e, "destination"), ns, true);
  const Json& latency = json_at(e, "latencyMs");
  const double ms = latency.is_number() ? latency.get<double>() : 0;
  const std::string sizes = human_bytes(count(json_at(e, "requestBytes"))) + "→" +
                            human_bytes(count(json_at(e, "responseBytes")));
  std::string out = local_time(str(json_at(e, "time"))) + "  " + from + " → " + to + "  ";
  if (str(json_at(e, "kind")) == "connection") {
    out += "TCP  " + sizes + "  " + duration_text(ms);
    return out;
  }
  const Json& status = json_at(e, "status");
  const int code = status.is_number() ? status.get<int>() : 0;
  out += str(json_at(e, "method")) + " " + str(json_at(e, "path")) + "  " +
         (code > 0 ? std::to_string(code) : std::string("-")) + "  " + duration_text(ms) + "  " +
         sizes;
  if (bodies) {
    append_body(out, ">", str(json_at(e, "requestBody")));
    append_body(out, "<", str(json_at(e, "responseBody")));
  }
  return out;
}

}  // namespace ticketctl::cli
