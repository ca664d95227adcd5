#pragma once
// What the client library throws when it cannot reach or keep a server. No state; any thread.
#include <stdexcept>

namespace muster::client {

/// Thrown when the connection fails, closes, or an answer does not come in time.
struct client_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Thrown when the server's TLS certificate is refused (unknown CA, expired, another name):
/// permanent, trying again cannot help until the server's certificate or the trusted CAs change.
struct certificate_refused : client_error {
  using client_error::client_error;
};

}  // namespace muster::client
