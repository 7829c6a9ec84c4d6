#pragma once
// Which loopback addresses already have sockets on this machine (/proc/net/tcp and tcp6, IPv4
// and IPv4-mapped entries, any state). Several projects' control planes share 127/8: pod IPs and
// ClusterIPs are chosen among addresses nobody uses, so side-by-side projects never collide.
// Reads /proc; any thread.

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string_view>

namespace ticketctl::net {

// Host-order IPv4 addresses in 127.0.0.0/8 (except 127.0.0.1) bound by some TCP socket.
std::set<uint32_t> loopback_addresses_in_use();

// loopback_addresses_in_use(), read again only when the last reading is older than `max_age`.
// A batch of writes (hundreds of Services or pods) reads the tables once, not once each; an
// address another project took since then is at most `max_age` old. Not thread-safe: one owner.
class RecentLoopbackAddresses {
 public:
  explicit RecentLoopbackAddresses(
      std::chrono::steady_clock::duration max_age = std::chrono::seconds(1))
      : max_age_(max_age) {}
  const std::set<uint32_t>& get();

 private:
  std::chrono::steady_clock::duration max_age_;
  std::optional<std::chrono::steady_clock::time_point> read_;
  std::set<uint32_t> addresses_;
};

// A stable offset in [0, buckets) for a project, so projects start allocating in different
// places of the shared ranges.
uint32_t project_offset(std::string_view project_key, uint32_t buckets);

}  // namespace ticketctl::net
