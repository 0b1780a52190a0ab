// A bookkeeping-only Backend for scheduler tests where numerics do not matter: its "KV cache" is a pool of token
// ids laid out by block tables exactly like a real backend's K/V, and the token it "samples" for a sequence is a
// hash of every token the last position attends to (kv_layout.h's Attends), read back through the block table.
// So a wrong block table, a block shared by two live sequences, or a recycled block still read shows up as a
// different token than NextTokenReference computes from the plain token list. It errors on reads of
// kInvalidBlock or on unwritten slots instead of crashing.
//
// Thread-safety: none (the engine thread only).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "inference/engine/backend.h"
#include "inference/engine/rng.h"
#include "inference/engine/sampler.h"

namespace inference::testing {

inline constexpr int32_t kUnwritten = -1;

// The token a correct engine produces after `tokens` (all positions the last one attends to, in order).
inline int32_t NextTokenReference(const std::vector<int32_t>& tokens, int32_t window, int32_t vocab) {
  const int64_t i = static_cast<int64_t>(tokens.size()) - 1;
  uint64_t h = 0;
  for (int64_t j = 0; j <= i; ++j) {
    if (Attends(i, j, window)) h = SplitMixFinalize(h ^ (static_cast<uint64_t>(tokens[j]) * 0x100000001B3ull + j));
  }
  return static_cast<int32_t>(h % static_cast<uint64_t>(vocab));
}

class TokenPoolBackend : public Backend {
 public:
  TokenPoolBackend(int32_t num_blocks, int32_t block_size, int32_t window, int32_t vocab)
      : window_(window), vocab_(vocab), pool_(static_cast<size_t>(num_blocks) * block_size, kUnwritten) {
    info_.name = "token-pool";
    info_.kv.num_layers = 1;
    info_.kv.num_kv_heads = 1;
    info_.kv.head_dim = 1;
    info_.kv.block_size = block_size;
    info_.kv.num_blocks = num_blocks;
  }

  const BackendInfo& info() const override { return info_; }

  absl::Status Execute(const StepBatch& batch, StepResult* result) override {
    batches.push_back(batch);
    if (fail_next) {
      fail_next = false;
      return absl::InternalError("injected backend failure");
    }
    result->tokens.assign(batch.seqs.size(), SampledToken{});
    const int32_t bs = info_.kv.block_size;
    for (size_t k = 0; k < batch.seqs.size(); ++k) {
      const SeqStep& s = batch.seqs[k];
      for (size_t t = 0; t < s.tokens.size(); ++t) {
        const int64_t pos = s.start_pos + static_cast<int64_t>(t);
        const int32_t block = s.block_table.at(pos / bs);
        if (block == kInvalidBlock) return absl::InternalError(absl::StrCat("write to a recycled block at ", pos));
        pool_[static_cast<size_t>(block) * bs + pos % bs] = s.tokens[t];
      }
      if (!s.sample) continue;
      const int64_t i = s.start_pos + static_cast<int64_t>(s.tokens.size()) - 1;
      std::vector<int32_t> attended(static_cast<size_t>(i + 1), 0);
      for (int64_t j = 0; j <= i; ++j) {
        if (!Attends(i, j, window_)) continue;
        const int32_t block = s.block_table.at(j / bs);
        if (block == kInvalidBlock) return absl::InternalError(absl::StrCat("read of a recycled block at ", j));
        attended[j] = pool_[static_cast<size_t>(block) * bs + j % bs];
        if (attended[j] == kUnwritten) return absl::InternalError(absl::StrCat("read of an unwritten slot at ", j));
      }
      SampledToken& out = result->tokens[k];
      out.id = NextTokenReference(attended, window_, vocab_);
      out.logprob = -0.5f;
      if (s.sampling->logprobs_top_n > 0) out.top.assign(s.sampling->logprobs_top_n, {out.id, -0.5f});
      RecordToken(out.id, s.sampler_state);
    }
    return absl::OkStatus();
  }

  absl::Status ExecuteLogits(const StepBatch&, std::vector<std::vector<float>>*) override {
    return absl::UnimplementedError("token-pool backend has no logits");
  }

  std::vector<StepBatch> batches;  // every batch Execute saw
  bool fail_next = false;

 private:
  BackendInfo info_;
  int32_t window_;
  int32_t vocab_;
  std::vector<int32_t> pool_;
};

// The tokens a correct engine generates for `prompt` (no stop ids).
inline std::vector<int32_t> GenerateReference(std::vector<int32_t> prompt, int32_t n, int32_t window, int32_t vocab) {
  std::vector<int32_t> out;
  for (int32_t k = 0; k < n; ++k) {
    out.push_back(NextTokenReference(prompt, window, vocab));
    prompt.push_back(out.back());
  }
  return out;
}

}  // namespace inference::testing
