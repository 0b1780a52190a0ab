// A CudaBackend over one of the shared tiny checkpoints, and the SeqStep builder the end-to-end GPU tests use:
// sequence s owns KV blocks [s * kTinyBlocksPerSeq, (s + 1) * kTinyBlocksPerSeq). Tests only.
//
//   TinyBackend b("awq-tiny-mistral", /*max_seqs=*/64, /*max_batch_tokens=*/2048, /*graphs=*/true);
//   StepBatch batch;
//   batch.seqs.push_back(TinyStep(0, prompt, 0, &params, &state));
//   ASSERT_TRUE(b.get().Execute(batch, &result).ok());
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "inference/cuda/cuda_backend.h"
#include "inference/model/weights.h"
#include "tests/gpu/gpu_test_util.h"

namespace inference::cuda::testing {

inline constexpr int kTinyBlocksPerSeq = 64;
inline constexpr int kTinyBlockSize = 16;  // CudaBackendOptions' default

class TinyBackend {
 public:
  TinyBackend(const std::string& model, int max_seqs, int max_batch_tokens, bool graphs) {
    auto w = LoadModelWeights(SharedDir() + "/assets/" + model);
    EXPECT_TRUE(w.ok()) << w.status();
    weights_ = std::make_unique<ModelWeights>(*std::move(w));
    CudaBackendOptions opt;
    opt.max_batch_tokens = max_batch_tokens;
    opt.max_seqs = max_seqs;
    opt.max_kv_blocks = int64_t{max_seqs} * kTinyBlocksPerSeq;
    opt.cuda_graphs = graphs;
    auto b = CudaBackend::Create(*weights_, opt);
    EXPECT_TRUE(b.ok()) << b.status();
    backend_ = *std::move(b);
  }
  CudaBackend& get() { return *backend_; }
  const ModelConfig& config() const { return weights_->config; }

 private:
  std::unique_ptr<ModelWeights> weights_;
  std::unique_ptr<CudaBackend> backend_;
};

// The step of `tokens` at positions [start, start + size) of sequence `seq`, sampling with `params` and `state`.
inline SeqStep TinyStep(int seq, const std::vector<int32_t>& tokens, int start, const SamplingParams* params,
                        SamplerState* state, bool sample = true) {
  SeqStep s;
  s.tokens = tokens;
  s.start_pos = start;
  const int blocks = (start + static_cast<int>(tokens.size()) + kTinyBlockSize - 1) / kTinyBlockSize;
  for (int b = 0; b < blocks; ++b) s.block_table.push_back(seq * kTinyBlocksPerSeq + b);
  s.sample = sample;
  s.sampling = params;
  s.sampler_state = state;
  return s;
}

}  // namespace inference::cuda::testing
