#pragma once
// The Muster C++ client library: include this one header.
//
//   muster::client::blocking_client  a simple synchronous client: connect, call(op, fields),
//                                    next_event(); for scripts, tools and tests (one thread).
//   muster::client::session          an asynchronous client on your boost::asio::io_context:
//                                    reconnects with backoff, resubscribes with recovery (no
//                                    message missed or repeated), callbacks for events, replies
//                                    and state changes, all on the io_context's thread.
//   crisis.hpp                       typed crisis calls on both: push_alert, claim_alert,
//                                    respond/resolve/release/dismiss/assign, list_alerts,
//                                    list_channels, get_stats, post_guidance, ack_guidance,
//                                    create_channel, fetch_timeline; errors as
//                                    command_error{code, holder}.
//   muster::client::http_client      blocking HTTP for /api/v1 and feeds; post_with_retry
//                                    retries 429/5xx/unreachable with backoff.
//   frame.hpp                        server_message and frame parsing (json_uint/string/bool).
//   url.hpp                          parse_url (ws://, wss://), parse_http_url (http://,
//                                    https://), parse_server_url (one server's both URLs).
//
// TLS: wss:// and https:// always verify the server's certificate (system CAs, dates, host
// name or IP); tls_options{.ca_file} trusts a private CA besides. A refused certificate throws
// certificate_refused (a client_error): post_with_retry does not retry it, a session stops.
//
// Threading: a blocking_client or http_client belongs to one thread; a session is used from
// its io_context's thread (net::post to it from elsewhere). Errors: blocking calls throw
// client_error (connection) or command_error (the server said no); async calls hand the
// command_error to the callback. The wire protocol is protocol/PROTOCOL.md; a complete program
// is clients/examples/first_drill.cpp.
#include "clients/lib/blocking_client.hpp"
#include "clients/lib/crisis.hpp"
#include "clients/lib/frame.hpp"
#include "clients/lib/http_client.hpp"
#include "clients/lib/session.hpp"
