#include "runtime/daemon/state_dir.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "runtime/manifest/json.h"

namespace ticketctl::daemon {
namespace fs = std::filesystem;

fs::path resolve_state_dir(const std::string& flag) {
  if (!flag.empty()) return fs::absolute(flag);
  if (const char* home = std::getenv("TICKETCTL_HOME"); home && *home) return fs::absolute(home);
  fs::path base;
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg) {
    base = xdg;
  } else {
    const char* home = std::getenv("HOME");
    base = fs::path(home && *home ? home : "/tmp") / ".local" / "state";
  }
  std::string project = fs::current_path().filename().string();
  if (project.empty()) project = "root";
  return base / "ticketctl" / project;
}

Result<bool> write_private_file(const fs::path& file, const std::string& content) {
  const fs::path tmp = file.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return Error{ErrorCode::Internal,
                 fmt::format("cannot write {}: {}", file.string(), std::strerror(errno))};
  ::fchmod(fd, 0600);
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return Error{ErrorCode::Internal,
                   fmt::format("cannot write {}: {}", file.string(), std::strerror(errno))};
    }
    done += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), file.c_str()) != 0)
    return Error{ErrorCode::Internal,
                 fmt::format("cannot write {}: {}", file.string(), std::strerror(errno))};
  return true;
}

Result<api::Connection> connection_for(const StateDir& dir) {
  const std::string not_running = fmt::format(
      "no control plane is running for {} (start one with `ticketctl up -d`)", dir.root.string());
  std::ifstream server(dir.apiserver());
  if (!server) return Error{ErrorCode::NotFound, not_running};
  std::stringstream buf;
  buf << server.rdbuf();
  const Json info = Json::parse(buf.str(), nullptr, false);
  if (info.is_discarded() || !info.contains("port") || !info.contains("pid"))
    return Error{ErrorCode::Internal, fmt::format("{} is damaged; restart with `ticketctl up`",
                                                  dir.apiserver().string())};
  // A control plane killed with -9 leaves the file behind; its pid tells whether it still runs.
  if (::kill(info["pid"].get<pid_t>(), 0) != 0 && errno == ESRCH)
    return Error{ErrorCode::NotFound, not_running};
  std::ifstream token_file(dir.token());
  std::string token;
  std::getline(token_file, token);
  if (token.empty())
    return Error{ErrorCode::Internal, fmt::format("cannot read {}", dir.token().string())};
  return api::Connection{"127.0.0.1", info["port"].get<int>(), dir.pki() / "ca.crt", token};
}

}  // namespace ticketctl::daemon
