#pragma once
// The app's shared files that `init` and `new service` add to: ticketctl.yaml `images:`,
// skaffold.yaml `build.artifacts`, the Ingress's paths. Each addition is an insertion that keeps
// the user's text (yaml_edit); where that is not safe it becomes a ManualStep with the snippet.
// Reads files through the PlanBuilder; any thread.

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "runtime/core/result.h"
#include "runtime/scaffold/plan.h"

namespace ticketctl::scaffold {

// Every document of a YAML file, parsed (documents that do not parse are skipped).
std::vector<YAML::Node> load_documents(const std::string& text);

// The manifests' YAML files (*.yaml, *.yml) under `dirs` (or named by them), on disk or about to
// be created by the plan, sorted.
std::vector<std::filesystem::path> manifest_files(const PlanBuilder& b,
                                                  const std::vector<std::filesystem::path>& dirs);

// ticketctl.yaml: `image:` with `value` (a YAML mapping's text) under `images:`.
// AlreadyExists when the image has an entry.
Result<bool> add_image(PlanBuilder& b, const std::filesystem::path& file, const std::string& image,
                       const std::string& value);

// skaffold.yaml: one more item in build.artifacts. AlreadyExists when one builds `image`.
Result<bool> add_artifact(PlanBuilder& b, const std::filesystem::path& file,
                          const std::string& image, const std::string& item);

struct IngressTarget {
  std::filesystem::path file;
  size_t document = 0;  // which document of the file
  size_t rule = 0;      // which spec.rules item
  std::string name, host;
  bool regex = false;  // nginx.ingress.kubernetes.io/use-regex: "true"
};

// The Ingress whose rule names `host` (else the first Ingress, its first rule) in `files`.
std::optional<IngressTarget> find_ingress(const PlanBuilder& b,
                                          const std::vector<std::filesystem::path>& files,
                                          const std::string& host);

// One more path in the target rule; AlreadyExists when one has the same `path`.
Result<bool> add_ingress_path(PlanBuilder& b, const IngressTarget& target, const std::string& path,
                              const std::string& item);

// `text` with every non-empty line indented by `spaces`.
std::string indent(const std::string& text, size_t spaces);

}  // namespace ticketctl::scaffold
