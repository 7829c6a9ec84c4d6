#include "runtime/net/host_sockets.h"

#include <fcntl.h>
#include <unistd.h>

#include <sstream>
#include <string>
#include <vector>

namespace ticketctl::net {
namespace {

// /proc/net/tcp writes the address as the 32-bit value in host byte order, as hex.
void read_table(const char* file, bool v6, std::set<uint32_t>& out) {
  // One large read: each read(2) of a seq file walks the kernel's socket hash from the start
  // again, so reading it a few bytes at a time (as a stream does) costs a walk per 4 KiB.
  const int fd = ::open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  std::string text;
  std::vector<char> buf(1 << 20);
  for (ssize_t n; (n = ::read(fd, buf.data(), buf.size())) > 0;)
    text.append(buf.data(), static_cast<size_t>(n));
  ::close(fd);
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local;
    if (!(fields >> slot >> local)) continue;
    const std::string addr = local.substr(0, local.find(':'));
    uint32_t raw = 0;
    if (!v6) {
      if (addr.size() != 8) continue;
      raw = static_cast<uint32_t>(std::stoul(addr, nullptr, 16));
    } else {
      // ::ffff:a.b.c.d is four 32-bit words; the last is the IPv4 address.
      if (addr.size() != 32 || addr.substr(0, 16) != "0000000000000000" ||
          addr.substr(16, 8) != "FFFF0000")
        continue;
      raw = static_cast<uint32_t>(std::stoul(addr.substr(24, 8), nullptr, 16));
    }
    // The kernel prints the network-order bytes as a little-endian word.
    const uint32_t ip =
        ((raw & 0xff) << 24) | ((raw >> 8 & 0xff) << 16) | ((raw >> 16 & 0xff) << 8) | (raw >> 24);
    if ((ip >> 24) == 127 && ip != 0x7f000001) out.insert(ip);
  }
}

}  // namespace

std::set<uint32_t> loopback_addresses_in_use() {
  std::set<uint32_t> out;
  read_table("/proc/net/tcp", false, out);
  read_table("/proc/net/tcp6", true, out);
  return out;
}

const std::set<uint32_t>& RecentLoopbackAddresses::get() {
  const auto now = std::chrono::steady_clock::now();
  if (!read_ || now - *read_ > max_age_) {
    addresses_ = loopback_addresses_in_use();
    read_ = now;
  }
  return addresses_;
}

uint32_t project_offset(std::string_view project_key, uint32_t buckets) {
  uint32_t h = 2166136261u;  // FNV-1a: stable across runs and builds
  for (unsigned char c : project_key) h = (h ^ c) * 16777619u;
  return buckets == 0 ? 0 : h % buckets;
}

}  // namespace ticketctl::net
