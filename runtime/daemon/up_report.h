#pragma once
// What `up` prints while it runs: pods' log lines in the foreground, lines other threads add to
// the report, the readiness gate's view of the store, and where to point a browser.

#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include "runtime/daemon/gate.h"
#include "runtime/daemon/ingress.h"
#include "runtime/store/shared.h"

namespace ticketctl::daemon {

// `up` in the foreground: every log line with its pod's name in front, in a colour of its own
// on a terminal.
class ForegroundPrinter {
 public:
  explicit ForegroundPrinter(std::FILE* out);
  void print(const std::string& pod, const std::string& line, bool is_log);

 private:
  std::FILE* out_;
  bool colour_;
  std::mutex mu_;
  std::map<std::string, int> colours_;
};

// Lines that other threads (the builder's) add to `report`; once `up -d` closed its pipe, to
// stderr (the detached control plane's log).
class ReportLines {
 public:
  explicit ReportLines(std::FILE* out) : out_(out) {}
  void print(const std::string& line);
  void close();

 private:
  std::mutex mu_;
  std::FILE* out_;
};

// The gate's view of the store (each snapshot under the store's lock), and container logs read
// as pods/log serves them.
GateSources store_sources(store::Shared& store, const std::filesystem::path& pods_dir);

// Where to point a browser or curl: one line per Ingress host.
void print_ingress_hosts(store::Shared& store, const IngressPorts& ports, std::FILE* out);

}  // namespace ticketctl::daemon
