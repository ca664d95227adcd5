#pragma once
// A private certificate authority for TLS tests: a CA and certificates it signs (for 127.0.0.1
// and localhost unless told), written as PEM files, made with OpenSSL. Any thread.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace muster::test::certs {

using pkey_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using x509_ptr = std::unique_ptr<X509, decltype(&X509_free)>;

/// A certificate and its key, and the files they were written to.
struct issued {
  std::string cert_file;  // PEM: the certificate, then the chain above it (not the root)
  std::string key_file;   // PEM: the private key (PKCS#8)
};

/// What a leaf certificate says.
struct leaf_options {
  std::string common_name = "localhost";
  std::string alt_names = "DNS:localhost,IP:127.0.0.1";      // subjectAltName, OpenSSL syntax
  std::chrono::seconds not_before = std::chrono::hours(-1);  // relative to now
  std::chrono::seconds not_after = std::chrono::hours(24);
};

inline pkey_ptr new_key() {
  pkey_ptr k(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!k) throw std::runtime_error("EVP_EC_gen failed");
  return k;
}

inline void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) throw std::runtime_error("bad extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

inline void write_pem(const std::filesystem::path& path, X509* cert, X509* chain, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write " + path.string());
  bool ok = true;
  if (cert) ok = ok && PEM_write_X509(f, cert) == 1;
  if (chain) ok = ok && PEM_write_X509(f, chain) == 1;
  if (key) ok = ok && PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  std::fclose(f);
  if (!ok) throw std::runtime_error("cannot write " + path.string());
}

/// A CA in `dir`: `ca.pem` is what clients are told to trust.
class authority {
 public:
  explicit authority(std::filesystem::path dir, const std::string& name = "Muster Test CA")
      : dir_(std::move(dir)), key_(new_key()), cert_(X509_new(), X509_free) {
    std::filesystem::create_directories(dir_);
    X509* c = cert_.get();
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), 1);
    X509_gmtime_adj(X509_getm_notBefore(c), -3600);
    X509_gmtime_adj(X509_getm_notAfter(c), 7 * 24 * 3600);
    X509_NAME* n = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
    X509_set_issuer_name(c, n);
    X509_set_pubkey(c, key_.get());
    add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(c, c, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(c, c, NID_subject_key_identifier, "hash");
    if (X509_sign(c, key_.get(), EVP_sha256()) == 0) throw std::runtime_error("CA sign failed");
    write_pem(ca_file(), c, nullptr, nullptr);
  }

  std::string ca_file() const { return (dir_ / "ca.pem").string(); }

  /// Issues a server certificate; `name` names its files in the CA's folder.
  issued issue(const std::string& name, const leaf_options& o = {}) {
    auto key = new_key();
    x509_ptr cert(X509_new(), X509_free);
    X509* c = cert.get();
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), ++serial_);
    X509_gmtime_adj(X509_getm_notBefore(c), static_cast<long>(o.not_before.count()));
    X509_gmtime_adj(X509_getm_notAfter(c), static_cast<long>(o.not_after.count()));
    X509_NAME* n = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(o.common_name.c_str()), -1,
                               -1, 0);
    X509_set_issuer_name(c, X509_get_subject_name(cert_.get()));
    X509_set_pubkey(c, key.get());
    add_ext(c, cert_.get(), NID_basic_constraints, "critical,CA:FALSE");
    add_ext(c, cert_.get(), NID_ext_key_usage, "serverAuth");
    if (!o.alt_names.empty()) add_ext(c, cert_.get(), NID_subject_alt_name, o.alt_names);
    if (X509_sign(c, key_.get(), EVP_sha256()) == 0) throw std::runtime_error("sign failed");
    issued out{(dir_ / (name + ".pem")).string(), (dir_ / (name + ".key")).string()};
    write_pem(out.cert_file, c, nullptr, nullptr);
    write_pem(out.key_file, nullptr, nullptr, key.get());
    return out;
  }

 private:
  std::filesystem::path dir_;
  pkey_ptr key_;
  x509_ptr cert_;
  long serial_ = 1;
};

}  // namespace muster::test::certs
