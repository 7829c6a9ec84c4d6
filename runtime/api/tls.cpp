#include "runtime/api/tls.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

#include <cctype>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

namespace ticketctl::api {
namespace {
namespace fs = std::filesystem;

constexpr int kCaDays = 3650;
constexpr int kServerDays = 365;
constexpr int kRenewDays = 30;
constexpr const char* kHost = "localhost";
constexpr const char* kIp = "127.0.0.1";

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using Bignum = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using Extension = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using Store = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using StoreCtx = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;

// A certificate with the private key that matches it.
struct Pair {
  Cert cert;
  Key key;
};

// Everything OpenSSL queued on this thread, oldest first; leaves the queue empty so the next
// failure is not blamed on this one's leftovers.
std::string ssl_reason() {
  std::string out;
  char buf[256];
  while (const unsigned long e = ERR_get_error()) {
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no reason given by OpenSSL" : out;
}

Error ssl_error(std::string_view what, const fs::path& file) {
  return Error{ErrorCode::Internal,
               fmt::format("tls: cannot {} {}: {}", what, file.string(), ssl_reason())};
}

Error sys_error(std::string_view what, const fs::path& file, int err) {
  return Error{err == ENOENT ? ErrorCode::NotFound : ErrorCode::Internal,
               fmt::format("tls: cannot {} {}: {}", what, file.string(), std::strerror(err))};
}

// --- Files -------------------------------------------------------------------------------------

std::optional<Error> ensure_dir(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return std::nullopt;
  if (dir.has_parent_path()) fs::create_directories(dir.parent_path(), ec);
  if (ec) return sys_error("create", dir.parent_path(), ec.value());
  // mkdir itself rather than create_directories: the directory never exists with a wider mode.
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return sys_error("create", dir, errno);
  if (!fs::is_directory(dir, ec)) return sys_error("create", dir, ENOTDIR);
  if (::chmod(dir.c_str(), 0700) != 0) return sys_error("chmod", dir, errno);  // undo the umask
  return std::nullopt;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Makes the renames into dir survive a crash; best effort, as the files themselves are synced.
void sync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// Temp file, fsync, rename: a reader (or a crash) sees the old contents or the new, never half.
std::optional<Error> write_atomically(const fs::path& file, std::string_view data) {
  std::string tmp =
      (file.parent_path() / fmt::format(".{}.XXXXXX", file.filename().string())).string();
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);  // mode 0600
  if (fd < 0) return sys_error("create a temporary file for", file, errno);
  int err = 0;
  errno = 0;
  if (::fchmod(fd, 0600) != 0 || !write_all(fd, data) || ::fsync(fd) != 0)
    err = errno ? errno : EIO;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err == 0 && ::rename(tmp.c_str(), file.c_str()) != 0) err = errno;
  if (err != 0) {
    ::unlink(tmp.c_str());
    return sys_error("write", file, err);
  }
  sync_dir(file.parent_path());
  return std::nullopt;
}

// --- PEM ---------------------------------------------------------------------------------------

// Refuses encrypted keys instead of letting OpenSSL prompt on the terminal for a passphrase.
int no_passphrase(char*, int, int, void*) {
  return -1;
}

Cert parse_cert(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return Cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr) : nullptr);
}

Key parse_key(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return Key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr) : nullptr);
}

std::optional<std::string> bio_contents(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  if (n <= 0 || data == nullptr) return std::nullopt;
  return std::string(data, static_cast<size_t>(n));
}

std::optional<std::string> cert_pem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return std::nullopt;
  return bio_contents(bio.get());
}

// PKCS#8, unencrypted: what both OpenSSL and Go's crypto/tls (kubectl) read.
std::optional<std::string> key_pem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return std::nullopt;
  return bio_contents(bio.get());
}

// Key first: a crash between the two writes leaves a key that does not match the certificate,
// which load_pair rejects, so the pair is re-made rather than half-trusted.
std::optional<Error> save(const Pair& pair, const fs::path& cert_file, const fs::path& key_file) {
  const std::optional<std::string> key = key_pem(pair.key.get());
  if (!key) return ssl_error("encode the key for", key_file);
  if (std::optional<Error> e = write_atomically(key_file, *key)) return e;
  const std::optional<std::string> cert = cert_pem(pair.cert.get());
  if (!cert) return ssl_error("encode the certificate for", cert_file);
  return write_atomically(cert_file, *cert);
}

// The pair on disk, or nothing when either file is missing or unreadable or they do not match.
std::optional<Pair> load_pair(const fs::path& cert_file, const fs::path& key_file) {
  Result<std::string> cert_text = read_file(cert_file);
  Result<std::string> key_text = read_file(key_file);
  if (!cert_text.ok() || !key_text.ok()) return std::nullopt;
  Pair pair{parse_cert(cert_text.value()), parse_key(key_text.value())};
  const bool ok =
      pair.cert && pair.key && X509_check_private_key(pair.cert.get(), pair.key.get()) == 1;
  ERR_clear_error();  // a rejected file is expected, not an error to report later
  if (!ok) return std::nullopt;
  return pair;
}

// --- Checks ------------------------------------------------------------------------------------

bool expires_within(const X509* cert, int days) {
  time_t limit = std::time(nullptr) + static_cast<time_t>(days) * 24 * 60 * 60;
  // X509_cmp_time returns 0 for an unparsable time: treat that as expiring.
  return X509_cmp_time(X509_get0_notAfter(cert), &limit) <= 0;
}

bool verifies(X509* ca, X509* cert) {
  Store store(X509_STORE_new());
  StoreCtx ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ca) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr) != 1)
    return false;
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  return X509_verify_cert(ctx.get()) == 1;
}

// A CA about to expire is as useless to clients as a missing one: replace it while the server
// still starts, rather than issue server certificates that stop verifying within weeks.
bool ca_usable(const Pair& ca) {
  return X509_check_ca(ca.cert.get()) == 1 && !expires_within(ca.cert.get(), kRenewDays);
}

// Also checks the names, so a certificate from a release with other SANs is re-issued.
bool server_usable(const Pair& ca, const Pair& server) {
  X509* cert = server.cert.get();
  const bool ok = verifies(ca.cert.get(), cert) && !expires_within(cert, kRenewDays) &&
                  X509_check_host(cert, kHost, 0, 0, nullptr) == 1 &&
                  X509_check_ip_asc(cert, kIp, 0) == 1;
  ERR_clear_error();
  return ok;
}

// --- Issuing -----------------------------------------------------------------------------------

Key new_key() {
  // The curve name goes through varargs, read back as char*.
  return Key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", const_cast<char*>("P-256")));
}

// 128 random bits: unique across re-issues without keeping a counter on disk.
bool set_random_serial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return false;
  Bignum serial(BN_bin2bn(bytes, sizeof bytes, nullptr));
  if (!serial) return false;
  if (BN_is_zero(serial.get()) && BN_one(serial.get()) != 1) return false;  // must be positive
  return BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert)) != nullptr;
}

// The fields every certificate here has; the caller sets the issuer, extensions, and signs.
Cert new_cert(const char* common_name, EVP_PKEY* key, int days) {
  Cert cert(X509_new());
  if (!cert) return cert;
  X509* c = cert.get();
  const auto* cn = reinterpret_cast<const unsigned char*>(common_name);
  const bool ok = X509_set_version(c, X509_VERSION_3) == 1 && set_random_serial(c) &&
                  X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC, cn, -1,
                                             -1, 0) == 1 &&
                  X509_gmtime_adj(X509_getm_notBefore(c), 0) != nullptr &&
                  X509_time_adj_ex(X509_getm_notAfter(c), days, 0, nullptr) != nullptr &&
                  X509_set_pubkey(c, key) == 1;
  return ok ? std::move(cert) : Cert();
}

bool add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  Extension ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

std::optional<Pair> make_ca() {
  Pair ca{nullptr, new_key()};
  if (!ca.key) return std::nullopt;
  ca.cert = new_cert("ticketctl-ca", ca.key.get(), kCaDays);
  X509* c = ca.cert.get();
  if (!c || X509_set_issuer_name(c, X509_get_subject_name(c)) != 1 ||
      !add_extension(c, c, NID_basic_constraints, "critical,CA:TRUE") ||
      !add_extension(c, c, NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !add_extension(c, c, NID_subject_key_identifier, "hash") ||
      X509_sign(c, ca.key.get(), EVP_sha256()) <= 0)
    return std::nullopt;
  return ca;
}

std::optional<Pair> make_server(const Pair& ca, const char* common_name = "ticketctl-apiserver",
                                const char* names = "DNS:localhost,IP:127.0.0.1") {
  Pair server{nullptr, new_key()};
  if (!server.key) return std::nullopt;
  server.cert = new_cert(common_name, server.key.get(), kServerDays);
  X509* c = server.cert.get();
  X509* issuer = ca.cert.get();
  // digitalSignature is all an ECDSA key does in TLS; keyEncipherment is RSA-only.
  if (!c || X509_set_issuer_name(c, X509_get_subject_name(issuer)) != 1 ||
      !add_extension(c, issuer, NID_basic_constraints, "critical,CA:FALSE") ||
      !add_extension(c, issuer, NID_key_usage, "critical,digitalSignature") ||
      !add_extension(c, issuer, NID_ext_key_usage, "serverAuth") ||
      !add_extension(c, issuer, NID_subject_alt_name, names) ||
      !add_extension(c, issuer, NID_subject_key_identifier, "hash") ||
      !add_extension(c, issuer, NID_authority_key_identifier, "keyid") ||
      X509_sign(c, ca.key.get(), EVP_sha256()) <= 0)
    return std::nullopt;
  return server;
}

}  // namespace

Result<TlsFiles> ensure_tls(const fs::path& dir) {
  ERR_clear_error();
  if (std::optional<Error> e = ensure_dir(dir)) return *e;
  const fs::path ca_cert = dir / "ca.crt", ca_key = dir / "ca.key";
  const TlsFiles files{ca_cert, dir / "server.crt", dir / "server.key"};

  std::optional<Pair> ca = load_pair(ca_cert, ca_key);
  bool new_ca = false;
  if (!ca || !ca_usable(*ca)) {
    ca = make_ca();
    if (!ca) return ssl_error("create the CA for", ca_cert);
    if (std::optional<Error> e = save(*ca, ca_cert, ca_key)) return *e;
    new_ca = true;
  }

  // A new CA means every old server certificate is worthless: skip reading it.
  std::optional<Pair> server;
  if (!new_ca) server = load_pair(files.server_cert, files.server_key);
  if (server && server_usable(*ca, *server)) return files;
  server = make_server(*ca);
  if (!server) return ssl_error("issue the server certificate", files.server_cert);
  if (std::optional<Error> e = save(*server, files.server_cert, files.server_key)) return *e;
  return files;
}

Result<std::pair<std::string, std::string>> issue_host_certificate(const fs::path& dir,
                                                                   const std::string& host) {
  ERR_clear_error();
  std::optional<Pair> ca = load_pair(dir / "ca.crt", dir / "ca.key");
  if (!ca) return ssl_error("read the CA from", dir / "ca.crt");
  // Only DNS names go into a SAN: anything else would make OpenSSL's config parser misread it.
  for (char ch : host)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '.' && ch != '*')
      return Error{ErrorCode::Invalid, fmt::format("{:?} is not a host name", host)};
  const std::string san = "DNS:" + host;
  std::optional<Pair> cert = make_server(*ca, host.c_str(), san.c_str());
  if (!cert) return ssl_error("issue a certificate for " + host + " from", dir / "ca.crt");
  std::optional<std::string> cert_text = cert_pem(cert->cert.get());
  std::optional<std::string> key_text = key_pem(cert->key.get());
  if (!cert_text || !key_text) return ssl_error("encode the certificate in", dir);
  return std::pair{*cert_text, *key_text};
}

bool bearer_token_matches(std::string_view header, std::string_view token) {
  constexpr std::string_view kScheme = "Bearer ";
  return header.size() == kScheme.size() + token.size() && header.starts_with(kScheme) &&
         CRYPTO_memcmp(header.data() + kScheme.size(), token.data(), token.size()) == 0;
}

std::string random_token() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // No fallback: a guessable token would hand the API to every local user.
    std::fprintf(stderr, "ticketctl: RAND_bytes failed: %s\n", ssl_reason().c_str());
    std::abort();
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  token.reserve(2 * sizeof bytes);
  for (const unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 0xf];
  }
  return token;
}

Result<std::string> read_file(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sys_error("read", file, errno);
  std::string out;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return sys_error("read", file, err);
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace ticketctl::api
