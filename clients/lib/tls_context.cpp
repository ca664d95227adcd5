#include "clients/lib/tls_context.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>

#include "clients/lib/client_error.hpp"

namespace muster::client {

namespace ssl = boost::asio::ssl;

std::shared_ptr<ssl::context> make_client_tls_context(const tls_options& o) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_verify_mode(ssl::verify_peer);
  boost::system::error_code ec;
  ctx->set_default_verify_paths(ec);  // a system without a CA store still takes ca_file
  if (!o.ca_file.empty()) {
    ctx->load_verify_file(o.ca_file, ec);
    if (ec) throw client_error("cannot load CA file " + o.ca_file + ": " + ec.message());
  }
  return ctx;
}

bool expect_server_name(SSL* ssl, const std::string& host) {
  boost::system::error_code not_ip;
  boost::asio::ip::make_address(host, not_ip);
  // The check runs inside OpenSSL's chain verification (what asio's host_name_verification
  // checks, X509_check_host/ip), so that a mismatch has its own X509 verdict to report.
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (!not_ip) return X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1;
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) == 1 &&
         SSL_set_tlsext_host_name(ssl, host.c_str()) == 1;
}

bool is_certificate_refusal(const boost::system::error_code& ec) {
  return ec.category() == boost::asio::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED;
}

std::string describe_tls_failure(const boost::system::error_code& ec, const SSL* ssl) {
  if (ec == ssl::error::stream_truncated) return "the server closed the connection";
  if (!is_certificate_refusal(ec)) return ec.message();
  return std::string("certificate verify failed (") +
         X509_verify_cert_error_string(SSL_get_verify_result(ssl)) + ")";
}

}  // namespace muster::client
