#include "runtime/api/watch.h"

#include <algorithm>

namespace ticketctl::api {
namespace {

std::string_view type_name(store::Event::Type t) {
  switch (t) {
    case store::Event::Type::Added:
      return "ADDED";
    case store::Event::Type::Modified:
      return "MODIFIED";
    case store::Event::Type::Deleted:
      return "DELETED";
  }
  return "MODIFIED";
}

int64_t rv_of(const Json& object) {
  const auto& meta = object["metadata"];
  auto it = meta.find("resourceVersion");
  return it != meta.end() && it->is_string() ? std::stoll(it->get<std::string>()) : 0;
}

}  // namespace

std::string watch_line(std::string_view type, const Json& object) {
  return Json{{"type", type}, {"object", object}}.dump() + "\n";
}

bool WatchFilter::matches(const store::Event& e) const {
  if (!resource.empty() && e.resource != resource) return false;
  const Json& meta = e.object["metadata"];
  if (!ns.empty() && meta.value("namespace", "") != ns) return false;
  return api::matches(labels, meta.value("labels", Json::object())) &&
         matches_fields(fields, e.object);
}

void WatchHub::publish(const store::Event& e) {
  {
    std::lock_guard<std::mutex> l(mu_);
    log_.push_back({rv_of(e.object), e});
    while (log_.size() > capacity_) {
      evicted_up_to_ = log_.front().rv;
      log_.pop_front();
    }
  }
  cv_.notify_all();
}

void WatchHub::start_after(int64_t rv) {
  std::lock_guard<std::mutex> l(mu_);
  evicted_up_to_ = std::max(evicted_up_to_, rv);
}

WatchHub::Wait WatchHub::next(int64_t& after_rv, const WatchFilter& filter,
                              std::chrono::milliseconds timeout, std::vector<std::string>& lines) {
  std::unique_lock<std::mutex> l(mu_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (stopped_) return Wait::Stopped;
    if (after_rv < evicted_up_to_) return Wait::Gone;
    for (const Entry& e : log_) {
      if (e.rv <= after_rv) continue;
      after_rv = e.rv;
      if (filter.matches(e.event))
        lines.push_back(watch_line(type_name(e.event.type), e.event.object));
    }
    if (!lines.empty()) return Wait::Events;
    if (cv_.wait_until(l, deadline) == std::cv_status::timeout) return Wait::Timeout;
  }
}

void WatchHub::stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
}

}  // namespace ticketctl::api
