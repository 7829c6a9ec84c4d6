#pragma once
// The dashboard's merged log stream: every pod's current run followed at once, as pods/log
// follows one (api/pod_logs.h LogReader over the kubelet's files), so the page gets one stream
// across pods. Pods present when the stream opens start at their last `tail` lines; pods and
// runs that appear later start at their beginning, so nothing they write is missed.
// Threads: one follower belongs to the one request that streams it.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "runtime/logs/pod_logs.h"
#include "runtime/manifest/json.h"

namespace ticketctl::dashboard {

class LogFollower {
 public:
  LogFollower(std::filesystem::path pods_dir, int64_t tail)
      : pods_dir_(std::move(pods_dir)), tail_(tail) {}

  // Follows the runs of `pods` (a pod List's items) not followed yet; forgets pods now gone.
  void track(const Json& pods);
  // Appends [pod, line] pairs of every line written since the last call, at most `max_lines`
  // (the rest waits for the next call); returns how many were added.
  size_t poll(Json& out, size_t max_lines);

 private:
  struct Followed {
    std::string pod;
    std::unique_ptr<logs::LogReader> reader;
    std::string partial;  // text after the last '\n'
  };
  std::filesystem::path pods_dir_;
  int64_t tail_;
  bool first_track_ = true;
  std::map<std::string, Followed> followed_;  // key: uid/container/restartCount
  std::set<std::string> ended_;               // runs read to their end
};

}  // namespace ticketctl::dashboard
