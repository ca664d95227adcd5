#include "server/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace muster::server {

namespace ssl = boost::asio::ssl;

namespace {

// OpenSSL's reason for the last failure ("no start line", "key values mismatch"); clears it.
std::string openssl_reason() {
  unsigned long code = ERR_peek_last_error();
  const char* reason = code ? ERR_reason_error_string(code) : nullptr;
  std::string why = reason ? reason : "unknown OpenSSL error";
  ERR_clear_error();
  return why;
}

void require_readable(const std::string& key, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(key + " " + path + ": cannot be read");
}

std::string x509_time(const ASN1_TIME* t) {
  BIO* bio = BIO_new(BIO_s_mem());
  ASN1_TIME_print(bio, t);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

}  // namespace

std::shared_ptr<ssl::context> make_tls_context(const tls_files& files) {
  require_readable("tls.cert_file", files.cert_file);
  require_readable("tls.key_file", files.key_file);
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* h = ctx->native_handle();
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(h, files.cert_file.c_str()) != 1)
    throw std::runtime_error("tls.cert_file " + files.cert_file +
                             ": not a PEM certificate chain (" + openssl_reason() + ")");
  // Read apart from its use, so "not a key" and "not this certificate's key" are told apart.
  EVP_PKEY* key = nullptr;
  if (FILE* f = std::fopen(files.key_file.c_str(), "r")) {
    // No pass-phrase prompt on the terminal: an encrypted key is refused instead.
    key = PEM_read_PrivateKey(
        f, nullptr, [](char*, int, int, void*) { return 0; }, nullptr);
    std::fclose(f);
  }
  if (!key)
    throw std::runtime_error("tls.key_file " + files.key_file +
                             ": not an unencrypted PEM private key (" + openssl_reason() + ")");
  int used = SSL_CTX_use_PrivateKey(h, key);
  EVP_PKEY_free(key);
  if (used != 1 || SSL_CTX_check_private_key(h) != 1)
    throw std::runtime_error("tls.key_file " + files.key_file +
                             ": does not belong to the certificate in " + files.cert_file);
  SSL_CTX_set_min_proto_version(h, files.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
  // No compression (CRIME), no client-started renegotiation (a cheap way to load the CPU).
  SSL_CTX_set_options(
      h, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // An idle connection gives its record buffers back to OpenSSL's pool.
  SSL_CTX_set_mode(h, SSL_MODE_RELEASE_BUFFERS);
  // Records are taken from the socket's bytes ahead of use, so a session can tell that more of
  // a client's commands are already here (SSL_has_pending).
  SSL_CTX_set_read_ahead(h, 1);
  X509* cert = SSL_CTX_get0_certificate(h);
  if (cert && X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
    spdlog::warn("tls.cert_file {}: the certificate expired on {}; clients will refuse it",
                 files.cert_file, x509_time(X509_get0_notAfter(cert)));
  return ctx;
}

std::string describe_certificate(ssl::context& ctx) {
  X509* cert = SSL_CTX_get0_certificate(ctx.native_handle());
  if (!cert) return "no certificate";
  char name[256] = {};
  X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof name - 1);
  return std::string(name) + ", valid until " + x509_time(X509_get0_notAfter(cert));
}

}  // namespace muster::server
