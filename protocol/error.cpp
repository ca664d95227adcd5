#include "protocol/error.hpp"

#include <string>

namespace muster::protocol {

std::string_view wire_name(errc e) noexcept {
  switch (e) {
    case errc::bad_json:
      return "bad_json";
    case errc::bad_request:
      return "bad_request";
    case errc::unknown_op:
      return "unknown_op";
    case errc::bad_channel:
      return "bad_channel";
    case errc::not_connected:
      return "not_connected";
    case errc::already_connected:
      return "already_connected";
    case errc::not_subscribed:
      return "not_subscribed";
    case errc::already_subscribed:
      return "already_subscribed";
    case errc::too_many_subscriptions:
      return "too_many_subscriptions";
    case errc::rate_limited:
      return "rate_limited";
    case errc::binary_not_supported:
      return "binary_not_supported";
    case errc::unavailable:
      return "unavailable";
    case errc::internal:
      return "internal";
    case errc::unauthorized:
      return "unauthorized";
    case errc::forbidden:
      return "forbidden";
    case errc::message_too_large:
      return "message_too_large";
    case errc::not_found:
      return "not_found";
    case errc::already_claimed:
      return "already_claimed";
    case errc::invalid_state:
      return "invalid_state";
    case errc::already_exists:
      return "already_exists";
    case errc::conflict:
      return "conflict";
    case errc::outcome_unknown:
      return "outcome_unknown";
    case errc::unknown_user:
      return "unknown_user";
    case errc::claim_limit:
      return "claim_limit";
    case errc::approval_required:
      return "approval_required";
  }
  return "internal";
}

namespace {
class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "muster.protocol"; }
  std::string message(int ev) const override {
    return std::string(wire_name(static_cast<errc>(ev)));
  }
};
}  // namespace

const std::error_category& protocol_category() noexcept {
  static const category c;
  return c;
}

}  // namespace muster::protocol
