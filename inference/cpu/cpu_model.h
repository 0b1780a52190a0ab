// The CPU backend's weights: every tensor converted to float32 once, at load, AWQ linears dequantized
// (W = (q - z) * s, awq_format.h) and stored as nn.Linear's [out_features, in_features] so each output is one
// contiguous dot product. Memory: 4 bytes per parameter — meant for small models (tests, the tiny-stories demo).
//
// Ownership: plain data, owns its vectors. Thread-safety: immutable after LoadCpuModel.
//
//   ASSIGN_OR_RETURN(CpuModel m, LoadCpuModel(weights));
//   const CpuLinear& q = m.layers[0].q_proj;            // q.weight[n * q.in_features + k]
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "inference/model/model_config.h"
#include "inference/model/weights.h"

namespace inference {

struct CpuLinear {
  int in_features = 0;
  int out_features = 0;
  std::vector<float> weight;  // [out_features, in_features]
};

struct CpuLayer {
  std::vector<float> input_layernorm;
  CpuLinear q_proj, k_proj, v_proj, o_proj;
  std::vector<float> post_attention_layernorm;
  CpuLinear gate_proj, up_proj, down_proj;
};

struct CpuModel {
  ModelConfig config;
  std::vector<float> embed_tokens;  // [vocab, hidden]
  std::vector<float> norm;          // [hidden]
  CpuLinear lm_head;                // in: hidden, out: vocab
  std::vector<CpuLayer> layers;
};

// Converts validated weights (LoadModelWeights) to float32.
[[nodiscard]] absl::StatusOr<CpuModel> LoadCpuModel(const ModelWeights& weights);

// One linear as float32 [out, in], whatever its checkpoint format (also used by tools and tests).
CpuLinear DequantizeLinear(const LinearWeight& linear);

}  // namespace inference
