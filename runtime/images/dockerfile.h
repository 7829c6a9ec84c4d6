#pragma once
// What a Dockerfile says about the process its image runs: the final stage's WORKDIR, ENV,
// ENTRYPOINT and CMD (exec and shell forms), with ARG defaults and $VAR substitution. COPY, RUN
// and the rest build the image and mean nothing without one. Pure; any thread.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/core/result.h"

namespace ticketctl::images {

struct Dockerfile {
  std::string workdir;  // as written (absolute in the image); empty when not set
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
};

// `file` names the Dockerfile in error messages ("services/posts/Dockerfile:7: ...").
Result<Dockerfile> parse_dockerfile(std::string_view text, const std::string& file);

}  // namespace ticketctl::images
