// SPDX-License-Identifier: Apache-2.0
// Self-signed certificates for the TLS googletests, made with the OpenSSL API in a temporary
// directory (no openssl CLI needed): an EC P-256 key and a certificate for one DNS name.
#pragma once

#include <string>

namespace faultd::test {

struct TestCert {
  std::string dir;        // temporary directory holding the files (removed by the destructor)
  std::string cert_path;  // PEM certificate (self-signed: it is its own CA)
  std::string key_path;   // PEM private key
  TestCert() = default;
  TestCert(const TestCert&) = delete;
  TestCert& operator=(const TestCert&) = delete;
  ~TestCert();
};

/// Writes a fresh key and a self-signed certificate for `dns_name` (CN and subjectAltName).
/// Aborts the test binary on failure (test setup, not behaviour under test).
void MakeTestCert(const std::string& dns_name, TestCert* out);

}  // namespace faultd::test
