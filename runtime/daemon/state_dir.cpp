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

Result<fs::path> resolve_state_dir(const std::string& flag) {
  if (!flag.empty()) return fs::absolute(flag);
  if (const char* home = std::getenv("TICKETCTL_HOME"); home && *home) return fs::absolute(home);
  fs::path base;
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg) {
    base = xdg;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    base = fs::path(home) / ".local" / "state";
  } else if (const char* run = std::getenv("XDG_RUNTIME_DIR"); run && *run) {
    base = run;
  } else {
    // A shared fallback such as /tmp would let another user create the directory first.
    return Error{ErrorCode::Invalid,
                 "no state directory: HOME, XDG_STATE_HOME and XDG_RUNTIME_DIR are all unset; "
                 "pass --state-dir DIR or set TICKETCTL_HOME"};
  }
  std::string project = fs::current_path().filename().string();
  if (project.empty()) project = "root";
  return fs::absolute(base / "ticketctl" / project);
}

Result<StateDir> open_state_dir(const std::string& flag) {
  Result<fs::path> root = resolve_state_dir(flag);
  if (!root.ok()) return root.error();
  if (Result<bool> trusted = check_private_tree(root.value(), kPodDataDirs); !trusted.ok())
    return Error{ErrorCode::Invalid,
                 fmt::format("refusing the state directory {}: {}. Remove it, or use another "
                             "with --state-dir or TICKETCTL_HOME",
                             root.value().string(), trusted.error().message)};
  return StateDir{root.value()};
}

Result<api::Connection> connection_for(const StateDir& dir) {
  const std::string not_running = fmt::format(
      "no control plane is running for {} (start one with `ticketctl up -d`)", dir.root.string());
  std::ifstream server(dir.apiserver());
  if (!server) return Error{ErrorCode::NotFound, not_running};
  std::stringstream buf;
  buf << server.rdbuf();
  const Json info = Json::parse(buf.str(), nullptr, false);
  if (info.is_discarded() || !info.is_object() || !json_at(info, "port").is_number_integer() ||
      !json_at(info, "pid").is_number_integer() || info["pid"].get<int64_t>() <= 0 ||
      info["port"].get<int64_t>() <= 0 || info["port"].get<int64_t>() > 65535)
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
