#include "cli/connection.h"

namespace ticketctl::cli {

void StateDirArg::attach(CLI::App& verb) {
  verb.add_option("--state-dir", flag,
                  "Control plane state directory (default: $TICKETCTL_HOME, else "
                  "$XDG_STATE_HOME/ticketctl/<current directory name>)");
}

Result<api::ApiClient> StateDirArg::connect() const {
  Result<api::Connection> c = daemon::connection_for(dir());
  if (!c.ok()) return c.error();
  return api::ApiClient(c.value());
}

}  // namespace ticketctl::cli
