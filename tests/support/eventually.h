#pragma once
// Waiting on state a user could look at, with a deadline, instead of sleeping for it: polls
// `condition` every `poll` (20 ms unless the caller watches something faster, such as a socket
// or a file it just wrote) until it holds or `limit` passes. The tests' only polling loop.
// Header-only.

#include <chrono>
#include <functional>
#include <thread>

namespace ticketctl::testing {

inline bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit,
                       std::chrono::milliseconds poll = std::chrono::milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(poll);
  }
  return condition();
}

}  // namespace ticketctl::testing
