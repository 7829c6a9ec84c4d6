#include "cli/smoke.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <httplib.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "cli/api_verbs.h"
#include "cli/jsonpath.h"
#include "runtime/core/strings.h"
#include "runtime/daemon/gate.h"
#include "runtime/manifest/schema.h"
#include "runtime/project/config.h"

namespace ticketctl::cli {
namespace fs = std::filesystem;
namespace {

using manifest::Invalid;
using manifest::Schema;
using manifest::Type;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kKinds[] = {"http", "ready", "podLog", "exec", "deletePods"};

Invalid duration_check(const Json& v) {
  if (!v.is_string() || !project::parse_duration(v.get<std::string>()))
    return "must be a duration such as 500ms, 5s or 1m";
  return std::nullopt;
}

Invalid method_check(const Json& v) {
  static const std::set<std::string> kMethods = {"GET",    "POST", "PUT",    "PATCH",
                                                 "DELETE", "HEAD", "OPTIONS"};
  return kMethods.count(str(v)) ? std::nullopt
                                : Invalid(
                                      "must be one of GET, POST, PUT, PATCH, DELETE, HEAD, "
                                      "OPTIONS");
}

Invalid json_path_check(const Json& v) {
  const std::string p = str(v);
  return p.rfind("$", 0) == 0 ? std::nullopt : Invalid("must be a JSON path such as $.id");
}

Invalid json_path_key(std::string_view key) {
  return key.rfind("$", 0) == 0 ? std::nullopt : Invalid("must be a JSON path such as $.id");
}

Invalid status_check(const Json& v) {
  return v.is_number_integer() && v.get<int64_t>() >= 100 && v.get<int64_t>() <= 599
             ? std::nullopt
             : Invalid("must be an HTTP status between 100 and 599");
}

// A check does exactly one thing; `expect` and `capture` belong to `http`.
void one_kind(const YAML::Node& node, const Json& value, manifest::Walker& w) {
  std::vector<std::string> set;
  for (std::string_view k : kKinds)
    if (value.contains(k)) set.emplace_back(k);
  if (set.empty())
    w.error(node, "must specify what to check: one of http, ready, podLog, exec, deletePods");
  else if (set.size() > 1)
    w.error(manifest::key_of(node, set[1]),
            fmt::format("may not specify more than 1 check; `{}` is already set", set[0]));
  for (const char* extra : {"expect", "capture"})
    if (value.contains(extra) && !value.contains("http"))
      w.error(manifest::key_of(node, extra), fmt::format("`{}` needs an `http` request", extra));
}

void body_or_json(const YAML::Node& node, const Json& value, manifest::Walker& w) {
  if (value.contains("body") && value.contains("json"))
    w.error(manifest::key_of(node, "json"), "may not specify both `body` and `json`");
}

const Schema& smoke_schema() {
  static const Schema kString{.type = Type::String};
  static const Schema kInt{.type = Type::Integer};
  static const Schema kAny{.type = Type::Any};
  static const Schema kDuration{.type = Type::String, .check = duration_check};
  static const Schema kStrings{.type = Type::Array, .items = &kString};
  static const Schema kStringMap{.type = Type::Map, .items = &kString};
  static const Schema kJsonPath{.type = Type::String, .check = json_path_check};
  static const Schema kMethod{.type = Type::String, .check = method_check};
  static const Schema kStatus{.type = Type::Integer, .check = status_check};
  static const Schema kHttp{.type = Type::Object,
                            .fields = {{"method", &kMethod},
                                       {"path", &kString, true},
                                       {"host", &kString},
                                       {"headers", &kStringMap},
                                       {"body", &kString},
                                       {"json", &kAny}},
                            .rule = body_or_json};
  static const Schema kJsonExpect{.type = Type::Map, .items = &kAny, .key_check = json_path_key};
  static const Schema kExpect{.type = Type::Object,
                              .fields = {{"status", &kStatus},
                                         {"headers", &kStringMap},
                                         {"bodyContains", &kStrings},
                                         {"json", &kJsonExpect},
                                         {"maxDuration", &kDuration}}};
  static const Schema kCapture{.type = Type::Map, .items = &kJsonPath};
  static const Schema kPodLog{
      .type = Type::Object,
      .fields = {
          {"deployment", &kString, true}, {"container", &kString}, {"contains", &kString, true}}};
  static const Schema kExec{
      .type = Type::Object,
      .fields = {
          {"deployment", &kString, true}, {"container", &kString}, {"command", &kStrings, true}}};
  static const Schema kCheck{.type = Type::Object,
                             .fields = {{"name", &kString, true},
                                        {"eventually", &kDuration},
                                        {"http", &kHttp},
                                        {"expect", &kExpect},
                                        {"capture", &kCapture},
                                        {"ready", &kString},
                                        {"podLog", &kPodLog},
                                        {"exec", &kExec},
                                        {"deletePods", &kString}},
                             .rule = one_kind};
  static const Schema kChecks{.type = Type::Array, .items = &kCheck};
  static const Schema kFile{.type = Type::Object,
                            .fields = {{"host", &kString}, {"checks", &kChecks}}};
  (void)kInt;
  return kFile;
}

// The pods of a Deployment, by its selector.
Result<std::vector<Json>> deployment_pods(api::ApiClient& client, const std::string& name) {
  Result<Json> d = client.get("/apis/apps/v1/namespaces/default/deployments/" + name);
  if (!d.ok()) return d.error();
  const std::string labels = label_selector_text(json_at(json_at(d.value(), "spec"), "selector"));
  Result<Json> list = client.get("/api/v1/namespaces/default/pods" + selector_query(labels, {}));
  if (!list.ok()) return list.error();
  std::vector<Json> pods;
  for (const Json& p : json_at(list.value(), "items"))
    if (json_at(json_at(p, "metadata"), "deletionTimestamp").is_null()) pods.push_back(p);
  return pods;
}

std::string response_text(const httplib::Response& res) {
  std::string text = fmt::format("HTTP/1.1 {} {}\n", res.status, res.reason);
  for (const auto& [k, v] : res.headers) text += k + ": " + v + "\n";
  text += "\n" + (res.body.size() > 4096 ? res.body.substr(0, 4096) + "\n[...]" : res.body);
  return text;
}

Json substitute_json(const Json& v, const std::map<std::string, std::string>& vars) {
  if (v.is_string()) return substitute(v.get<std::string>(), vars);
  if (!v.is_structured()) return v;
  Json out = v;
  for (auto& item : out.items()) item.value() = substitute_json(item.value(), vars);
  return out;
}

// One attempt at an HTTP check: "" when it passed, else why not.
std::string http_once(const SmokeCheck& check, const SmokeFile& file, const SmokeTarget& target,
                      std::map<std::string, std::string>& vars, std::string& response) {
  const Json& http = check.spec["http"];
  httplib::Client client(target.ingress_address, target.ingress_port);
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(15));
  httplib::Request req;
  req.method = http.contains("method") ? str(http["method"]) : "GET";
  req.path = substitute(str(http["path"]), vars);
  const std::string host = http.contains("host") ? str(http["host"]) : file.host;
  if (!host.empty()) req.set_header("Host", host);
  for (const auto& [k, v] : json_at(http, "headers").items())
    req.set_header(k, substitute(str(v), vars));
  if (http.contains("json")) {
    req.body = substitute_json(http["json"], vars).dump();
    if (!req.has_header("Content-Type")) req.set_header("Content-Type", "application/json");
  } else if (http.contains("body")) {
    req.body = substitute(str(http["body"]), vars);
  }
  const auto start = Clock::now();
  httplib::Result res = client.send(req);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  const std::string what = req.method + " " + req.path;
  if (!res)
    return fmt::format("{}: no response from the ingress at {}:{}: {}", what,
                       target.ingress_address, target.ingress_port,
                       httplib::to_string(res.error()));
  response = response_text(*res);
  const Json& expect = json_at(check.spec, "expect");
  if (expect.contains("status") && res->status != expect["status"].get<int>())
    return fmt::format("{}: expected status {}, got {}", what, expect["status"].get<int>(),
                       res->status);
  for (const auto& [k, v] : json_at(expect, "headers").items()) {
    const std::string want = substitute(str(v), vars);
    if (!res->has_header(k))
      return fmt::format("{}: expected header {}, the response has none", what, k);
    if (res->get_header_value(k).find(want) == std::string::npos)
      return fmt::format("{}: expected header {} to contain {}, got {}", what, k, quote(want),
                         quote(res->get_header_value(k)));
  }
  for (const Json& text : json_at(expect, "bodyContains")) {
    const std::string want = substitute(str(text), vars);
    if (res->body.find(want) == std::string::npos)
      return fmt::format("{}: expected the body to contain {}", what, quote(want));
  }
  Json body;
  const bool wants_json =
      !json_at(expect, "json").empty() || !json_at(check.spec, "capture").empty();
  if (wants_json) {
    body = Json::parse(res->body, nullptr, false);
    if (body.is_discarded()) return fmt::format("{}: the body is not JSON", what);
  }
  for (const auto& [path, want] : json_at(expect, "json").items()) {
    const std::string at = substitute(path, vars);
    Result<std::string> got = json_path_text(at, body);
    if (!got.ok()) return fmt::format("{}: {}: {}", what, at, got.error().message);
    const Json expected = substitute_json(want, vars);
    const std::string want_text =
        expected.is_string() ? expected.get<std::string>() : expected.dump();
    if (got.value() != want_text)
      return fmt::format("{}: expected {} to be {}, got {}", what, at, quote(want_text),
                         quote(got.value()));
  }
  if (expect.contains("maxDuration")) {
    const auto limit = *project::parse_duration(str(expect["maxDuration"]));
    if (took > limit)
      return fmt::format("{}: took {} ms, more than maxDuration {}", what, took.count(),
                         str(expect["maxDuration"]));
  }
  for (const auto& [name, path] : json_at(check.spec, "capture").items()) {
    Result<std::string> got = json_path_text(str(path), body);
    if (!got.ok())
      return fmt::format("{}: capture {}: {}: {}", what, name, str(path), got.error().message);
    vars[name] = got.value();
  }
  response.clear();
  return {};
}

// Runs `ticketctl exec POD [-c C] -- COMMAND` as a user would; returns its exit status.
int run_exec(const SmokeTarget& target, const std::string& pod, const std::string& container,
             const std::vector<std::string>& command, std::string& output) {
  std::vector<std::string> args = {"exec", pod, "--state-dir", target.state_dir};
  if (!container.empty()) args.insert(args.end(), {"-c", container});
  args.push_back("--");
  args.insert(args.end(), command.begin(), command.end());
  char path[] = "/tmp/ticketctl-test-exec-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) return -1;
  ::close(fd);
  const int code = run_ticketctl(target.self_binary, args, path);
  std::ifstream in(path);
  std::stringstream buf;
  buf << in.rdbuf();
  output = buf.str().substr(0, 4096);
  ::unlink(path);
  return code;
}

// One attempt at any check: "" when it passed.
std::string check_once(const SmokeCheck& check, const SmokeFile& file, const SmokeTarget& target,
                       std::map<std::string, std::string>& vars, std::string& response) {
  const Json& s = check.spec;
  if (s.contains("http")) return http_once(check, file, target, vars, response);
  api::ApiClient& client = *target.client;
  if (s.contains("ready")) {
    const std::string name = substitute(str(s["ready"]), vars);
    Result<Json> d = client.get("/apis/apps/v1/namespaces/default/deployments/" + name);
    if (!d.ok()) return d.error().message;
    daemon::GateSnapshot snapshot;
    snapshot.deployments = {d.value()};
    const auto verdicts = daemon::judge_deployments(snapshot, {}, false);
    if (verdicts.at(0).verdict != daemon::Verdict::Stable)
      return fmt::format("deployment {}: {}", name, verdicts[0].summary);
    return {};
  }
  if (s.contains("deletePods")) {
    const std::string name = substitute(str(s["deletePods"]), vars);
    Result<std::vector<Json>> pods = deployment_pods(client, name);
    if (!pods.ok()) return pods.error().message;
    if (pods.value().empty()) return fmt::format("deployment {} has no pods to delete", name);
    for (const Json& p : pods.value()) {
      Result<Json> r =
          client.remove("/api/v1/namespaces/default/pods/" + str(p["metadata"]["name"]));
      if (!r.ok()) return r.error().message;
    }
    return {};
  }
  const Json& target_spec = s.contains("podLog") ? s["podLog"] : s["exec"];
  const std::string deployment = substitute(str(target_spec["deployment"]), vars);
  const std::string container = str(json_at(target_spec, "container"));
  Result<std::vector<Json>> pods = deployment_pods(client, deployment);
  if (!pods.ok()) return pods.error().message;
  if (pods.value().empty()) return fmt::format("deployment {} has no pods", deployment);
  if (s.contains("podLog")) {
    const std::string want = substitute(str(target_spec["contains"]), vars);
    for (const Json& p : pods.value()) {
      std::string path = "/api/v1/namespaces/default/pods/" + str(p["metadata"]["name"]) + "/log";
      if (!container.empty()) path += "?container=" + container;
      Result<std::pair<int, std::string>> log = client.raw("GET", path);
      if (log.ok() && log.value().first == 200 &&
          log.value().second.find(want) != std::string::npos)
        return {};
    }
    return fmt::format("no pod of deployment {} logged {}", deployment, quote(want));
  }
  std::vector<std::string> command;
  for (const Json& a : s["exec"]["command"]) command.push_back(substitute(str(a), vars));
  std::string output;
  const std::string pod = str(pods.value()[0]["metadata"]["name"]);
  const int code = run_exec(target, pod, container, command, output);
  if (code == 0) return {};
  response = output;
  return fmt::format("exec in pod {}: {} exited with {}", pod, join(command, " "), code);
}

}  // namespace

int run_ticketctl(const std::string& binary, const std::vector<std::string>& args,
                  const fs::path& output) {
  std::vector<std::string> argv_text = {binary};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const int out = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (null < 0 || out < 0) ::_exit(126);
    ::dup2(null, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    std::vector<char*> argv;
    for (std::string& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  if (pid < 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string substitute(const std::string& text, const std::map<std::string, std::string>& vars) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t open = text.find("{{", pos);
    const size_t close = open == std::string::npos ? open : text.find("}}", open + 2);
    if (close == std::string::npos) break;
    std::string name = text.substr(open + 2, close - open - 2);
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    const auto it = vars.find(name);
    out += text.substr(pos, open - pos);
    out += it == vars.end() ? text.substr(open, close + 2 - open) : it->second;
    pos = close + 2;
  }
  return out + text.substr(pos);
}

Result<std::string> json_path_text(const std::string& path, const Json& data) {
  if (path.empty() || path[0] != '$') return Error{ErrorCode::Invalid, "a JSON path starts with $"};
  // kubectl's jsonpath reads `{.a.b}`; `$` is the root it starts from.
  std::string tmpl;
  tmpl.reserve(path.size() + 1);
  tmpl.append("{").append(path, 1, std::string::npos).append("}");
  Result<std::string> text = render_jsonpath(tmpl, data);
  if (!text.ok()) return text;
  if (text.value().empty() && path != "$")
    return Error{ErrorCode::NotFound, "not found in the response"};
  return text;
}

std::optional<SmokeFile> load_smoke_file(const fs::path& path, Diagnostics& diags) {
  std::ifstream in(path);
  if (!in) {
    Diagnostic d;
    d.pos.file = path.string();
    d.message = "cannot read the check file";
    diags.add(std::move(d));
    return std::nullopt;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(buf.str());
  } catch (const YAML::Exception& e) {
    Diagnostic d;
    d.pos = {path.string(), e.mark.line + 1, e.mark.column + 1};
    d.message = "YAML syntax error: " + e.msg;
    diags.add(std::move(d));
    return std::nullopt;
  }
  manifest::Walker w(path.string(), 0, "", diags);
  const Json value = w.walk(root, smoke_schema());
  if (!w.ok()) return std::nullopt;
  SmokeFile file;
  file.path = path.string();
  file.host = str(json_at(value, "host"));
  const YAML::Node checks = manifest::child(root, "checks");
  size_t i = 0;
  for (const Json& c : value["checks"]) {
    SmokeCheck check;
    check.name = str(c["name"]);
    check.file = path.string();
    const YAML::Node node = manifest::item(checks, i++);
    check.line = manifest::has_mark(node) ? node.Mark().line + 1 : 0;
    if (c.contains("eventually")) check.eventually = *project::parse_duration(str(c["eventually"]));
    check.spec = c;
    file.checks.push_back(std::move(check));
  }
  return file;
}

CheckOutcome run_check(const SmokeCheck& check, const SmokeFile& file, const SmokeTarget& target,
                       std::map<std::string, std::string>& vars) {
  CheckOutcome out;
  const auto start = Clock::now();
  const auto deadline = start + check.eventually;
  while (true) {
    ++out.attempts;
    std::string response;
    out.message = check_once(check, file, target, vars, response);
    out.response = std::move(response);
    out.passed = out.message.empty();
    if (out.passed || Clock::now() >= deadline) break;
    // Eventually-consistent views (the query service) catch up within a few hundred ms.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!out.passed && out.attempts > 1)
    out.message +=
        fmt::format(" (still failing after {} attempts in {:.1f}s)", out.attempts, out.seconds);
  return out;
}

}  // namespace ticketctl::cli
