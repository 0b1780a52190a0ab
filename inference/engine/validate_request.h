// Up-front checks of an EngineRequest against the model and the KV pool, before it is queued. Errors name the
// field (as the public API spells it) and the limit: INVALID_ARGUMENT for everything here, since no retry can
// make such a request fit.
//
// Thread-safety: a pure function.
//
//   RETURN_IF_ERROR(ValidateRequest(request, limits));
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "inference/engine/request.h"

namespace inference {

struct RequestLimits {
  int32_t vocab_size = 0;
  int32_t context_length = 0;   // prompt + max_tokens must fit
  int32_t kv_num_blocks = 0;    // the whole pool: one request must fit alone
  int32_t kv_block_size = 16;
  int32_t max_stop_ids = 64;    // GenerateRequest.stop_token_ids: at most 64
};

[[nodiscard]] absl::Status ValidateRequest(const EngineRequest& request, const RequestLimits& limits);

}  // namespace inference
