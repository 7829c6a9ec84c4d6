#pragma once
// The request-head rules and byte formatting of the ingress proxy that need no Boost: version
// and Host checks, request ids, header-field and chunk framing text. Plain C++ so that the Beast
// unit (proxy.cpp) stays as small as it can and these are unit-testable on their own.

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace ticketctl::ingress {

// Whether a request head's first line ends in a well-formed HTTP version (HTTP/DIGIT.DIGIT)
// other than 1.0 and 1.1. Beast refuses those as a bad version like any garbage; they deserve
// 505, as RFC 9110 15.6.6 says.
bool unsupported_version(std::string_view head);

std::string lower(std::string_view s);

// 32 random hex digits into `id` (its capacity reused).
void make_request_id(std::string& id);

// Host header → lower-case host without port, into `out` (whose capacity is reused); false when
// it is not a plausible host.
bool normalize_host(std::string_view v, std::string& out);

// The small appenders below run for every header field and chunk: inline, as they were in
// proxy.cpp, so the split costs the data path no call.
inline void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

inline void append_port(std::string& out, uint16_t port) {
  char tmp[8];
  const auto r = std::to_chars(tmp, tmp + sizeof tmp, port);
  out.append(tmp, r.ptr);
}

inline void append_chunk_header(std::string& out, std::size_t n) {
  char tmp[24];
  const int len = std::snprintf(tmp, sizeof tmp, "%zx\r\n", n);
  out.append(tmp, static_cast<std::size_t>(len));
}

}  // namespace ticketctl::ingress
