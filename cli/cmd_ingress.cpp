#include <iostream>

#include "cli/commands.h"
#include "cli/connection.h"
#include "runtime/daemon/ingress.h"

namespace ticketctl::cli {

// `ticketctl ingress ca`: where the local CA is, and how to make curl and browsers trust the
// certificates the ingress serves for each Ingress host.
Handler attach_ingress(CLI::App& verb) {
  verb.require_subcommand(1);
  auto state = std::make_shared<StateDirArg>();
  CLI::App* ca = verb.add_subcommand("ca", "Print the local CA's path and how to trust it");
  state->attach(*ca);
  CLI::App* ports = verb.add_subcommand("ports", "Print where the running ingress listens");
  state->attach(*ports);
  verb.footer(
      "The ingress serves each Ingress host a certificate signed by the state directory's CA\n"
      "(or the kubernetes.io/tls Secret the Ingress names under tls:).");
  return [state, ca, ports] {
    const daemon::StateDir dir = state->dir();
    if (ports->parsed()) {
      Result<daemon::IngressPorts> p = daemon::read_ingress_ports(dir);
      if (!p.ok()) {
        std::cerr << "ticketctl ingress ports: " << p.error().message << '\n';
        return kExitFailure;
      }
      if (p.value().http > 0)
        std::cout << "http://" << p.value().address << ':' << p.value().http << '\n';
      if (p.value().https > 0)
        std::cout << "https://" << p.value().address << ':' << p.value().https << '\n';
      return kExitOk;
    }
    (void)ca;
    const auto file = dir.pki() / "ca.crt";
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) {
      std::cerr << "ticketctl ingress ca: " << file.string()
                << " does not exist yet: `ticketctl up` creates it on its first start\n";
      return kExitFailure;
    }
    const std::string path = file.string();
    std::cout << path << "\n\n"
              << "curl:      curl --cacert " << path << " https://HOST:8443/\n"
              << "           (or: export CURL_CA_BUNDLE=" << path << ")\n"
              << "Chromium:  Settings > Privacy and security > Security > Manage certificates >\n"
              << "           Authorities > Import " << path << ", trust it for websites; or:\n"
              << "           certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n ticketctl -i " << path
              << '\n'
              << "Firefox:   Settings > Privacy & Security > Certificates > View Certificates >\n"
              << "           Authorities > Import " << path << ", trust it to identify websites\n"
              << "System:    sudo cp " << path
              << " /usr/local/share/ca-certificates/ticketctl.crt && sudo update-ca-certificates\n";
    return kExitOk;
  };
}

}  // namespace ticketctl::cli
