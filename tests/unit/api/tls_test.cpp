#include "runtime/api/tls.h"

#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

namespace ticketctl::api {
namespace {
namespace fs = std::filesystem;

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Cert = std::unique_ptr<X509, X509Free>;
using Key = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string slurp(const fs::path& file) {
  auto r = read_file(file);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value() : std::string();
}

void spill(const fs::path& file, const std::string& text) {
  std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
}

Cert load_cert(const fs::path& file) {
  const std::string pem = slurp(file);
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  Cert cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  EXPECT_TRUE(cert) << file;
  return cert;
}

Key load_key(const fs::path& file) {
  const std::string pem = slurp(file);
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  Key key(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  EXPECT_TRUE(key) << file;
  return key;
}

bool verifies(X509* ca, X509* cert) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX_init(ctx, store, cert, nullptr);
  const bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return ok;
}

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

// Days from now until the certificate expires.
int days_left(X509* cert) {
  int days = 0, secs = 0;
  EXPECT_EQ(ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(cert)), 1);
  return days;
}

class TlsTest : public ::testing::Test {
 protected:
  TlsFiles ensure(const fs::path& dir) {
    auto r = ensure_tls(dir);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r.value() : TlsFiles{};
  }
  TlsFiles ensure() { return ensure(dir_); }
  ticketctl::testing::TempDir tmp_{"ticketctl-tls"};
  const fs::path& root_ = tmp_.path();
  const fs::path dir_ = root_ / "tls";  // left for ensure_tls to create
};

TEST_F(TlsTest, CreatesPrivateFilesInAPrivateDirectory) {
  const TlsFiles files = ensure();
  EXPECT_EQ(files.ca_cert, dir_ / "ca.crt");
  EXPECT_EQ(files.server_cert, dir_ / "server.crt");
  EXPECT_EQ(files.server_key, dir_ / "server.key");
  EXPECT_EQ(mode_of(dir_), 0700u);
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir_)) {
    ++entries;
    EXPECT_EQ(mode_of(e.path()), 0600u) << e.path();
  }
  EXPECT_EQ(entries, 4);  // no temporary files left behind
  EXPECT_TRUE(fs::exists(dir_ / "ca.key"));
}

TEST_F(TlsTest, ServerCertVerifiesAgainstTheCaAndNamesLoopback) {
  const TlsFiles files = ensure();
  Cert ca = load_cert(files.ca_cert);
  Cert server = load_cert(files.server_cert);
  Key key = load_key(files.server_key);
  ASSERT_TRUE(ca && server && key);

  EXPECT_TRUE(verifies(ca.get(), server.get()));
  EXPECT_EQ(X509_check_ip_asc(server.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_host(server.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_NE(X509_check_host(server.get(), "example.com", 0, 0, nullptr), 1);
  EXPECT_NE(X509_check_ip_asc(server.get(), "10.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_private_key(server.get(), key.get()), 1);
  EXPECT_EQ(X509_check_purpose(server.get(), X509_PURPOSE_SSL_SERVER, 0), 1);
  EXPECT_EQ(X509_check_ca(server.get()), 0);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_EQ(EVP_PKEY_get_base_id(key.get()), EVP_PKEY_EC);

  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(ca.get()), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "ticketctl-ca");
  X509_NAME_get_text_by_NID(X509_get_subject_name(server.get()), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "ticketctl-apiserver");
  EXPECT_GE(days_left(ca.get()), 3649);
  EXPECT_GE(days_left(server.get()), 364);
  EXPECT_LE(days_left(server.get()), 365);
}

TEST_F(TlsTest, SecondCallReusesTheFiles) {
  ensure();
  const std::string names[] = {"ca.crt", "ca.key", "server.crt", "server.key"};
  std::string before[4];
  for (int i = 0; i < 4; ++i) before[i] = slurp(dir_ / names[i]);
  ensure();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(slurp(dir_ / names[i]), before[i]) << names[i];
}

TEST_F(TlsTest, MissingServerCertIsReissuedFromTheSameCa) {
  const TlsFiles files = ensure();
  const std::string ca_before = slurp(files.ca_cert);
  const std::string ca_key_before = slurp(dir_ / "ca.key");
  const std::string server_before = slurp(files.server_cert);
  fs::remove(files.server_cert);

  ensure();
  EXPECT_EQ(slurp(files.ca_cert), ca_before);
  EXPECT_EQ(slurp(dir_ / "ca.key"), ca_key_before);
  EXPECT_NE(slurp(files.server_cert), server_before);
  EXPECT_EQ(mode_of(files.server_cert), 0600u);
  Cert ca = load_cert(files.ca_cert);
  Cert server = load_cert(files.server_cert);
  Key key = load_key(files.server_key);
  ASSERT_TRUE(ca && server && key);
  EXPECT_TRUE(verifies(ca.get(), server.get()));
  EXPECT_EQ(X509_check_private_key(server.get(), key.get()), 1);
}

TEST_F(TlsTest, CorruptCaMakesANewCaAndServerCert) {
  const TlsFiles files = ensure();
  Cert old_ca = load_cert(files.ca_cert);
  const std::string ca_key_before = slurp(dir_ / "ca.key");
  spill(files.ca_cert, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");

  ensure();
  Cert ca = load_cert(files.ca_cert);
  Cert server = load_cert(files.server_cert);
  ASSERT_TRUE(ca && server && old_ca);
  EXPECT_NE(X509_cmp(ca.get(), old_ca.get()), 0);
  EXPECT_NE(slurp(dir_ / "ca.key"), ca_key_before);
  EXPECT_TRUE(verifies(ca.get(), server.get()));
  EXPECT_FALSE(verifies(old_ca.get(), server.get()));
  EXPECT_EQ(mode_of(files.ca_cert), 0600u);
}

TEST_F(TlsTest, ServerCertFromAnotherCaIsReissued) {
  const TlsFiles files = ensure();
  const TlsFiles other = ensure(root_ / "other");
  fs::copy_file(other.server_cert, files.server_cert, fs::copy_options::overwrite_existing);
  fs::copy_file(other.server_key, files.server_key, fs::copy_options::overwrite_existing);
  const std::string ca_before = slurp(files.ca_cert);

  ensure();
  EXPECT_EQ(slurp(files.ca_cert), ca_before);
  EXPECT_NE(slurp(files.server_cert), slurp(other.server_cert));
  Cert ca = load_cert(files.ca_cert);
  Cert server = load_cert(files.server_cert);
  ASSERT_TRUE(ca && server);
  EXPECT_TRUE(verifies(ca.get(), server.get()));
}

TEST_F(TlsTest, ServerCertExpiringWithin30DaysIsReissued) {
  const TlsFiles files = ensure();
  // Re-sign the server certificate, same key and names, to expire in 10 days.
  Cert ca = load_cert(files.ca_cert);
  Key ca_key = load_key(dir_ / "ca.key");
  Cert server = load_cert(files.server_cert);
  ASSERT_TRUE(ca && ca_key && server);
  ASSERT_TRUE(X509_time_adj_ex(X509_getm_notAfter(server.get()), 10, 0, nullptr));
  ASSERT_GT(X509_sign(server.get(), ca_key.get(), EVP_sha256()), 0);
  ASSERT_TRUE(verifies(ca.get(), server.get()));
  BIO* bio = BIO_new(BIO_s_mem());
  ASSERT_EQ(PEM_write_bio_X509(bio, server.get()), 1);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  const std::string short_lived(data, static_cast<size_t>(n));
  BIO_free(bio);
  spill(files.server_cert, short_lived);
  const std::string ca_before = slurp(files.ca_cert);

  ensure();
  EXPECT_EQ(slurp(files.ca_cert), ca_before);
  EXPECT_NE(slurp(files.server_cert), short_lived);
  Cert renewed = load_cert(files.server_cert);
  ASSERT_TRUE(renewed);
  EXPECT_GE(days_left(renewed.get()), 364);
  EXPECT_TRUE(verifies(ca.get(), renewed.get()));
}

TEST_F(TlsTest, CaKeyThatDoesNotMatchMakesANewCa) {
  const TlsFiles files = ensure();
  const TlsFiles other = ensure(root_ / "other");
  fs::copy_file(other.ca_cert.parent_path() / "ca.key", dir_ / "ca.key",
                fs::copy_options::overwrite_existing);
  Cert old_ca = load_cert(files.ca_cert);

  ensure();
  Cert ca = load_cert(files.ca_cert);
  Cert server = load_cert(files.server_cert);
  Key ca_key = load_key(dir_ / "ca.key");
  ASSERT_TRUE(ca && server && ca_key && old_ca);
  EXPECT_NE(X509_cmp(ca.get(), old_ca.get()), 0);
  EXPECT_EQ(X509_check_private_key(ca.get(), ca_key.get()), 1);
  EXPECT_TRUE(verifies(ca.get(), server.get()));
}

TEST_F(TlsTest, ExistingDirectoryIsUsedAsIs) {
  fs::create_directories(dir_);
  fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
  ensure();
  EXPECT_EQ(mode_of(dir_), 0750u);
  EXPECT_EQ(mode_of(dir_ / "ca.key"), 0600u);
}

TEST_F(TlsTest, DirectoryThatIsAFileIsAnError) {
  spill(dir_, "not a directory");
  auto r = ensure_tls(dir_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(dir_.string()), std::string::npos) << r.error().message;
}

TEST_F(TlsTest, RandomTokenIs64LowercaseHexCharacters) {
  const std::string a = random_token(), b = random_token();
  EXPECT_EQ(a.size(), 64u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos) << a;
  EXPECT_EQ(b.size(), 64u);
  EXPECT_NE(a, b);
}

TEST_F(TlsTest, ReadFileReturnsContentsOrNamesTheFile) {
  const TlsFiles files = ensure();
  const std::string pem = slurp(files.ca_cert);
  EXPECT_TRUE(pem.starts_with("-----BEGIN CERTIFICATE-----\n")) << pem;

  auto missing = read_file(root_ / "nope.crt");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
  EXPECT_NE(missing.error().message.find((root_ / "nope.crt").string()), std::string::npos);
}

}  // namespace
}  // namespace ticketctl::api
