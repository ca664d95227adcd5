#pragma once
// How a client checks a server over TLS (wss://, https://). Plain data; any thread.
#include <string>

namespace muster::client {

/// The server's certificate is always verified: its chain against the system's CAs (and
/// `ca_file`), its validity dates, and its name against the URL's host (a DNS name or an IP).
/// There is no switch to skip that; a private CA is trusted through `ca_file`.
struct tls_options {
  std::string ca_file;  // PEM file of CA certificates trusted besides the system's (a private CA)
};

}  // namespace muster::client
