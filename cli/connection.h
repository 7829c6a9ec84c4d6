#pragma once
// The --state-dir flag of every verb that talks to a control plane, and the client it yields.

#include <CLI/CLI.hpp>

#include <string>

#include "runtime/api/client.h"
#include "runtime/daemon/state_dir.h"

namespace ticketctl::cli {

struct StateDirArg {
  std::string flag;
  void attach(CLI::App& verb);
  // The resolved, trusted state directory; a Fatal (exit 1, the path and the fix) when it is
  // not the invoking user's alone.
  daemon::StateDir dir() const;
  Result<api::ApiClient> connect() const;
};

}  // namespace ticketctl::cli
