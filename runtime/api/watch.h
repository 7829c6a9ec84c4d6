#pragma once
// Watches: the store's committed changes kept in a bounded in-memory log, so a client can
// resume from a resourceVersion (410 Gone when it has fallen out of the log, as etcd compaction
// makes a real API server say), filtered by resource, namespace and selectors.
// Threads: publish() from store writers (under the store lock); next() from any number of
// request threads; stop() from the owner.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/api/selector.h"
#include "runtime/store/store.h"

namespace ticketctl::api {

struct WatchFilter {
  std::string resource;  // store key, "deployments.apps"; empty: every resource (the dashboard)
  std::string ns;        // empty: all namespaces
  Selector labels;
  Selector fields;
  bool matches(const store::Event& e) const;
};

class WatchHub {
 public:
  explicit WatchHub(size_t capacity = 10000) : capacity_(capacity) {}

  void publish(const store::Event& e);
  // Changes up to `rv` happened before this hub existed (before a restart): a watch from an
  // older resourceVersion gets 410 Gone and re-lists instead of silently missing them.
  void start_after(int64_t rv);

  enum class Wait { Events, Timeout, Gone, Stopped };
  // Appends to `lines` the watch events ({"type":"ADDED","object":{...}}) after `after_rv` that
  // match, waiting up to `timeout` for the first; advances `after_rv` past what it looked at.
  Wait next(int64_t& after_rv, const WatchFilter& filter, std::chrono::milliseconds timeout,
            std::vector<std::string>& lines);
  void stop();

 private:
  struct Entry {
    int64_t rv;
    store::Event event;
  };
  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Entry> log_;
  int64_t evicted_up_to_ = 0;  // the highest resourceVersion no longer in the log
  bool stopped_ = false;
};

// {"type": "ADDED", "object": ...} as one line of a watch stream.
std::string watch_line(std::string_view type, const Json& object);

}  // namespace ticketctl::api
