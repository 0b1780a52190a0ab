// The model's shape and quantization, read from a Hugging Face folder (config.json, quant_config.json,
// generation_config.json). Plain data: copy freely, thread-safe to read.
//
//   ASSIGN_OR_RETURN(ModelConfig cfg, LoadModelConfig("/models/mistral"));
//   int kv_dim = cfg.num_key_value_heads * cfg.head_dim;
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/json.h"

namespace inference {

enum class QuantMethod { kNone, kAwqGemm };

// AWQ "GEMM" only (the layout of shared/tools/awq_reference.py): 4 bits, zero point, any group size that divides
// every linear's in_features. GEMV and other methods are rejected at load.
struct QuantConfig {
  QuantMethod method = QuantMethod::kNone;
  int bits = 16;        // 4 for AWQ
  int group_size = 0;   // AWQ: in-features per (scale, zero) group; divides every linear's in_features
  bool zero_point = true;
};

struct ModelConfig {
  std::string architecture;   // "MistralForCausalLM" / "LlamaForCausalLM"
  std::string model_type;     // "mistral" / "llama"
  int vocab_size = 0;
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int num_key_value_heads = 0;
  int head_dim = 0;                  // config's head_dim, else hidden_size / num_attention_heads
  int max_position_embeddings = 0;   // the context length
  int sliding_window = 0;            // 0: none (config null or absent)
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-5;
  bool tie_word_embeddings = false;
  std::string torch_dtype;           // as written ("float16", "bfloat16", ...)
  int bos_token_id = 1;
  std::vector<int> eos_token_ids;    // generation_config.json's eos_token_id (int or list), else config's
  QuantConfig quant;
};

// Reads DIR/config.json, the quantization from config.json:quantization_config or DIR/quant_config.json, and
// DIR/generation_config.json when present. Errors name the file and the field.
[[nodiscard]] absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& dir);

// The same from parsed documents. `quant` (quant_config.json) and `generation` may be null; `source` names the
// config in error messages. Also checks the shape's consistency (heads divide evenly, the AWQ group size divides
// every linear's in_features and 8 divides every out_features).
[[nodiscard]] absl::StatusOr<ModelConfig> ParseModelConfig(const base::Json& config, const base::Json* quant,
                                                           const base::Json* generation, const std::string& source);

// config.json's quantization_config object for `quant` (AutoAWQ's spelling), e.g. when writing a checkpoint.
base::Json QuantizationConfigJson(const QuantConfig& quant);

}  // namespace inference
