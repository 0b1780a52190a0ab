// Writing checkpoints: a random model in the exact AWQ GEMM layout for any config (`awqserve model synth`), and
// round-to-nearest AWQ quantization of a float checkpoint (`awqserve model quantize`). Both write a folder that
// LoadModelWeights accepts: config.json (with quantization_config), generation_config.json and model.safetensors
// (tensors sorted by name, as awq_reference.write_safetensors and the Hugging Face exports write them).
//
// Thread-compatible; large outputs stream tensor by tensor (peak memory: one linear layer).
//
//   SynthOptions o{.config_path = "mistral/config.json", .out_dir = "/tmp/m", .seed = 7};
//   RETURN_IF_ERROR(SynthCheckpoint(o, [](const Progress& p) { ... }));
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/json.h"
#include "inference/model/model_config.h"
#include "inference/model/safetensors_writer.h"

namespace inference {

struct Progress {
  size_t tensors_done = 0;
  size_t tensors_total = 0;
  size_t bytes_done = 0;
  size_t bytes_total = 0;
  std::string tensor;  // the tensor just written
};
using ProgressFn = std::function<void(const Progress&)>;

struct SynthOptions {
  std::string config_path;   // a Hugging Face config.json (quantization_config optional)
  std::string out_dir;       // created if missing
  uint64_t seed = 0;
  int group_size = 0;        // 0: the config's quantization_config group_size, else 128 (AutoAWQ's default)
  // Multiplies the q_proj and k_proj scales: attention logits grow by its square, making attention peaked like a
  // trained model's (shared/tools/README.md: uniform attention on random weights is badly conditioned in fp16).
  float qk_scale = 1.0f;
};

// Writes a random checkpoint: AWQ linears with uniform 4-bit values, zero points near the middle and fp16 scales
// sized so each linear keeps activations near unit variance; fp16 embeddings ~ N(0, 1), norms 1, lm_head
// ~ N(0, 1/hidden). The same options give the same bytes.
[[nodiscard]] absl::Status SynthCheckpoint(const SynthOptions& options, const ProgressFn& progress = nullptr);

// The tensors SynthCheckpoint writes for `config` (AWQ layout, sorted by name).
std::vector<TensorSpec> AwqTensorSpecs(const ModelConfig& config);

struct QuantizeOptions {
  std::string in_dir;        // a float checkpoint (F16, BF16 or F32)
  std::string out_dir;
  int group_size = 128;
  // Zero-pads the MLP width up to a multiple of lcm(group_size, 8) when needed (exact: silu(0) * 0 = 0; the
  // padded down_proj columns are zero). Without it such a model is rejected.
  bool pad_intermediate = true;
};

// Quantizes every linear with QuantizeRtn (awq_format.h) into the AWQ GEMM layout; embeddings, norms and lm_head
// become fp16. Copies the folder's other files (tokenizer, generation config, chat template) and writes config.json
// with quantization_config added (and intermediate_size updated when padded).
[[nodiscard]] absl::Status QuantizeCheckpoint(const QuantizeOptions& options, const ProgressFn& progress = nullptr);

// Writes `j` as Hugging Face writes its JSON files (indent 2, UTF-8 kept, trailing newline).
[[nodiscard]] absl::Status WriteConfigJson(const std::string& path, const base::Json& j);

}  // namespace inference
