#pragma once
// The command table: one row per verb. Each verb declares its flags on its own CLI11
// subcommand and returns the handler that runs once they are parsed.

#include <CLI/CLI.hpp>

#include <functional>
#include <string_view>

namespace ticketctl::cli {

// Exit codes every verb keeps (docs/commands/README.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // bad input or a server-side error
inline constexpr int kExitUsage = 2;    // the command line itself is wrong

using Handler = std::function<int()>;

struct Verb {
  std::string_view name;
  std::string_view summary;
  Handler (*attach)(CLI::App& verb);
  std::string_view examples;  // lines a user can type, shown under "Examples:" in --help
};

Handler attach_validate(CLI::App& verb);
Handler attach_convert(CLI::App& verb);
Handler attach_version(CLI::App& verb);
Handler attach_up(CLI::App& verb);
Handler attach_down(CLI::App& verb);
Handler attach_apply(CLI::App& verb);
Handler attach_get(CLI::App& verb);
Handler attach_delete(CLI::App& verb);
Handler attach_create(CLI::App& verb);
Handler attach_status(CLI::App& verb);
Handler attach_dashboard(CLI::App& verb);
Handler attach_describe(CLI::App& verb);
Handler attach_config(CLI::App& verb);
Handler attach_ingress(CLI::App& verb);
Handler attach_rollout(CLI::App& verb);
Handler attach_scale(CLI::App& verb);
Handler attach_label(CLI::App& verb);
Handler attach_annotate(CLI::App& verb);
Handler attach_patch(CLI::App& verb);
Handler attach_set(CLI::App& verb);
Handler attach_edit(CLI::App& verb);
Handler attach_explain(CLI::App& verb);
Handler attach_wait(CLI::App& verb);
Handler attach_test(CLI::App& verb);
Handler attach_logs(CLI::App& verb);
Handler attach_tap(CLI::App& verb);
Handler attach_port_forward(CLI::App& verb);
Handler attach_exec(CLI::App& verb);
Handler attach_build(CLI::App& verb);
Handler attach_dev(CLI::App& verb);
Handler attach_init(CLI::App& verb);
Handler attach_new(CLI::App& verb);

int run(int argc, char** argv);

}  // namespace ticketctl::cli
