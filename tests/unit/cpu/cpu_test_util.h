// Helpers for the CPU backend tests: building step batches over simple block tables. Tests only.
#pragma once

#include <cstdint>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "inference/cpu/cpu_backend.h"
#include "inference/engine/sampler.h"
#include "inference/model/weights.h"

namespace inference::testing {

inline std::string SharedAsset(const std::string& rel) { return std::string(AWQSERVE_SHARED_DIR) + "/assets/" + rel; }

inline std::unique_ptr<CpuBackend> MakeBackend(const std::string& asset, CpuBackendOptions options = {}) {
  absl::StatusOr<ModelWeights> w = LoadModelWeights(SharedAsset(asset));
  EXPECT_TRUE(w.ok()) << w.status();
  if (!w.ok()) return nullptr;
  absl::StatusOr<std::unique_ptr<CpuBackend>> b = CreateCpuBackend(*w, options);
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? std::move(*b) : nullptr;
}

// Blocks first, first+1, ... for a sequence of up to `positions` tokens.
inline std::vector<int32_t> Blocks(int first, int positions, int block_size) {
  std::vector<int32_t> t((positions + block_size - 1) / block_size);
  std::iota(t.begin(), t.end(), first);
  return t;
}

inline SeqStep Step(std::vector<int32_t> tokens, int32_t start_pos, std::vector<int32_t> table, bool sample = true) {
  SeqStep s;
  s.tokens = std::move(tokens);
  s.start_pos = start_pos;
  s.block_table = std::move(table);
  s.sample = sample;
  return s;
}

inline StepBatch One(SeqStep s) {
  StepBatch b;
  b.seqs.push_back(std::move(s));
  return b;
}

// Logits of the last token after feeding `ids` one token at a time from position `from` (the decode path).
inline std::vector<std::vector<float>> DecodeEach(CpuBackend& b, const std::vector<int32_t>& ids,
                                                  const std::vector<int32_t>& table) {
  std::vector<std::vector<float>> out;
  for (size_t p = 0; p < ids.size(); ++p) {
    std::vector<std::vector<float>> l;
    absl::Status st = b.ExecuteLogits(One(Step({ids[p]}, static_cast<int32_t>(p), table)), &l);
    EXPECT_TRUE(st.ok()) << st;
    if (!st.ok() || l.size() != 1) return out;
    out.push_back(std::move(l[0]));
  }
  return out;
}

// Greedy generation through Execute (the engine's sampler): prefill `prompt`, then one token per step.
inline std::vector<int32_t> Greedy(CpuBackend& b, const std::vector<int32_t>& prompt, int steps,
                                   const std::vector<int32_t>& stop_ids = {}) {
  SamplingParams params;
  params.temperature = 0.0f;
  SamplerState state;
  InitSamplerState(params, prompt, &state);
  const std::vector<int32_t> table = Blocks(0, static_cast<int>(prompt.size()) + steps, b.info().kv.block_size);
  std::vector<int32_t> out;
  SeqStep s = Step(prompt, 0, table);
  for (int i = 0; i < steps; ++i) {
    s.sampling = &params;
    s.sampler_state = &state;
    StepResult r;
    absl::Status st = b.Execute(One(s), &r);
    EXPECT_TRUE(st.ok()) << st;
    if (!st.ok()) break;
    const int32_t id = r.tokens[0].id;
    out.push_back(id);
    if (std::find(stop_ids.begin(), stop_ids.end(), id) != stop_ids.end()) break;
    s.start_pos += static_cast<int32_t>(s.tokens.size());
    s.tokens = {id};
  }
  return out;
}

// max |a - b| / max |b|.
inline double RelErr(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    num = std::max(num, std::abs(static_cast<double>(a[i]) - b[i]));
    den = std::max(den, std::abs(static_cast<double>(b[i])));
  }
  return num / den;
}

}  // namespace inference::testing
