// HttpServer's TLS: the bytes of a connection over TLS or plain TCP (Transport), and the
// server's certificate, key and client CA (EnableTls, RequireClientCertificates). The
// handshake itself runs in http_server.cc, on the connection's thread.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "ringleader/testing/http_server.h"

namespace ringleader::testapi {
namespace {

// The oldest queued OpenSSL error of this thread as text (the queue is cleared), or `fallback`.
std::string TlsError(const std::string& fallback) {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return fallback;
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

// Whether an SSL_read/SSL_write that returned `n` <= 0 is only to be called again (blocking
// sockets with SSL_MODE_AUTO_RETRY rarely ask; a signal may). Otherwise the connection is done.
bool TlsShouldRetry(SSL* ssl, int n) {
  int err = SSL_get_error(ssl, n);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE || (err == SSL_ERROR_SYSCALL && errno == EINTR)) {
    return true;
  }
  ERR_clear_error();
  return false;
}

}  // namespace

std::string Transport::PeerCommonName() const {
  if (ssl_ == nullptr) return "";
  X509* peer = SSL_get1_peer_certificate(ssl_);
  if (peer == nullptr) return "";
  char name[256] = "";
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, name, sizeof(name)) < 0) name[0] = 0;
  X509_free(peer);
  return name;
}

ssize_t Transport::Read(char* data, size_t size) {
  if (ssl_ == nullptr) {
    ssize_t n;
    do {
      n = ::recv(fd_, data, size, 0);
    } while (n < 0 && errno == EINTR);
    return n;
  }
  while (true) {
    errno = 0;  // TlsShouldRetry reads it
    int n = SSL_read(ssl_, data, static_cast<int>(std::min<size_t>(size, INT32_MAX)));
    if (n > 0 || !TlsShouldRetry(ssl_, n)) return n;
  }
}

bool Transport::WriteAll(const char* data, size_t size) {
  size_t off = 0;
  while (off < size) {
    if (ssl_ == nullptr) {
      ssize_t n = ::send(fd_, data + off, size - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
      continue;
    }
    errno = 0;
    int n = SSL_write(ssl_, data + off, static_cast<int>(std::min<size_t>(size - off, INT32_MAX)));
    if (n <= 0) {
      if (TlsShouldRetry(ssl_, n)) continue;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

Status HttpServer::EnableTls(const std::string& cert_file, const std::string& key_file) {
  // Messages name the test server's flags: this server is only ever configured through them.
  if (!std::ifstream(cert_file)) {
    return InvalidArgumentError("--tls-cert " + cert_file + ": cannot read: " + std::strerror(errno));
  }
  if (!std::ifstream(key_file)) {
    return InvalidArgumentError("--tls-key " + key_file + ": cannot read: " + std::strerror(errno));
  }
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return InternalError("SSL_CTX_new: " + TlsError("failed"));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
  Status status = Status::Ok();
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    status = InvalidArgumentError("--tls-cert " + cert_file + ": not a PEM certificate: " + TlsError("?"));
  } else if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL checks the key against the certificate as it loads it.
    bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
    status = InvalidArgumentError("--tls-key " + key_file +
                                  (mismatch ? " does not match --tls-cert " + cert_file : ": not a PEM private key") +
                                  ": " + TlsError("?"));
  }
  if (!status.ok()) {
    SSL_CTX_free(ctx);
    return status;
  }
  SSL_CTX_free(tls_ctx_);
  tls_ctx_ = ctx;
  return Status::Ok();
}

Status HttpServer::RequireClientCertificates(const std::string& ca_file) {
  if (tls_ctx_ == nullptr) return InvalidArgumentError("--client-ca-file needs --tls-cert and --tls-key");
  ERR_clear_error();
  if (SSL_CTX_load_verify_locations(tls_ctx_, ca_file.c_str(), nullptr) != 1) {
    return InvalidArgumentError("--client-ca-file " + ca_file + ": cannot load: " + TlsError("?"));
  }
  SSL_CTX_set_verify(tls_ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return Status::Ok();
}

}  // namespace ringleader::testapi
