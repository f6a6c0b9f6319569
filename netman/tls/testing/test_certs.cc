// Copyright netman authors.
#include "netman/tls/testing/test_certs.h"

#include <openssl/ec_key.h>
#include <openssl/evp.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace netman::testing {
namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "test_certs: %s failed\n", what);
  std::abort();  // test-only helper: a broken test fixture stops the test
}

EVP_PKEY* NewKey() {
  EC_KEY* ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
  if (ec == nullptr || !EC_KEY_generate_key(ec)) Die("EC_KEY_generate_key");
  EVP_PKEY* key = EVP_PKEY_new();
  if (key == nullptr || !EVP_PKEY_assign_EC_KEY(key, ec)) Die("EVP_PKEY_assign_EC_KEY");
  return key;
}

void AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr || !X509_add_ext(cert, ext, -1)) Die("X509_add_ext");
  X509_EXTENSION_free(ext);
}

X509* NewCert(EVP_PKEY* key, const std::string& cn, long serial, long not_before,
              long not_after) {
  X509* cert = X509_new();
  if (cert == nullptr || !X509_set_version(cert, X509_VERSION_3) ||
      !ASN1_INTEGER_set(X509_get_serialNumber(cert), serial) ||
      !X509_gmtime_adj(X509_getm_notBefore(cert), not_before) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert), not_after) ||
      !X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "O", MBSTRING_ASC,
                                  reinterpret_cast<const uint8_t*>("netman test"), -1, -1, 0) ||
      !X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                                  reinterpret_cast<const uint8_t*>(cn.c_str()), -1, -1, 0) ||
      !X509_set_pubkey(cert, key)) {
    Die("X509 fields");
  }
  return cert;
}

std::string CertPem(X509* cert) {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(bio.get(), cert)) Die("PEM_write_bio_X509");
  const uint8_t* data;
  size_t len;
  BIO_mem_contents(bio.get(), &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

std::string KeyPem(EVP_PKEY* key) {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)) {
    Die("PEM_write_bio_PrivateKey");
  }
  const uint8_t* data;
  size_t len;
  BIO_mem_contents(bio.get(), &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

}  // namespace

TestCa::TestCa(std::string_view common_name) : key_(NewKey()) {
  cert_ = NewCert(key_, std::string(common_name), 1, -3600, 30 * 24 * 3600);
  X509_set_issuer_name(cert_, X509_get_subject_name(cert_));
  AddExt(cert_, cert_, NID_basic_constraints, "critical,CA:TRUE");
  AddExt(cert_, cert_, NID_key_usage, "critical,keyCertSign,cRLSign");
  if (!X509_sign(cert_, key_, EVP_sha256())) Die("X509_sign");
  cert_pem_ = CertPem(cert_);
}

TestCa::~TestCa() {
  X509_free(cert_);
  EVP_PKEY_free(key_);
}

KeyPair TestCa::Issue(const LeafOptions& options) {
  bssl::UniquePtr<EVP_PKEY> key(NewKey());
  bssl::UniquePtr<X509> cert(NewCert(key.get(), options.common_name, next_serial_++,
                                     options.not_before_seconds, options.not_after_seconds));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert_));
  AddExt(cert.get(), cert_, NID_basic_constraints, "critical,CA:FALSE");
  AddExt(cert.get(), cert_, NID_ext_key_usage, "serverAuth,clientAuth");
  std::vector<std::string> alt;
  for (const std::string& dns : options.dns_names) alt.push_back("DNS:" + dns);
  if (options.ip_localhost) alt.push_back("IP:127.0.0.1");
  if (!alt.empty()) AddExt(cert.get(), cert_, NID_subject_alt_name, absl::StrJoin(alt, ","));
  if (!X509_sign(cert.get(), key_, EVP_sha256())) Die("X509_sign");
  return KeyPair{CertPem(cert.get()), KeyPem(key.get())};
}

std::string WriteTestFile(std::string_view name, std::string_view contents) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path = absl::StrCat(dir != nullptr ? dir : "/tmp", "/",
                                        absl::string_view(name.data(), name.size()));
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  if (!out) Die("writing a test file");
  return path;
}

}  // namespace netman::testing
