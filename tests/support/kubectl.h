#pragma once
// Real kubectl against a control plane, as a learner types it: through sh, in a directory, with
// the control plane's kubeconfig. Real kubectl is not in Debian's archive; tests that need it
// skip, saying so, where kubectl_installed() is false. Header-only.

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/support/process.h"

namespace ticketctl::testing {

inline bool kubectl_installed() {
  return std::system("command -v kubectl >/dev/null 2>&1") == 0;
}

// `kubectl ARGS` (shell words: quoting, `< file` redirections) run in `cwd` with `kubeconfig`,
// bounded to 60 s. stderr goes through a file in `scratch`.
inline Result kubectl(const std::filesystem::path& kubeconfig, const std::string& args,
                      const std::filesystem::path& cwd, const std::filesystem::path& scratch) {
  const std::filesystem::path err = scratch / "kubectl.err";
  const std::string line = "cd '" + cwd.string() + "' && KUBECONFIG='" + kubeconfig.string() +
                           "' timeout 60 kubectl " + args + " 2>'" + err.string() + "'";
  Result r;
  FILE* p = ::popen(line.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.err = slurp(err);
  return r;
}

}  // namespace ticketctl::testing
