#pragma once
// Waiting on state a user could look at, with a deadline, instead of sleeping for it: polls
// `condition` every 20 ms until it holds or `limit` passes. Header-only.

#include <chrono>
#include <functional>
#include <thread>

namespace ticketctl::testing {

inline bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

}  // namespace ticketctl::testing
