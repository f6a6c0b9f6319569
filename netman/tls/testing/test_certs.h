// Copyright netman authors.
//
// Test PKI made at test time with BoringSSL (nothing secret is committed):
// a CA that issues leaf certificates (P-256 keys, SHA-256), valid or
// expired, for servers (DNS/IP names) and clients.
//
// Example:
//   netman::testing::TestCa ca("netman test CA");
//   netman::testing::KeyPair server = ca.Issue({.common_name = "localhost",
//                                               .dns_names = {"localhost"}});
//   std::string ca_file = netman::testing::WriteTestFile("ca.pem", ca.cert_pem());
//
// Threading: a TestCa is used from one thread at a time.
#ifndef NETMAN_TLS_TESTING_TEST_CERTS_H_
#define NETMAN_TLS_TESTING_TEST_CERTS_H_

#include <openssl/base.h>

#include <string>
#include <string_view>
#include <vector>

namespace netman::testing {

struct KeyPair {
  std::string cert_pem;
  std::string key_pem;
};

struct LeafOptions {
  std::string common_name = "localhost";
  std::vector<std::string> dns_names = {"localhost"};
  bool ip_localhost = true;  // IP:127.0.0.1 in the subjectAltName
  // Validity relative to now, in seconds.
  long not_before_seconds = -3600;
  long not_after_seconds = 24 * 3600;
};

class TestCa {
 public:
  explicit TestCa(std::string_view common_name);
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  const std::string& cert_pem() const { return cert_pem_; }
  KeyPair Issue(const LeafOptions& options);

 private:
  EVP_PKEY* key_;
  X509* cert_;
  std::string cert_pem_;
  long next_serial_ = 2;
};

// Writes `contents` to `name` under $TEST_TMPDIR (or /tmp); returns the path.
std::string WriteTestFile(std::string_view name, std::string_view contents);

}  // namespace netman::testing

#endif  // NETMAN_TLS_TESTING_TEST_CERTS_H_
