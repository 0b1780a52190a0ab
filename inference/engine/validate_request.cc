#include "inference/engine/validate_request.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "inference/engine/sampler.h"

namespace inference {

absl::Status ValidateRequest(const EngineRequest& r, const RequestLimits& limits) {
  if (r.prompt.empty()) return absl::InvalidArgumentError("prompt_ids is empty: at least 1 id is required");
  for (size_t i = 0; i < r.prompt.size(); ++i) {
    if (r.prompt[i] < 0 || r.prompt[i] >= limits.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("prompt_ids[", i, "] = ", r.prompt[i], " is out of range [0, ",
                                                     limits.vocab_size, ")"));
    }
  }
  if (static_cast<int32_t>(r.stop_ids.size()) > limits.max_stop_ids) {
    return absl::InvalidArgumentError(absl::StrCat("stop_token_ids has ", r.stop_ids.size(), " ids; at most ",
                                                   limits.max_stop_ids, " are allowed"));
  }
  for (size_t i = 0; i < r.stop_ids.size(); ++i) {
    if (r.stop_ids[i] < 0 || r.stop_ids[i] >= limits.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("stop_token_ids[", i, "] = ", r.stop_ids[i],
                                                     " is out of range [0, ", limits.vocab_size, ")"));
    }
  }
  const int64_t prompt = static_cast<int64_t>(r.prompt.size());
  if (r.max_tokens < 1) {
    return absl::InvalidArgumentError(absl::StrCat("max_tokens = ", r.max_tokens, " is out of range [1, ",
                                                   std::max<int64_t>(1, limits.context_length - prompt), "]"));
  }
  const int64_t total = prompt + r.max_tokens;
  if (total > limits.context_length) {
    return absl::InvalidArgumentError(absl::StrCat("prompt (", prompt, " tokens) + max_tokens (", r.max_tokens, ") = ",
                                                   total, " exceeds the model's context of ", limits.context_length,
                                                   " tokens"));
  }
  // A preempted sequence is recomputed with every token it knows, so its peak is the whole request.
  const int64_t blocks = (total + limits.kv_block_size - 1) / limits.kv_block_size;
  if (blocks > limits.kv_num_blocks) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prompt (", prompt, " tokens) + max_tokens (", r.max_tokens, ") = ", total, " needs ", blocks,
        " KV blocks of ", limits.kv_block_size, " tokens but the cache has ", limits.kv_num_blocks, " (",
        static_cast<int64_t>(limits.kv_num_blocks) * limits.kv_block_size, " tokens)"));
  }
  RETURN_IF_ERROR(ValidateSamplingParams(r.sampling, limits.vocab_size));
  return absl::OkStatus();
}

}  // namespace inference
