// `dashboard`: asks the running control plane's dashboard (runtime/dashboard) for a one-time
// login link, proving itself with the API's bearer token, and prints it; --open hands it to
// $BROWSER or xdg-open.

#include <httplib.h>
#include <spawn.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "cli/connection.h"
#include "runtime/manifest/json.h"

extern char** environ;

namespace ticketctl::cli {
namespace {

bool on_path(const std::string& program) {
  if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && ::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
  return false;
}

// Starts `program url` without waiting for it (a browser may run for hours); its output goes
// where ours does. Returns whether it could be started.
bool launch(const std::string& program, const std::string& url) {
  std::vector<char*> argv = {const_cast<char*>(program.c_str()), const_cast<char*>(url.c_str()),
                             nullptr};
  pid_t pid = 0;
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  const int rc = posix_spawnp(&pid, program.c_str(), nullptr, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  return rc == 0;
}

}  // namespace

Handler attach_dashboard(CLI::App& verb) {
  auto state = std::make_shared<StateDirArg>();
  auto open = std::make_shared<bool>(false);
  state->attach(verb);
  verb.add_flag("--open", *open, "Open the URL in $BROWSER, else with xdg-open");
  verb.footer(
      "The URL holds a login token that works once, within 10 minutes: the browser that opens it\n"
      "gets a session cookie and the token leaves the address bar. Run the command again for\n"
      "another browser. The dashboard listens on 127.0.0.1 only.");
  return [state, open] {
    const daemon::StateDir dir = state->dir();
    Result<api::Connection> conn = daemon::connection_for(dir);
    if (!conn.ok()) {
      std::cerr << "error: " << conn.error().message << '\n';
      return kExitFailure;
    }
    std::ifstream file(dir.dashboard());
    std::stringstream text;
    text << file.rdbuf();
    const Json info = Json::parse(text.str(), nullptr, false);
    if (!file || !info.is_object() || !json_at(info, "port").is_number_integer()) {
      std::cerr << "error: the control plane does not serve the dashboard (no port in "
                << dir.dashboard().string() << "); see " << dir.operator_log().string() << '\n';
      return kExitFailure;
    }
    const int port = info["port"].get<int>();
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(5);
    client.set_read_timeout(10);
    const httplib::Headers headers = {{"Authorization", "Bearer " + conn.value().token}};
    const auto res = client.Post("/login-token", headers, "", "application/json");
    if (!res) {
      std::cerr << "error: the dashboard on 127.0.0.1:" << port
                << " does not answer: " << httplib::to_string(res.error()) << '\n';
      return kExitFailure;
    }
    const Json body = Json::parse(res->body, nullptr, false);
    if (res->status != 200 || !json_at(body, "token").is_string()) {
      std::cerr << "error: the dashboard on 127.0.0.1:" << port << " refused a login link (HTTP "
                << res->status << ")\n";
      return kExitFailure;
    }
    const std::string url =
        "http://127.0.0.1:" + std::to_string(port) + "/?token=" + body["token"].get<std::string>();
    std::cout << url << '\n';
    if (!*open) return kExitOk;
    const char* browser = std::getenv("BROWSER");
    const std::string program = browser && *browser ? browser : "xdg-open";
    if (!on_path(program)) {
      std::cerr << "cannot open it: "
                << (browser && *browser ? "$BROWSER (" + program + ")"
                                        : "neither $BROWSER nor xdg-open")
                << " is available; open the URL above yourself\n";
      return kExitFailure;
    }
    if (!launch(program, url)) {
      std::cerr << "cannot start " << program << "; open the URL above yourself\n";
      return kExitFailure;
    }
    std::cerr << "opened with " << program << '\n';
    return kExitOk;
  };
}

}  // namespace ticketctl::cli
