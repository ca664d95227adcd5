#pragma once
// Alert ingestion: native alerts (`alert.push`, POST /api/v1/alerts) and PagerDuty Events v2
// bodies, routed by the `[[route]]` rules, deduplicated by dedup key (a global pointer decides
// one home per key even when concurrent first triggers route differently), folded into an open
// alert or created. Callable from any thread.
#include <string>
#include <string_view>

#include "server/crisis/request.hpp"

namespace muster::server::crisis::ingestion {

/// The `alert.push` command.
void push(context& ctx, request& r, done_fn done);
/// A POST /api/v1/alerts body: native, or PagerDuty when it has `event_action`.
/// A non-empty `idempotency_key` (the Idempotency-Key header) makes a retry answer like the
/// first push.
void push_body(context& ctx, std::string_view body, const std::string& idempotency_key,
               const actor& who, done_fn done);

}  // namespace muster::server::crisis::ingestion
