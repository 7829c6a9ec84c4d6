#include <iostream>

#include "cli/commands.h"
#include "cli/manifest_args.h"
#include "runtime/manifest/json.h"

namespace ticketctl::cli {
namespace {

Json diagnostic_json(const Diagnostic& d) {
  return {{"file", d.pos.file}, {"line", d.pos.line}, {"column", d.pos.column},
          {"object", d.object}, {"field", d.field},   {"message", d.message}};
}

int print_json(const manifest::LoadResult& r) {
  Json out = {{"valid", !r.diagnostics.has_errors()},
              {"files", r.files},
              {"documents", r.documents},
              {"objects", Json::array()},
              {"errors", Json::array()},
              {"warnings", Json::array()}};
  for (const auto& o : r.objects) {
    out["objects"].push_back({{"apiVersion", o.api_version},
                              {"kind", o.kind},
                              {"namespace", o.ns},
                              {"name", o.name},
                              {"file", o.pos.file},
                              {"line", o.pos.line}});
  }
  for (const Diagnostic& d : r.diagnostics.items())
    out[d.severity == Severity::Error ? "errors" : "warnings"].push_back(diagnostic_json(d));
  std::cout << out.dump(2) << '\n';
  return r.diagnostics.has_errors() ? kExitFailure : kExitOk;
}

}  // namespace

Handler attach_validate(CLI::App& verb) {
  auto args = std::make_shared<ManifestArgs>();
  auto output = std::make_shared<std::string>();
  args->attach(verb);
  verb.add_option("-o,--output", *output, "Output format: json or name")
      ->check(CLI::IsMember({"json", "name"}));
  verb.footer(
      "Exit status: 0 when every object is valid (warnings allowed), 1 when any error was found.\n"
      "Errors are printed to stderr as file:line:column: error: Kind namespace/name: field: "
      "message.");
  return [args, output] {
    const manifest::LoadResult r = args->load();
    if (*output == "json") return print_json(r);
    print_diagnostics(r.diagnostics, std::cerr);
    if (*output == "name") {
      for (const auto& o : r.objects) std::cout << o.kubectl_name() << '\n';
    }
    const size_t errors = r.diagnostics.error_count(), warnings = r.diagnostics.warning_count();
    if (errors > 0) {
      std::cerr << errors << (errors == 1 ? " error" : " errors") << ", " << warnings
                << (warnings == 1 ? " warning" : " warnings") << " in " << r.files
                << (r.files == 1 ? " file" : " files") << '\n';
      return kExitFailure;
    }
    if (output->empty()) {
      std::cout << r.objects.size() << (r.objects.size() == 1 ? " object" : " objects") << " in "
                << r.files << (r.files == 1 ? " file" : " files") << " valid";
      if (warnings > 0)
        std::cout << " (" << warnings << (warnings == 1 ? " warning)" : " warnings)");
      std::cout << '\n';
    }
    return kExitOk;
  };
}

}  // namespace ticketctl::cli
