#include "runtime/images/builder.h"

#include <signal.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>

#include "runtime/core/files.h"
#include "runtime/images/build.h"
#include "runtime/images/resolver.h"
#include "runtime/manifest/reasons.h"

namespace ticketctl::images {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

std::string seconds(Clock::duration d) {
  return fmt::format("{:.1f}s", std::chrono::duration<double>(d).count());
}

bool from_dockerfile(const BuildPlan& plan) {
  return plan.origin.ends_with("Dockerfile");
}

std::string what(const BuildPlan& plan) {
  std::vector<std::string> parts;
  for (const BuildCommand& c : plan.commands)
    parts.push_back(fmt::format("{} (in {})", c.text, c.dir.string()));
  return fmt::format("{}", fmt::join(parts, "; "));
}

// The last lines worth showing of a failed build's output.
std::string tail(const std::vector<std::string>& lines, size_t n) {
  std::vector<std::string> kept;
  for (auto it = lines.rbegin(); it != lines.rend() && kept.size() < n; ++it)
    if (it->find_first_not_of(" \t") != std::string::npos) kept.insert(kept.begin(), *it);
  return fmt::format("{}", fmt::join(kept, "\n"));
}

}  // namespace

Builder::Builder(BuilderOptions options) : options_(std::move(options)) {
  size_t n = options_.workers;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  for (size_t i = 0; i < n; ++i) threads_.emplace_back([this] { work(); });
  threads_.emplace_back([this] { tick(); });
}

Builder::~Builder() {
  stop();
}

void Builder::say(const std::string& line) const {
  if (options_.report) options_.report(line);
}

std::optional<BuildWait> Builder::gate(const std::string& image) {
  const project::ImageSetting* setting = find_image_setting(options_.project, image);
  if (!setting) return std::nullopt;
  const std::string key = build_key(image);
  std::unique_lock<std::mutex> lock(mu_);
  auto it = jobs_.find(key);
  if (it == jobs_.end()) {
    auto job = std::make_unique<Job>();
    job->image = image_name(image, false);
    job->key = key;
    job->plan = plan_build(*setting);
    job->state = job->plan.empty() ? State::Done : State::Queued;
    // Said once per image: what its Dockerfile asks for that the host does not get.
    for (const SkippedStep& s : job->plan.skipped)
      say(fmt::format(" - image {}: {}:{}: not run: {}: {}", job->image, job->plan.origin, s.line,
                      s.text, s.why));
    if (!job->plan.skipped.empty())
      say(
          fmt::format("   (to run something else for it, set `images: {{{}: {{build: [...]}}}}` "
                      "in ticketctl.yaml)",
                      job->image));
    it = jobs_.emplace(key, std::move(job)).first;
    if (it->second->state == State::Queued) {
      queue_.push_back(it->second.get());
      cv_.notify_all();
    }
  }
  const Job& job = *it->second;
  if (job.plan.empty()) return std::nullopt;
  if (job.state != State::Done)
    return BuildWait{
        reasons::kContainerCreating,
        fmt::format("{} image {}: {}",
                    from_dockerfile(job.plan) ? "installing the dependencies of" : "building",
                    job.image, what(job.plan))};
  const BuildRecords records{options_.records_dir, key};
  if (!last_build_failed(records)) return std::nullopt;
  const std::string last = tail(failure_lines(records), 8);
  return BuildWait{reasons::kBuildFailed,
                   fmt::format("the build of image {} failed{}{}\n(fix it, then `ticketctl build`)",
                               job.image, last.empty() ? "" : ":\n", last)};
}

void Builder::work() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Job* job = queue_.front();
    queue_.pop_front();
    job->state = State::Running;
    lock.unlock();
    run_job(*job);
    lock.lock();
    job->state = State::Done;
    cv_.notify_all();  // stop() waits for running jobs
    lock.unlock();
    if (options_.on_done) options_.on_done();
    lock.lock();
  }
}

void Builder::run_job(Job& job) {
  BuildRequest request;
  request.image = job.image;
  request.plan = job.plan;
  request.records = {options_.records_dir, job.key};
  request.retry_failed = false;
  request.skip = options_.skip;
  request.group = &job.group;
  request.cancelled = [this] { return cancelled_.load(); };
  request.on_start = [&] {
    {
      std::lock_guard<std::mutex> l(mu_);
      job.started = true;
      job.since = Clock::now();
    }
    say(fmt::format(" - image {}: {}: {}", job.image,
                    from_dockerfile(job.plan) ? "installing dependencies" : "building",
                    what(job.plan)));
  };
  // The whole output, for when the last lines are not enough.
  // Private like the rest of the state directory: created 0600, then written through.
  (void)make_private_dirs(options_.records_dir);
  (void)write_private_file(options_.records_dir / (job.key + ".log"), "");
  std::ofstream log(options_.records_dir / (job.key + ".log"), std::ios::app);
  const BuildReport report =
      build_if_changed(request, [&](std::string_view line) { log << line << '\n'; });
  const std::string log_hint =
      fmt::format("(whole output: {})", (options_.records_dir / (job.key + ".log")).string());
  switch (report.outcome) {
    case BuildOutcome::UpToDate:
      say(fmt::format(" - image {}: up to date (its build inputs did not change)", job.image));
      break;
    case BuildOutcome::Built:
      say(fmt::format(" - image {}: {} in {}", job.image,
                      from_dockerfile(job.plan) ? "dependencies installed" : "built",
                      seconds(report.took)));
      break;
    case BuildOutcome::FailedBefore:
    case BuildOutcome::Failed:
      if (cancelled_) break;
      say(fmt::format(
          " - image {}: build failed{}: {}; its pods wait (BuildFailed) until "
          "`ticketctl build` succeeds {}",
          job.image,
          report.outcome == BuildOutcome::Failed ? " after " + seconds(report.took)
                                                 : " before, and its inputs did not change since",
          report.message, log_hint));
      for (const std::string& line : report.last_lines) say("    > " + line);
      break;
  }
}

void Builder::tick() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    // The workers share the condition variable: only the deadline or stop() ends this wait.
    if (cv_.wait_until(lock, Clock::now() + options_.progress_every, [this] { return stopping_; }))
      return;
    std::vector<std::string> running;
    const auto now = Clock::now();
    for (const auto& [key, job] : jobs_)
      if (job->state == State::Running && job->started)
        running.push_back(fmt::format("{} ({:.0f}s)", job->image,
                                      std::chrono::duration<double>(now - job->since).count()));
    if (running.empty()) continue;
    lock.unlock();
    say(fmt::format(" - still building: {}", fmt::join(running, ", ")));
    lock.lock();
  }
}

void Builder::stop() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    cancelled_ = true;
    cv_.notify_all();
    // Signalled again each round: a build may have spawned its process just after a round.
    const auto running = [this] {
      return std::any_of(jobs_.begin(), jobs_.end(),
                         [](const auto& j) { return j.second->state == State::Running; });
    };
    while (running()) {
      for (const auto& [key, job] : jobs_)
        if (const pid_t g = job->group.load(); g > 0) ::kill(-g, SIGTERM);
      cv_.wait_for(lock, std::chrono::milliseconds(100));
    }
  }
  for (std::thread& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

}  // namespace ticketctl::images
