#pragma once
// A project's local settings: ticketctl.yaml (strict: unknown keys are errors with file:line),
// or, in a course repository without one, the manifests skaffold.yaml deploys. Kubernetes never
// reads either. Reads files; any thread.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/core/diagnostics.h"

namespace ticketctl::project {

// How one image runs locally, from ticketctl.yaml `images:` or a skaffold.yaml artifact.
struct ImageSetting {
  std::string source;             // "ticketctl.yaml images.demo/posts", for messages
  std::filesystem::path context;  // absolute; the process's working directory
  std::optional<std::vector<std::string>> command;  // replaces ENTRYPOINT (and CMD)
  std::optional<std::vector<std::string>> args;     // replaces CMD
  std::vector<std::string> build;
  // ticketctl.yaml set `build` (`build: []`: no build, not even the Dockerfile's installs).
  bool build_given = false;
  std::vector<std::pair<std::string, std::string>> env;
  std::filesystem::path dockerfile;  // relative to `context`
  // skaffold.yaml sync.manual[].src: globs (relative to `context`) of files `ticketctl dev`
  // restarts the pods for without rebuilding.
  std::vector<std::string> sync_globs;
  // ticketctl.yaml named a context (else it defaults to the file's directory): `dev` watches
  // only contexts that were named.
  bool context_given = true;
};

struct Config {
  // The file the manifests came from; empty when the directory has neither.
  std::filesystem::path file;
  // Files, directories or globs, relative to `file`'s directory.
  std::vector<std::string> manifests;
  std::map<std::string, ImageSetting> images;     // ticketctl.yaml `images:`, by image name
  std::map<std::string, ImageSetting> artifacts;  // skaffold.yaml build.artifacts, by image
  // restartBackoff: Kubernetes' 10s doubling to 300s unless set.
  std::chrono::milliseconds backoff_initial{10000};
  std::chrono::milliseconds backoff_max{300000};
  // hostEnv: host variables pods inherit besides PATH, HOME, LANG, TZ, TERM.
  std::vector<std::string> host_env;
  // ingress: where the built-in ingress listens (https -1: off).
  std::string ingress_address = "127.0.0.1";
  int ingress_http = 8080;
  int ingress_https = 8443;
  // network: loopback ranges for pod IPs and Service ClusterIPs (base address, prefix length).
  uint32_t pod_cidr = 0x7f500000, service_cidr = 0x7f600000;
  int pod_prefix = 16, service_prefix = 16;
};

// "1s", "500ms", "1m30s" (Go's duration syntax, as Kubernetes tools write durations).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
// "127.80.0.0/16" -> base and prefix length; only ranges inside 127.0.0.0/8 with a prefix of 8..30.
std::optional<std::pair<uint32_t, int>> parse_loopback_cidr(std::string_view text);

// Looks in `dir` for ticketctl.yaml and skaffold.yaml / skaffold.yml: manifests from the first,
// else the second; images from both. Problems go to `diags`.
Config load(const std::filesystem::path& dir, Diagnostics& diags);

}  // namespace ticketctl::project
