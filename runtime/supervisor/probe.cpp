#include "runtime/supervisor/probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <httplib.h>

#include <cerrno>
#include <cstring>

namespace ticketctl::supervisor {
namespace {

std::chrono::milliseconds timeout_of(const Json& probe) {
  const Json& t = json_at(probe, "timeoutSeconds");
  return std::chrono::seconds(t.is_number_integer() && t.get<int>() > 0 ? t.get<int>() : 1);
}

ProbeOutcome http_probe(const Json& spec, const ProbeTarget& target,
                        std::chrono::milliseconds timeout) {
  const int port = resolve_port(json_at(spec, "port"), *target.container);
  const std::string host = spec.value("host", target.pod_ip);
  std::string path = spec.value("path", "/");
  if (path.empty() || path[0] != '/') path = "/" + path;
  const bool https = spec.value("scheme", "HTTP") == "HTTPS";
  const std::string url = fmt::format("{}://{}:{}{}", https ? "https" : "http", host, port, path);
  if (port <= 0) return {false, fmt::format("Get {:?}: unknown port", url)};
  httplib::Headers headers = {{"User-Agent", "kube-probe/1.32"}};
  for (const Json& h : json_at(spec, "httpHeaders"))
    headers.emplace(h.value("name", ""), h.value("value", ""));
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout).count();
  auto run = [&](auto& client) -> ProbeOutcome {
    client.set_connection_timeout(seconds, 0);
    client.set_read_timeout(seconds, 0);
    client.set_write_timeout(seconds, 0);
    httplib::Result r = client.Get(path, headers);
    if (!r) return {false, fmt::format("Get {:?}: {}", url, httplib::to_string(r.error()))};
    if (r->status >= 200 && r->status < 400) return {true, ""};
    return {false, fmt::format("HTTP probe failed with statuscode: {}", r->status)};
  };
  if (https) {
    httplib::SSLClient client(host, port);
    client.enable_server_certificate_verification(false);  // as the kubelet does
    return run(client);
  }
  httplib::Client client(host, port);
  return run(client);
}

ProbeOutcome exec_probe(const Json& spec, const ProbeTarget& target,
                        std::chrono::milliseconds timeout) {
  SpawnSpec s = target.exec_base;
  s.argv.clear();
  for (const Json& a : json_at(spec, "command"))
    if (a.is_string()) s.argv.push_back(a.get<std::string>());
  Result<Spawned> child = target.exits ? target.exits->spawn(s) : spawn_process(s);
  if (!child.ok()) return {false, child.error().message};
  const Spawned& c = child.value();
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  bool exited = false;
  // Read its output (so it never blocks on a full pipe) until it exits or time runs out.
  while (!exited) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd fds[2] = {{c.stdout_fd, POLLIN, 0}, {c.stderr_fd, POLLIN, 0}};
    ::poll(fds, 2, static_cast<int>(std::min<int64_t>(left.count(), 20)));
    char buf[4096];
    for (const pollfd& p : fds) {
      ssize_t n;
      while ((n = ::read(p.fd, buf, sizeof buf)) > 0)
        if (output.size() < 10240) output.append(buf, static_cast<size_t>(n));
    }
    if (target.exits) {
      const std::optional<int> ended = target.exits->wait(c.pid, std::chrono::steady_clock::now());
      exited = ended.has_value();
      if (exited) status = *ended;
    } else {
      exited = ::waitpid(c.pid, &status, WNOHANG) == c.pid;
    }
  }
  ::close(c.stdout_fd);
  ::close(c.stderr_fd);
  if (!exited) {
    signal_group(c.pid, SIGKILL);
    if (target.exits) {
      // Killed, it ends within moments; if not, the reaper collects it whenever it does.
      if (!target.exits->wait(c.pid, std::chrono::steady_clock::now() + std::chrono::seconds(5)))
        target.exits->forget(c.pid);
    } else {
      ::waitpid(c.pid, &status, 0);
    }
    return {false, fmt::format("command timed out after {}s", timeout.count() / 1000)};
  }
  signal_group(c.pid, SIGKILL);  // whatever it left behind in its group
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (code == 0) return {true, ""};
  while (!output.empty() && output.back() == '\n') output.pop_back();
  return {false, output.empty() ? fmt::format("command exited with {}", code) : output};
}

}  // namespace

int resolve_port(const Json& port, const Json& container) {
  if (port.is_number_integer()) return port.get<int>();
  if (!port.is_string()) return 0;
  const std::string name = port.get<std::string>();
  if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit)) return std::stoi(name);
  for (const Json& p : json_at(container, "ports"))
    if (p.value("name", "") == name) return json_at(p, "containerPort").get<int>();
  return 0;
}

ProbeOutcome tcp_probe(const std::string& ip, int port, std::chrono::milliseconds timeout) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1)
    return {false, fmt::format("dial tcp {}:{}: bad address", ip, port)};
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return {false, "socket failed"};
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = rc == 0 ? 0 : errno;
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    } else {
      err = ETIMEDOUT;
    }
  }
  ::close(fd);
  if (err == 0) return {true, ""};
  return {false, fmt::format("dial tcp {}:{}: connect: {}", ip, port, std::strerror(err))};
}

ProbeOutcome run_probe(const Json& probe, const ProbeTarget& target) {
  const auto timeout = timeout_of(probe);
  if (const Json& h = json_at(probe, "httpGet"); !h.is_null())
    return http_probe(h, target, timeout);
  if (const Json& t = json_at(probe, "tcpSocket"); !t.is_null()) {
    const int port = resolve_port(json_at(t, "port"), *target.container);
    return tcp_probe(t.value("host", target.pod_ip), port, timeout);
  }
  if (const Json& e = json_at(probe, "exec"); !e.is_null()) return exec_probe(e, target, timeout);
  if (const Json& g = json_at(probe, "grpc"); !g.is_null()) {
    // Without a gRPC client, a grpc probe checks that the port accepts connections.
    return tcp_probe(target.pod_ip, json_at(g, "port").get<int>(), timeout);
  }
  return {false, "probe has no handler"};
}

}  // namespace ticketctl::supervisor
