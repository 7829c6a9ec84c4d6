#include <iostream>

#include "cli/commands.h"
#include "runtime/manifest/json.h"

namespace ticketctl::cli {
namespace {

constexpr const char* platform() {
#if defined(__x86_64__)
  return "linux/amd64";
#elif defined(__aarch64__)
  return "linux/arm64";
#else
  return "linux/unknown";
#endif
}

}  // namespace

Handler attach_version(CLI::App& verb) {
  auto output = std::make_shared<std::string>();
  verb.add_option("-o,--output", *output, "Output format: json")->check(CLI::IsMember({"json"}));
  return [output] {
    if (*output == "json") {
      Json v = {
          {"clientVersion", {{"gitVersion", "v" TICKETCTL_VERSION}, {"platform", platform()}}}};
      std::cout << v.dump(2) << '\n';
    } else {
      std::cout << "ticketctl v" TICKETCTL_VERSION "\n";
    }
    return kExitOk;
  };
}

}  // namespace ticketctl::cli
