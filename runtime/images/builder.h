#pragma once
// The control plane's image builds. The kubelet asks gate() before it starts a container: the
// first time an image is asked for, its build plan (build_plan.h) is queued and runs (when its
// inputs changed since its last build, build.h) on a pool of workers bounded by the machine's
// cores, so a fresh clone installs every service's dependencies in parallel while its pods wait
// (ContainerCreating); a failed build makes them wait with reason BuildFailed and the output's
// last lines, until a build succeeds (`ticketctl build`). Progress lines (steps not run, starts,
// every few seconds the builds still running and for how long, outcomes) go to `report`.
// gate() and stop() from any thread; `report` and `on_done` are called on the builder's threads.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/images/build_plan.h"
#include "runtime/project/config.h"

namespace ticketctl::images {

// Why a container may not start yet: a pod waiting reason and message.
struct BuildWait {
  std::string reason;
  std::string message;
};

struct BuilderOptions {
  project::Config project;
  std::filesystem::path records_dir;        // <state dir>/builds
  std::vector<std::filesystem::path> skip;  // left out of inputs hashes (the state directory)
  size_t workers = 0;                       // 0: one per core
  std::chrono::milliseconds progress_every{10000};
  std::function<void(const std::string& line)> report;
  std::function<void()> on_done;  // a build ended: waiting pods may start
};

class Builder {
 public:
  explicit Builder(BuilderOptions options);
  ~Builder();
  Builder(const Builder&) = delete;
  Builder& operator=(const Builder&) = delete;

  // nullopt: the image's containers may start (built, up to date, or nothing to build).
  std::optional<BuildWait> gate(const std::string& image);
  // Ends running builds (SIGTERM to their process groups; nothing is recorded for them) and
  // joins the threads.
  void stop();

 private:
  enum class State { Queued, Running, Done };
  struct Job {
    std::string image, key;
    BuildPlan plan;
    State state = State::Queued;
    bool started = false;  // its commands run (it was not up to date)
    std::chrono::steady_clock::time_point since;
    std::atomic<pid_t> group{0};
  };
  void work();
  void tick();
  void run_job(Job& job);
  void say(const std::string& line) const;

  BuilderOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::unique_ptr<Job>> jobs_;  // by build key
  std::deque<Job*> queue_;
  bool stopping_ = false;
  std::atomic<bool> cancelled_{false};
  std::vector<std::thread> threads_;
};

}  // namespace ticketctl::images
