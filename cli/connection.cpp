#include "cli/connection.h"

#include "runtime/core/fatal.h"

namespace ticketctl::cli {

void StateDirArg::attach(CLI::App& verb) {
  verb.add_option("--state-dir", flag,
                  "Control plane state directory (default: $TICKETCTL_HOME, else "
                  "$XDG_STATE_HOME/ticketctl/<current directory name>)");
}

daemon::StateDir StateDirArg::dir() const {
  Result<daemon::StateDir> dir = daemon::open_state_dir(flag);
  if (!dir.ok()) throw Fatal(dir.error().message);
  return dir.value();
}

Result<api::ApiClient> StateDirArg::connect() const {
  Result<api::Connection> c = daemon::connection_for(dir());
  if (!c.ok()) return c.error();
  return api::ApiClient(c.value());
}

}  // namespace ticketctl::cli
