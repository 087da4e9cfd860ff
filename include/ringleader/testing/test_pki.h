#pragma once
// Certificates for TLS tests, made at test time with the openssl CLI in a fresh temporary
// directory (removed again by the destructor). Files, by name under Path():
//   ca.crt/.key, other-ca.crt/.key   two unrelated CAs
//   server.crt/.key                  signed by ca, for 127.0.0.1 and localhost
//   client.crt/.key                  signed by ca, CN "ringleader-client", clientAuth
//   self-signed.crt/.key             its own CA, for 127.0.0.1 and localhost
//   other.key                        a key that matches no certificate
//   garbage.crt                      not PEM at all
// ok() is false where the openssl CLI is missing or fails: tests then skip, saying so.

#include <filesystem>
#include <string>

namespace ringleader::testapi {

class TestPki {
 public:
  TestPki();
  ~TestPki();
  // One set for the whole test binary, made on first use (each set costs ~10 openssl runs).
  static const TestPki& Shared();
  bool ok() const { return ok_; }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  // The whole content of Path(name), "" where it cannot be read.
  std::string Read(const std::string& name) const;
  static constexpr const char* kClientCommonName = "ringleader-client";

 private:
  TestPki(const TestPki&) = delete;  // owns (and removes) its directory
  TestPki& operator=(const TestPki&) = delete;
  bool Run(const std::string& command) const;
  bool MakeSelfSigned(const std::string& name, const std::string& common_name, const std::string& extension) const;
  bool MakeSigned(const std::string& name, const std::string& common_name, const std::string& extension) const;

  std::filesystem::path dir_;
  bool ok_ = false;
};

}  // namespace ringleader::testapi
