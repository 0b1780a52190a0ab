// Helpers for the scheduler-stage tests: sequences built on plain data.
#pragma once

#include <numeric>
#include <vector>

#include "inference/engine/sequence.h"

namespace inference::testing {

inline EngineRequest MakeRequest(int32_t prompt_len, int32_t max_tokens, std::vector<int32_t> stop_ids = {}) {
  EngineRequest r;
  r.prompt.resize(prompt_len);
  std::iota(r.prompt.begin(), r.prompt.end(), 3);
  r.sampling.temperature = 0;
  r.max_tokens = max_tokens;
  r.stop_ids = std::move(stop_ids);
  return r;
}

inline SeqPtr MakeSeq(SeqId id, int32_t prompt_len, int32_t max_tokens = 8, RequestSink sink = {}) {
  return std::make_unique<Sequence>(id, MakeRequest(prompt_len, max_tokens), std::move(sink), EngineClock::now());
}

}  // namespace inference::testing
