#include "runtime/api/streaming.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "runtime/api/handler.h"
#include "runtime/supervisor/process.h"

namespace ticketctl::api {
namespace {

namespace fs = std::filesystem;

const Json& at(const Json& j, const char* key) {
  static const Json null;
  return j.is_object() && j.contains(key) ? j[key] : null;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded, as Go's url.Values.Encode writes it ('+' is a space).
std::string decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() + 0 && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

Result<bool> flag(const StreamTarget& t, const char* name) {
  auto it = t.query.find(name);
  if (it == t.query.end() || it->second == "false" || it->second == "0") return false;
  if (it->second == "true" || it->second == "1" || it->second.empty()) return true;
  return Error{
      ErrorCode::Invalid,
      fmt::format("invalid value for {}: {:?} (expected true or false)", name, it->second)};
}

Error not_found(const StreamTarget& t) {
  return Error{ErrorCode::NotFound, fmt::format("pods \"{}\" not found", t.pod)};
}

// The API server's rule when a request names no container.
Result<std::string> pick_container(const Json& pod, const std::string& wanted) {
  std::vector<std::string> names;
  for (const Json& c : at(at(pod, "spec"), "containers")) names.push_back(str(at(c, "name")));
  const std::string name = str(pod["metadata"]["name"]);
  if (wanted.empty()) {
    if (names.size() == 1) return names[0];
    return Error{ErrorCode::Invalid,
                 fmt::format("a container name must be specified for pod {}, choose one of: [{}]",
                             name, fmt::join(names, " "))};
  }
  if (std::find(names.begin(), names.end(), wanted) == names.end())
    return Error{ErrorCode::Invalid,
                 fmt::format("container {} is not valid for pod {}", wanted, name)};
  return wanted;
}

bool container_running(const Json& pod, const std::string& container) {
  for (const Json& s : at(at(pod, "status"), "containerStatuses"))
    if (str(at(s, "name")) == container) return !at(at(s, "state"), "running").is_null();
  return false;
}

}  // namespace

std::optional<StreamTarget> match_stream_target(std::string_view target) {
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  constexpr std::string_view prefix = "/api/v1/namespaces/";
  if (path.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::vector<std::string_view> parts;
  std::string_view rest = path.substr(prefix.size());
  while (true) {
    const size_t slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  // NS / pods / NAME / VERB
  if (parts.size() != 4 || parts[1] != "pods" || parts[0].empty() || parts[2].empty())
    return std::nullopt;
  StreamTarget t;
  if (parts[3] == "exec")
    t.verb = StreamVerb::Exec;
  else if (parts[3] == "attach")
    t.verb = StreamVerb::Attach;
  else if (parts[3] == "portforward")
    t.verb = StreamVerb::PortForward;
  else
    return std::nullopt;
  t.ns = decode(parts[0]);
  t.pod = decode(parts[2]);
  if (q != std::string_view::npos) {
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
      const size_t amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      const size_t eq = pair.find('=');
      if (!pair.empty())
        t.query.emplace(decode(pair.substr(0, eq)),
                        eq == std::string_view::npos ? std::string() : decode(pair.substr(eq + 1)));
      if (amp == std::string_view::npos) break;
      query = query.substr(amp + 1);
    }
  }
  return t;
}

Result<ExecOptions> parse_exec_options(const StreamTarget& t) {
  ExecOptions o;
  auto [first, last] = t.query.equal_range("command");
  for (auto it = first; it != last; ++it) o.command.push_back(it->second);
  if (auto it = t.query.find("container"); it != t.query.end()) o.container = it->second;
  bool* fields[] = {&o.use_stdin, &o.use_stdout, &o.use_stderr, &o.tty};
  const char* names[] = {"stdin", "stdout", "stderr", "tty"};
  for (size_t i = 0; i < 4; ++i) {
    Result<bool> v = flag(t, names[i]);
    if (!v.ok()) return v.error();
    *fields[i] = v.value();
  }
  if (t.verb == StreamVerb::Exec && o.command.empty())
    return Error{ErrorCode::Invalid, "you must specify at least 1 command"};
  if (!o.use_stdin && !o.use_stdout && !o.use_stderr)
    return Error{ErrorCode::Invalid, "you must specify at least 1 of stdin, stdout, stderr"};
  if (o.tty) o.use_stderr = false;  // a terminal has one output stream, as in Kubernetes
  return o;
}

Json exit_status_json(int exit_code, const std::vector<std::string>& command) {
  if (exit_code == 0) return Json{{"metadata", Json::object()}, {"status", "Success"}};
  Json j = status_json(
      500, "NonZeroExitCode",
      fmt::format("command terminated with non-zero exit code: error executing "
                  "command [{}], exit code {}",
                  fmt::join(command, " "), exit_code),
      Json{{"causes",
            Json::array({Json{{"reason", "ExitCode"}, {"message", std::to_string(exit_code)}}})}});
  j.erase("code");  // the kubelet's status carries none; client-go reads the cause
  return j;
}

int http_status(const Error& e) {
  switch (e.code) {
    case ErrorCode::NotFound:
      return 404;
    case ErrorCode::Invalid:
      return 400;
    case ErrorCode::Conflict:
    case ErrorCode::AlreadyExists:
      return 409;
    default:
      return 500;
  }
}

Json error_status_json(const Error& e) {
  const int code = http_status(e);
  const char* reason = code == 404   ? "NotFound"
                       : code == 400 ? "BadRequest"
                       : code == 409 ? "Conflict"
                                     : "InternalError";
  return status_json(code, reason, e.message);
}

Result<Json> StreamBackend::running_pod(const StreamTarget& t) {
  Result<Json> pod = store_.lock()->get({"pods", t.ns, t.pod});
  if (!pod.ok()) return not_found(t);
  const std::string phase = str(at(at(pod.value(), "status"), "phase"));
  if (phase == "Succeeded" || phase == "Failed")
    return Error{ErrorCode::Invalid,
                 fmt::format("cannot connect to a container in a completed pod; current phase is "
                             "{}",
                             phase)};
  return pod;
}

Result<ExecSpec> StreamBackend::exec_spec(const StreamTarget& t, const ExecOptions& o) {
  Result<Json> pod = running_pod(t);
  if (!pod.ok()) return pod.error();
  Result<std::string> container = pick_container(pod.value(), o.container);
  if (!container.ok()) return container.error();
  if (!container_running(pod.value(), container.value()))
    return Error{ErrorCode::Invalid,
                 fmt::format("container {} is not running in pod {}", container.value(), t.pod)};
  const Json& meta = pod.value()["metadata"];
  const fs::path record = pods_dir_ / fmt::format("{}_{}_{}", t.ns, t.pod, str(at(meta, "uid"))) /
                          container.value() / "exec.json";
  std::ifstream in(record);
  std::stringstream text;
  text << in.rdbuf();
  const Json info = Json::parse(text.str(), nullptr, false);
  if (!in || info.is_discarded() || !info.is_object())
    return Error{ErrorCode::Internal,
                 fmt::format("no exec record for container {} ({} is missing or unreadable)",
                             container.value(), record.string())};
  const supervisor::SpawnSpec run = supervisor::spawn_spec_from_record(info);
  ExecSpec spec;
  spec.argv = o.command;
  spec.env = run.env;
  spec.working_dir = run.working_dir;
  spec.tty = o.tty;
  spec.open_stdin = o.use_stdin;
  return spec;
}

Result<logs::LogRun> StreamBackend::attach_run(const StreamTarget& t, const ExecOptions& o) {
  Result<Json> pod = running_pod(t);
  if (!pod.ok()) return pod.error();
  Result<std::string> container = pick_container(pod.value(), o.container);
  if (!container.ok()) return container.error();
  if (!container_running(pod.value(), container.value()))
    return Error{ErrorCode::Invalid,
                 fmt::format("container {} is not running in pod {}", container.value(), t.pod)};
  logs::LogOptions options;
  options.container = container.value();
  options.follow = true;
  options.tail_lines = 0;
  return logs::choose_log_run(pod.value(), pods_dir_, options);
}

Result<std::string> StreamBackend::pod_ip(const StreamTarget& t) {
  Result<Json> pod = running_pod(t);
  if (!pod.ok()) return pod.error();
  const std::string ip = str(at(at(pod.value(), "status"), "podIP"));
  if (ip.empty() || str(at(pod.value()["status"], "phase")) != "Running")
    return Error{ErrorCode::Invalid,
                 fmt::format("pod {} does not have a host assigned (it is not running)", t.pod)};
  return ip;
}

}  // namespace ticketctl::api
