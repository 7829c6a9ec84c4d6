#pragma once
// Small string utilities that know nothing about Kubernetes. Pure functions; any thread.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ticketctl {

// Optimal string alignment distance (Levenshtein plus adjacent transpositions), so that
// "contianers" is one edit away from "containers".
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate a user most likely meant by `typed`, if any is close enough to suggest.
std::optional<std::string_view> nearest(std::string_view typed,
                                        std::span<const std::string_view> candidates);

// Standard base64 (RFC 4648, with padding), as Go's encoding/base64.StdEncoding accepts it.
// On bad input returns nullopt and sets `error_offset` to the first offending byte.
std::optional<std::string> base64_decode(std::string_view in, size_t* error_offset = nullptr);
std::string base64_encode(std::string_view in);

// Quotes a string for messages: printable ASCII stays, everything else is escaped like Go's %q.
std::string quote(std::string_view s);

// The offset of the first byte that is not part of well-formed UTF-8 (overlong forms, surrogates
// and code points past U+10FFFF included), or nullopt when all of `s` is.
std::optional<size_t> invalid_utf8_at(std::string_view s);
inline bool valid_utf8(std::string_view s) {
  return !invalid_utf8_at(s);
}

std::string join(const std::vector<std::string>& parts, std::string_view sep);

}  // namespace ticketctl
