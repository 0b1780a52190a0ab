// The typed view of a checkpoint's weights: one struct per layer, named as in the Hugging Face checkpoint
// (model.layers.{i}.self_attn.q_proj, ...). Every tensor was checked for presence, dtype and shape against the
// config before a ModelWeights is returned; nothing is copied (views into the mapped files).
//
// Layouts, per linear with in_features K and out_features N (see awq_format.h for the AWQ packing):
//   dense: weight [N, K]                             (nn.Linear; F16, BF16 or F32)
//   AWQ:   qweight I32 [K, N/8], qzeros I32 [K/G, N/8], scales F16 [K/G, N]
// Vectors/embeddings: embed_tokens [vocab, hidden], norms [hidden], lm_head [vocab, hidden] (any float dtype).
//
// Ownership: ModelWeights holds the Checkpoint (shared), so its TensorInfo pointers stay valid as long as any
// copy of it lives. Thread-safety: immutable, read from any thread.
//
//   ASSIGN_OR_RETURN(ModelWeights w, LoadModelWeights("/models/mistral-awq"));
//   const LinearWeight& q = w.layers[0].q_proj;      // q.format, q.in_features, q.qweight->data ...
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "inference/model/model_config.h"
#include "inference/model/safetensors.h"

namespace inference {

struct LinearWeight {
  enum class Format { kDense, kAwq };
  Format format = Format::kDense;
  std::string name;              // "model.layers.0.self_attn.q_proj"
  int in_features = 0;           // K
  int out_features = 0;          // N
  int group_size = 0;            // AWQ only
  const TensorInfo* weight = nullptr;   // dense
  const TensorInfo* qweight = nullptr;  // AWQ
  const TensorInfo* qzeros = nullptr;   // AWQ
  const TensorInfo* scales = nullptr;   // AWQ
};

struct LayerWeights {
  const TensorInfo* input_layernorm = nullptr;
  LinearWeight q_proj, k_proj, v_proj, o_proj;      // self_attn
  const TensorInfo* post_attention_layernorm = nullptr;
  LinearWeight gate_proj, up_proj, down_proj;        // mlp
};

struct ModelWeights {
  ModelConfig config;
  std::shared_ptr<const Checkpoint> checkpoint;
  const TensorInfo* embed_tokens = nullptr;  // model.embed_tokens.weight
  const TensorInfo* norm = nullptr;          // model.norm.weight
  const TensorInfo* lm_head = nullptr;       // lm_head.weight; embed_tokens when tied and lm_head is absent
  std::vector<LayerWeights> layers;
};

// LoadModelConfig(dir) + Checkpoint::Open(dir) + BindModelWeights.
[[nodiscard]] absl::StatusOr<ModelWeights> LoadModelWeights(const std::string& dir);

// Checks every expected tensor of `config` in `checkpoint` and binds them. INVALID_ARGUMENT naming the file,
// tensor and expectation for a missing tensor, an unexpected one (anything the model does not use, except the
// rotary inv_freq buffers old exports carry), a wrong dtype or a wrong shape.
[[nodiscard]] absl::StatusOr<ModelWeights> BindModelWeights(const ModelConfig& config,
                                                            std::shared_ptr<const Checkpoint> checkpoint);

// The checkpoint names of layer i's linears with their (in, out) features, in the order listed in LayerWeights.
struct LinearShape { std::string name; int in_features; int out_features; };
std::vector<LinearShape> LayerLinearShapes(const ModelConfig& config, int layer);

}  // namespace inference
