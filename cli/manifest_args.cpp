#include "cli/manifest_args.h"

#include <iostream>

namespace ticketctl::cli {

void ManifestArgs::attach(CLI::App& verb) {
  verb.add_option("-f,--filename", paths,
                  "File, directory or glob of manifests ('-' reads stdin); repeatable")
      ->required()
      ->allow_extra_args(false);
  verb.add_flag("-R,--recursive", recursive,
                "Also read the subdirectories of directories given with -f");
  verb.add_option("-n,--namespace", ns, "Namespace of objects that do not name one")
      ->capture_default_str();
}

manifest::LoadResult ManifestArgs::load() const {
  manifest::LoadOptions options;
  options.recursive = recursive;
  options.default_namespace = ns;
  return manifest::load_manifests(paths, options, std::cin);
}

void print_diagnostics(const Diagnostics& diags, std::ostream& out) {
  for (const Diagnostic& d : diags.items()) out << d.to_string() << '\n';
}

}  // namespace ticketctl::cli
