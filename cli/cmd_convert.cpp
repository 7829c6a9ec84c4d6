#include <iostream>

#include "cli/commands.h"
#include "cli/manifest_args.h"
#include "runtime/manifest/yaml_writer.h"

namespace ticketctl::cli {

Handler attach_convert(CLI::App& verb) {
  auto args = std::make_shared<ManifestArgs>();
  auto output = std::make_shared<std::string>("yaml");
  args->attach(verb);
  verb.add_option("-o,--output", *output, "Output format: yaml or json")
      ->check(CLI::IsMember({"yaml", "json"}))
      ->capture_default_str();
  verb.footer(
      "Legacy Ingress objects (extensions/v1beta1, networking.k8s.io/v1beta1) are rewritten as\n"
      "networking.k8s.io/v1; every other object is printed as read. Nothing is printed when any\n"
      "manifest has an error. Comments are not kept.");
  return [args, output] {
    const manifest::LoadResult r = args->load();
    print_diagnostics(r.diagnostics, std::cerr);
    if (r.diagnostics.has_errors()) return kExitFailure;
    if (*output == "json") {
      Json list = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", Json::array()}};
      for (const auto& o : r.objects) list["items"].push_back(o.body);
      std::cout << list.dump(2) << '\n';
      return kExitOk;
    }
    for (size_t i = 0; i < r.objects.size(); ++i) {
      if (i) std::cout << "---\n";
      std::cout << manifest::to_yaml(r.objects[i].body);
    }
    return kExitOk;
  };
}

}  // namespace ticketctl::cli
