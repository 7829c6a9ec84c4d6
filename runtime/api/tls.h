#pragma once
// TLS material for the local API server: a CA and a server certificate kept in the state
// directory (created on first start, reused afterwards), and the API's bearer token.
// Owns no state; any thread may call these. Two processes must not run ensure_tls on one
// directory at once: the control plane holds the state directory's lock while it does.

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include "runtime/core/result.h"

namespace ticketctl::api {

struct TlsFiles {
  std::filesystem::path ca_cert;      // PEM, the CA clients trust
  std::filesystem::path server_cert;  // PEM, signed by the CA, SAN IP:127.0.0.1, DNS:localhost
  std::filesystem::path server_key;   // PEM private key
};

// Creates dir/ca.crt, dir/ca.key, dir/server.crt, dir/server.key on first call (all mode 0600;
// dir is created 0700 if missing) and reuses them afterwards. A server certificate that no longer
// verifies against the CA, expires within 30 days, or is unreadable is re-issued from the CA; a
// missing or unreadable CA makes a new CA and a new server certificate.
Result<TlsFiles> ensure_tls(const std::filesystem::path& dir);

// A certificate and key (PEM) for one host name, signed by the CA in `dir` (ensure_tls made it):
// what the ingress serves for each Ingress host, so browsers that trust the CA accept it.
Result<std::pair<std::string, std::string>> issue_host_certificate(const std::filesystem::path& dir,
                                                                   const std::string& host);

// 32 random bytes (RAND_bytes) as 64 lowercase hex characters: the API's bearer token.
std::string random_token();

// Whether an Authorization header is "Bearer <token>", compared in constant time so the token
// cannot be guessed byte by byte from response times.
bool bearer_token_matches(std::string_view header, std::string_view token);

// The file's contents, for embedding as certificate-authority-data in a kubeconfig.
Result<std::string> read_file(const std::filesystem::path& file);

}  // namespace ticketctl::api
