#pragma once
// What a Dockerfile says about the process its image runs: the final stage's WORKDIR, ENV,
// ENTRYPOINT and CMD (exec and shell forms), with ARG defaults and $VAR substitution; and, in
// order, the final stage's COPY, ADD and RUN steps, from which build_plan derives the image's
// dependency install. Pure; any thread.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/core/result.h"

namespace ticketctl::images {

// One COPY, ADD or RUN of the final stage, with the WORKDIR and ENV/ARG values in effect.
struct BuildStep {
  int line = 0;
  std::string keyword;  // COPY, ADD or RUN
  std::string workdir;  // absolute in the image; "/" when none was set
  // COPY/ADD: the sources then the destination (flags removed). RUN: the exec form's argv.
  std::vector<std::string> words;
  std::string shell;  // RUN in shell form: its command line
  std::string from;   // COPY --from=STAGE: not from the context
  std::vector<std::pair<std::string, std::string>> env;
};

struct Dockerfile {
  std::string workdir;  // as written (absolute in the image); empty when not set
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<BuildStep> steps;
};

// `file` names the Dockerfile in error messages ("services/posts/Dockerfile:7: ...").
Result<Dockerfile> parse_dockerfile(std::string_view text, const std::string& file);

}  // namespace ticketctl::images
