#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/api_verbs.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "runtime/api/resources.h"
#include "runtime/supervisor/kubelet.h"

namespace ticketctl::cli {
namespace fs = std::filesystem;

Handler attach_status(CLI::App& verb) {
  auto state = std::make_shared<StateDirArg>();
  state->attach(verb);
  verb.footer("Exit status: 0 when the control plane runs, 1 when it does not (or is stopping).");
  return [state] {
    const daemon::StateDir dir = state->dir();
    Result<api::Connection> conn = daemon::connection_for(dir);
    if (!conn.ok()) {
      // The API closes first when a control plane stops; it holds the lock until it is gone.
      const int lock = ::open(dir.lock().c_str(), O_RDONLY | O_CLOEXEC);
      const bool stopping = lock >= 0 && ::flock(lock, LOCK_SH | LOCK_NB) != 0;
      std::string pid;
      if (stopping) std::getline(std::ifstream(dir.lock()), pid);
      if (lock >= 0) ::close(lock);
      std::cout << "state directory: " << dir.root.string()
                << "\ncontrol plane:   " << (stopping ? "stopping, pid " + pid : "not running")
                << '\n';
      if (fs::exists(dir.operator_log()))
        std::cout << "operator log:    " << dir.operator_log().string() << '\n';
      // A killed control plane leaves its pods running.
      size_t left = 0;
      for (const supervisor::RecordedRun& r : supervisor::recorded_runs(dir.root / "pods"))
        left += r.alive ? 1 : 0;
      if (left > 0)
        std::cout << "containers:      " << left
                  << " still running (`ticketctl up` adopts them, `ticketctl down` stops them)\n";
      return kExitFailure;
    }
    std::ifstream info_file(dir.apiserver());
    std::stringstream buf;
    buf << info_file.rdbuf();
    const Json info = Json::parse(buf.str(), nullptr, false);
    api::ApiClient client(conn.value());
    std::cout << "state directory: " << dir.root.string() << '\n'
              << "control plane:   running, pid " << info.value("pid", 0) << '\n'
              << "API:             https://127.0.0.1:" << conn.value().port << '\n'
              << "kubeconfig:      " << dir.kubeconfig().string() << '\n'
              << "operator log:    " << dir.operator_log().string() << '\n'
              << "objects:\n";
    for (const api::Resource& r : api::all_resources()) {
      Result<Json> list = client.get(r.path(""));
      if (!list.ok()) {
        std::cerr << server_error(list.error()) << '\n';
        return kExitFailure;
      }
      std::cout << "  " << r.plural << ": " << list.value()["items"].size() << '\n';
    }
    return kExitOk;
  };
}

Handler attach_config(CLI::App& verb) {
  verb.require_subcommand(1);
  auto state = std::make_shared<StateDirArg>();
  auto raw = std::make_shared<bool>(false);
  CLI::App* view = verb.add_subcommand("view", "Print the kubeconfig of the state directory");
  view->add_flag("--raw", *raw, "Show the token and CA data instead of hiding them");
  state->attach(*view);
  verb.footer("Point kubectl at the control plane: export KUBECONFIG=$(ticketctl config path)");
  CLI::App* path = verb.add_subcommand("path", "Print the kubeconfig's path");
  state->attach(*path);
  return [state, raw, path] {
    const daemon::StateDir dir = state->dir();
    if (path->parsed()) {
      std::cout << dir.kubeconfig().string() << '\n';
      return kExitOk;
    }
    std::ifstream in(dir.kubeconfig());
    if (!in) {
      std::cerr << "error: no kubeconfig at " << dir.kubeconfig().string()
                << " (start the control plane with `ticketctl up -d`)\n";
      return kExitFailure;
    }
    std::stringstream buf;
    buf << in.rdbuf();
    std::cout << "# " << dir.kubeconfig().string() << '\n';
    std::istringstream lines(buf.str());
    for (std::string line; std::getline(lines, line);) {
      // As kubectl config view does: secrets are not printed unless asked for.
      if (!*raw && line.find("token: ") != std::string::npos)
        line = line.substr(0, line.find("token: ") + 7) + "REDACTED";
      if (!*raw && line.find("certificate-authority-data: ") != std::string::npos)
        line = line.substr(0, line.find("certificate-authority-data: ") + 28) + "DATA+OMITTED";
      std::cout << line << '\n';
    }
    return kExitOk;
  };
}

}  // namespace ticketctl::cli
