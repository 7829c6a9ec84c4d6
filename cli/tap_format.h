#pragma once
// How `ticketctl tap` prints an exchange of the tap stream (runtime/tap/tap_json.h) for a
// person: one line per exchange, and with --body the first KiB of each body under it.
// Pure functions; any thread.

#include <cstdint>
#include <string>

#include "runtime/manifest/json.h"

namespace ticketctl::cli {

// "12:01:02.345  ingress → posts-clusterip-srv/posts-depl-6d5f8-x2k9q  POST /posts/create  201
// 3.1ms  57B→112B", or for a connection "... TCP 1.2KiB→300B 2.3s". Names in namespace `ns`
// are printed without it. The time is the local time of day. Ends without a newline; with
// `bodies`, each body follows on lines of its own ("    > " request, "    < " response).
std::string tap_text(const Json& exchange, const std::string& ns, bool bodies);

// 57 → "57B", 1229 → "1.2KiB", 3 MiB → "3.0MiB".
std::string human_bytes(uint64_t n);

}  // namespace ticketctl::cli
