#pragma once
// The client side of TLS, shared by every connection kind (WebSocket, HTTP, the bench): the
// context that says what to trust, the per-connection host check, and errors that say why a
// certificate was refused. Internal to clients/; a context is shared by any threads once made.
#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>

#include <memory>
#include <string>

#include "clients/lib/tls_options.hpp"

namespace muster::client {

/// TLS 1.2 or later, the peer verified against the system's CAs and `o.ca_file`; throws
/// client_error when `o.ca_file` cannot be read.
std::shared_ptr<boost::asio::ssl::context> make_client_tls_context(const tls_options& o);

/// Makes one connection expect `host`: SNI for a DNS name (never for an IP literal), and the
/// certificate checked for that name or IP. false when OpenSSL refuses either.
bool expect_server_name(SSL* ssl, const std::string& host);

/// True when a TLS handshake failed because the certificate was refused: permanent.
bool is_certificate_refusal(const boost::system::error_code& ec);

/// "certificate verify failed (certificate has expired)" for a refused certificate (the
/// X509 verdict of `ssl`), else the error's own message.
std::string describe_tls_failure(const boost::system::error_code& ec, const SSL* ssl);

}  // namespace muster::client
