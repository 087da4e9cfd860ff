#include "ringleader/testing/test_pki.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ringleader::testapi {

namespace {
constexpr const char* kServerNames = "subjectAltName=IP:127.0.0.1,DNS:localhost";
constexpr const char* kNewEcKey = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
}  // namespace

TestPki::TestPki() {
  char pattern[] = "/tmp/rl-test-pki-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) return;
  dir_ = pattern;
  ok_ = Run("openssl version") && MakeSelfSigned("ca", "ca", "") && MakeSelfSigned("other-ca", "other-ca", "") &&
        MakeSigned("server", "127.0.0.1", kServerNames) &&
        MakeSigned("client", kClientCommonName, "extendedKeyUsage=clientAuth") &&
        MakeSelfSigned("self-signed", "ringleader-testapiserver", kServerNames) &&
        Run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out other.key");
  std::ofstream(dir_ / "garbage.crt") << "not a certificate\n";
}

TestPki::~TestPki() {
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

const TestPki& TestPki::Shared() {
  static const TestPki shared;
  return shared;
}

std::string TestPki::Read(const std::string& name) const {
  std::ifstream in(dir_ / name);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool TestPki::Run(const std::string& command) const {
  return std::system(("cd " + dir_.string() + " && " + command + " >/dev/null 2>&1").c_str()) == 0;
}

bool TestPki::MakeSelfSigned(const std::string& name, const std::string& common_name,
                             const std::string& extension) const {
  return Run("openssl req -x509 " + std::string(kNewEcKey) + " -keyout " + name + ".key -out " + name +
             ".crt -days 1 -subj /CN=" + common_name + (extension.empty() ? "" : " -addext " + extension));
}

bool TestPki::MakeSigned(const std::string& name, const std::string& common_name,
                         const std::string& extension) const {
  std::ofstream(dir_ / (name + ".ext")) << extension << "\n";
  return Run("openssl req " + std::string(kNewEcKey) + " -keyout " + name + ".key -out " + name +
             ".csr -subj /CN=" + common_name) &&
         Run("openssl x509 -req -in " + name + ".csr -CA ca.crt -CAkey ca.key -CAcreateserial -out " + name +
             ".crt -days 1 -extfile " + name + ".ext");
}

}  // namespace ringleader::testapi
