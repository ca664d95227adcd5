#pragma once
// A stand-in identity provider for tests: RSA and P-256 keys made with OpenSSL, their JWKS
// entries, and RS256/ES256 tokens signed with them.
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <memory>
#include <string>

#include "server/auth/jwt.hpp"

namespace muster::test::idp {

using muster::server::auth::base64url_encode;

using pkey_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

inline std::string bn_param(EVP_PKEY* k, const char* name) {
  BIGNUM* bn = nullptr;
  EVP_PKEY_get_bn_param(k, name, &bn);
  std::string out(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

inline std::string rsa_jwk(EVP_PKEY* k, const std::string& kid) {
  return R"({"kty":"RSA","use":"sig","alg":"RS256","kid":")" + kid + R"(","n":")" +
         base64url_encode(bn_param(k, OSSL_PKEY_PARAM_RSA_N)) + R"(","e":")" +
         base64url_encode(bn_param(k, OSSL_PKEY_PARAM_RSA_E)) + R"("})";
}

inline std::string ec_jwk(EVP_PKEY* k, const std::string& kid) {
  unsigned char point[65];
  std::size_t len = 0;
  EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &len);
  std::string raw(reinterpret_cast<char*>(point), len);
  return R"({"kty":"EC","crv":"P-256","kid":")" + kid + R"(","x":")" +
         base64url_encode(raw.substr(1, 32)) + R"(","y":")" + base64url_encode(raw.substr(33, 32)) +
         R"("})";
}

inline std::string sign(EVP_PKEY* k, const std::string& input, bool ec) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, k);
  std::size_t len = 0;
  auto data = reinterpret_cast<const unsigned char*>(input.data());
  EVP_DigestSign(md.get(), nullptr, &len, data, input.size());
  std::string sig(len, '\0');
  EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data, input.size());
  sig.resize(len);
  if (!ec) return sig;
  // DER (OpenSSL) to the JWS form: r || s, 32 bytes each.
  auto p = reinterpret_cast<const unsigned char*>(sig.data());
  ECDSA_SIG* der = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(der), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(der), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  ECDSA_SIG_free(der);
  return raw;
}

inline std::string ed_jwk(EVP_PKEY* k, const std::string& kid) {
  unsigned char raw[32];
  std::size_t len = sizeof raw;
  EVP_PKEY_get_raw_public_key(k, raw, &len);
  return R"({"kty":"OKP","crv":"Ed25519","kid":")" + kid + R"(","x":")" +
         base64url_encode(std::string(reinterpret_cast<char*>(raw), len)) + R"("})";
}

/// An EdDSA (Ed25519) token: the scheme hashes by itself, so no digest is named.
inline std::string ed_token(EVP_PKEY* k, const std::string& header, const std::string& claims) {
  auto input = base64url_encode(header) + "." + base64url_encode(claims);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_DigestSignInit(md.get(), nullptr, nullptr, nullptr, k);
  std::size_t len = 64;
  std::string sig(len, '\0');
  EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  return input + "." + base64url_encode(sig.substr(0, len));
}

inline std::string token(EVP_PKEY* k, const std::string& header, const std::string& claims,
                         bool ec) {
  auto input = base64url_encode(header) + "." + base64url_encode(claims);
  return input + "." + base64url_encode(sign(k, input, ec));
}

}  // namespace muster::test::idp
