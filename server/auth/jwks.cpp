#include "server/auth/jwks.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <simdjson.h>

#include "server/auth/jwt.hpp"

namespace muster::server::auth {

namespace {

using bignum = std::unique_ptr<BIGNUM, decltype(&BN_free)>;

bignum to_bn(const std::string& bytes) {
  return {BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                    static_cast<int>(bytes.size()), nullptr),
          &BN_free};
}

// An EVP_PKEY from OSSL parameters, or null.
std::shared_ptr<void> from_params(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld),
                                                                 &OSSL_PARAM_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr), &EVP_PKEY_CTX_free);
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    return nullptr;
  return {pkey, [](void* p) { EVP_PKEY_free(static_cast<EVP_PKEY*>(p)); }};
}

std::shared_ptr<void> rsa_key(const std::string& n, const std::string& e) {
  auto bn_n = to_bn(n), bn_e = to_bn(e);
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(),
                                                                      &OSSL_PARAM_BLD_free);
  if (!bn_n || !bn_e || !bld ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()))
    return nullptr;
  // An exponent of 1 (or even) would let anyone forge signatures for the key.
  if (BN_is_odd(bn_e.get()) != 1 || BN_num_bits(bn_e.get()) < 2) return nullptr;
  auto key = from_params("RSA", bld.get());
  // Keys under 2048 bits are too weak to trust (RFC 7518 3.3); over 16384, OpenSSL refuses.
  auto bits = key ? EVP_PKEY_get_bits(static_cast<EVP_PKEY*>(key.get())) : 0;
  if (bits < 2048 || bits > 16384) return nullptr;
  return key;
}

std::shared_ptr<void> p256_key(const std::string& x, const std::string& y) {
  if (x.size() != 32 || y.size() != 32) return nullptr;
  std::string point(1, '\x04');  // uncompressed SEC1 point: 04 || x || y
  point += x;
  point += y;
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(),
                                                                      &OSSL_PARAM_BLD_free);
  if (!bld ||
      !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size()))
    return nullptr;
  return from_params("EC", bld.get());  // fails for a point that is not on the curve
}

std::shared_ptr<void> ed25519_key(const std::string& x) {
  if (x.size() != 32) return nullptr;
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(x.data()), x.size());
  if (!pkey) return nullptr;
  return {pkey, [](void* p) { EVP_PKEY_free(static_cast<EVP_PKEY*>(p)); }};
}

// The JWS form of an ES256 signature (r || s, 32 bytes each) as the DER OpenSSL verifies.
std::optional<std::string> es256_der(std::string_view raw) {
  if (raw.size() != 64) return std::nullopt;
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(ECDSA_SIG_new(), &ECDSA_SIG_free);
  auto* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
  auto* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::optional<std::string> member(simdjson::dom::element k, const char* name) {
  std::string_view v;
  if (k[name].get(v)) return std::nullopt;
  return std::string(v);
}

}  // namespace

std::variant<key_set, std::string> key_set::parse(std::string_view jwks_json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array list;
  if (parser.parse(jwks_json.data(), jwks_json.size()).get(doc) || doc["keys"].get(list))
    return std::string("not a JWKS document (an object with a \"keys\" array)");
  key_set out;
  std::size_t index = 0;
  for (auto k : list) {
    auto at = "key " + std::to_string(index++);
    auto kty = member(k, "kty"), use = member(k, "use"), alg = member(k, "alg");
    if (!kty || (use && *use != "sig")) continue;
    auto b64 = [&](const char* name) -> std::optional<std::string> {
      auto v = member(k, name);
      return v ? base64url_decode(*v) : std::nullopt;
    };
    key entry{member(k, "kid").value_or(""), "", nullptr};
    if (*kty == "RSA" && (!alg || *alg == "RS256")) {
      auto n = b64("n"), e = b64("e");
      if (!n || !e) return at + ": RSA key without base64url n and e";
      entry.alg = "RS256";
      entry.pkey = rsa_key(*n, *e);
      if (!entry.pkey) return at + ": not a usable RSA key (2048 to 16384 bits, odd exponent > 1)";
    } else if (*kty == "EC" && (!alg || *alg == "ES256")) {
      auto crv = member(k, "crv");
      if (!crv || *crv != "P-256") continue;  // other curves are for other algorithms
      auto x = b64("x"), y = b64("y");
      if (!x || !y) return at + ": EC key without base64url x and y";
      entry.alg = "ES256";
      entry.pkey = p256_key(*x, *y);
      if (!entry.pkey) return at + ": not a P-256 public key";
    } else if (*kty == "OKP" && (!alg || *alg == "EdDSA")) {
      auto crv = member(k, "crv");
      if (!crv || *crv != "Ed25519") continue;  // Ed448, X25519: not used
      auto x = b64("x");
      if (!x) return at + ": OKP key without base64url x";
      entry.alg = "EdDSA";
      entry.pkey = ed25519_key(*x);
      if (!entry.pkey) return at + ": not an Ed25519 public key";
    } else {
      continue;  // another key type or algorithm (HS*, RS512...): not ours to use
    }
    for (const auto& held : out.keys_)
      if (held.alg == entry.alg && held.kid == entry.kid)
        return at + ": a second " + entry.alg + " key with kid \"" + entry.kid + "\"";
    out.keys_.push_back(std::move(entry));
  }
  if (out.keys_.empty()) return std::string("no RS256, ES256 or EdDSA signing key in the set");
  return out;
}

std::optional<bool> key_set::verify(std::string_view alg, std::string_view kid,
                                    std::string_view signing_input,
                                    std::string_view signature) const {
  const key* found = nullptr;
  for (const auto& k : keys_) {
    if (k.alg != alg || (!kid.empty() && k.kid != kid)) continue;
    if (found) return std::nullopt;  // no kid and several candidates: ambiguous
    found = &k;
  }
  if (!found) return std::nullopt;
  std::string der;
  if (alg == "ES256") {
    auto d = es256_der(signature);
    if (!d) return false;
    der = std::move(*d);
    signature = der;
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  auto* pkey = static_cast<EVP_PKEY*>(found->pkey.get());
  // Ed25519 hashes inside the signature scheme: no digest is named for it.
  const EVP_MD* digest = alg == "EdDSA" ? nullptr : EVP_sha256();
  if (!md || EVP_DigestVerifyInit(md.get(), nullptr, digest, nullptr, pkey) != 1) return false;
  return EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(),
                          reinterpret_cast<const unsigned char*>(signing_input.data()),
                          signing_input.size()) == 1;
}

}  // namespace muster::server::auth
