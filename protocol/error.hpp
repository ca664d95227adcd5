#pragma once
// Protocol error codes: stable wire names, an error category, and WebSocket close codes.
#include <cstdint>
#include <string_view>
#include <system_error>

namespace muster::protocol {

enum class errc {
  /// The frame is not valid JSON (or not a JSON object).
  bad_json = 1,
  /// A required field is missing or a field has the wrong type or value.
  bad_request,
  /// The "op" names no known command.
  unknown_op,
  /// The channel name is empty, too long or has characters outside the allowed set.
  bad_channel,
  /// The command needs a prior successful "connect".
  not_connected,
  /// "connect" was sent twice on one connection.
  already_connected,
  /// The channel is not subscribed on this connection.
  not_subscribed,
  /// The channel is already subscribed on this connection.
  already_subscribed,
  /// The connection reached its subscription limit.
  too_many_subscriptions,
  /// The publish rate limit was exceeded; retry later.
  rate_limited,
  /// Binary frames are not part of the protocol.
  binary_not_supported,
  /// The engine (storage / fan-out backend) cannot serve the request right now.
  unavailable,
  /// An unexpected server-side failure.
  internal,
  /// The token is missing, malformed, expired or wrongly signed.
  unauthorized,
  /// The caller is authenticated but may not do this.
  forbidden,
  /// The message (or its data) is larger than the configured limit.
  message_too_large,
  /// The alert, channel, guidance or template named does not exist.
  not_found,
  /// Someone else holds the claim on this alert (the error names the holder).
  already_claimed,
  /// The operation does not apply in the object's current state (e.g. claiming a resolved alert).
  invalid_state,
  /// The object already exists (e.g. creating a channel twice).
  already_exists,
  /// Too many concurrent updates of one object; retry.
  conflict,
  /// The change was sent to the engine but not confirmed (timeout, connection lost): it may or
  /// may not have been applied. A blind retry may apply it twice.
  outcome_unknown,
  /// The user named (e.g. as an alert's new holder) is not in the directory of people.
  unknown_user,
  /// The ambassador already holds as many unanswered claims as allowed (the error names it).
  claim_limit,
  /// The channel requires approved replies and this one is not (yet) approved.
  approval_required,
};

/// Stable name used on the wire in error replies and in metrics labels.
std::string_view wire_name(errc e) noexcept;
/// All codes, for metrics and tests.
inline constexpr errc all_errors[] = {errc::bad_json,
                                      errc::bad_request,
                                      errc::unknown_op,
                                      errc::bad_channel,
                                      errc::not_connected,
                                      errc::already_connected,
                                      errc::not_subscribed,
                                      errc::already_subscribed,
                                      errc::too_many_subscriptions,
                                      errc::rate_limited,
                                      errc::binary_not_supported,
                                      errc::unavailable,
                                      errc::internal,
                                      errc::unauthorized,
                                      errc::forbidden,
                                      errc::message_too_large,
                                      errc::not_found,
                                      errc::already_claimed,
                                      errc::invalid_state,
                                      errc::already_exists,
                                      errc::conflict,
                                      errc::outcome_unknown,
                                      errc::unknown_user,
                                      errc::claim_limit,
                                      errc::approval_required};

const std::error_category& protocol_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), protocol_category()};
}

/// WebSocket close codes the server uses (see PROTOCOL.md).
namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;     // server shutting down
inline constexpr std::uint16_t too_big = 1009;        // frame over max_message_bytes
inline constexpr std::uint16_t slow_consumer = 4008;  // outbound queue overflowed
inline constexpr std::uint16_t unauthorized = 4001;   // bad or expired token
}  // namespace close_code

}  // namespace muster::protocol

template <>
struct std::is_error_code_enum<muster::protocol::errc> : std::true_type {};
