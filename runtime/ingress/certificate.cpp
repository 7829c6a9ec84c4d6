// make_self_signed_certificate (proxy.h): OpenSSL only, kept out of the Beast unit proxy.cpp.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <random>

#include "runtime/ingress/proxy.h"

namespace ticketctl::ingress {

Result<CertificatePem> make_self_signed_certificate(const std::string& common_name) {
  auto fail = [](const char* what) { return Error{ErrorCode::Internal, what}; };
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) return fail("generating a P-256 key failed");
  std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), X509_free);
  if (!x) return fail("X509_new failed");
  X509_set_version(x.get(), 2);
  uint64_t serial = std::random_device{}();
  serial = (serial << 32) ^ std::random_device{}();
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(x.get()), serial >> 1);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 365L * 24 * 3600);
  X509_set_pubkey(x.get(), key.get());
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(x.get(), name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x.get(), x.get(), nullptr, nullptr, 0);
  const std::string san = "DNS:" + common_name;
  if (X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, san.c_str())) {
    X509_add_ext(x.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(x.get(), key.get(), EVP_sha256()) == 0)
    return fail("signing the certificate failed");
  auto to_pem = [](auto&& write) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    write(bio.get());
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
  };
  std::string cert = to_pem([&](BIO* b) { PEM_write_bio_X509(b, x.get()); });
  std::string pem_key = to_pem([&](BIO* b) {
    PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  return CertificatePem{std::move(cert), std::move(pem_key)};
}

}  // namespace ticketctl::ingress
