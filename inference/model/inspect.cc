#include "inference/model/inspect.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "inference/model/model_config.h"
#include "inference/model/safetensors.h"
#include "inference/model/weights.h"

namespace inference {
namespace {

std::string ConfigLines(const ModelConfig& c) {
  std::string s = absl::StrCat(
      "config: ", c.architecture.empty() ? "?" : c.architecture, " (", c.model_type, ")\n",
      "  layers ", c.num_hidden_layers, ", hidden ", c.hidden_size, ", intermediate ", c.intermediate_size,
      ", heads ", c.num_attention_heads, " (kv ", c.num_key_value_heads, "), head_dim ", c.head_dim, "\n",
      "  vocab ", c.vocab_size, ", context ", c.max_position_embeddings, ", sliding_window ",
      c.sliding_window > 0 ? absl::StrCat(c.sliding_window) : std::string("none"), ", rope_theta ", c.rope_theta,
      ", rms_norm_eps ", c.rms_norm_eps, ", tie_word_embeddings ", c.tie_word_embeddings ? "true" : "false", "\n",
      "  bos ", c.bos_token_id, ", eos [", absl::StrJoin(c.eos_token_ids, ", "), "], torch_dtype ",
      c.torch_dtype.empty() ? "?" : c.torch_dtype, "\n");
  if (c.quant.method == QuantMethod::kAwqGemm) {
    absl::StrAppend(&s, "quantization: AWQ GEMM, ", c.quant.bits, " bit, group ", c.quant.group_size,
                    ", zero point\n");
  } else {
    absl::StrAppend(&s, "quantization: none\n");
  }
  return s;
}

}  // namespace

InspectResult InspectCheckpoint(const std::string& dir) {
  InspectResult r;
  r.report = absl::StrCat("model: ", dir, "\n");
  absl::StatusOr<ModelConfig> config = LoadModelConfig(dir);
  if (config.ok()) {
    r.report += ConfigLines(*config);
  } else {
    absl::StrAppend(&r.report, "config: ERROR ", config.status().message(), "\n");
  }
  absl::StatusOr<std::shared_ptr<const Checkpoint>> ckpt = Checkpoint::Open(dir);
  if (ckpt.ok()) {
    for (const auto& f : (*ckpt)->files()) {
      absl::StrAppend(&r.report, "file: ", f->path(), " (", f->file_size(), " bytes, header ", f->header_size(),
                      ", ", f->tensors().size(), " tensors)\n");
    }
    absl::StrAppend(&r.report, "tensors: ", (*ckpt)->tensors().size(), ", ", (*ckpt)->total_bytes(), " bytes\n");
    for (const auto& [name, t] : (*ckpt)->tensors()) {
      absl::StrAppend(&r.report, absl::StrFormat("  %-4s %-16s %12d  %s\n", DTypeName(t->dtype), t->ShapeString(),
                                                 t->nbytes, name));
    }
  } else {
    absl::StrAppend(&r.report, "tensors: ERROR ", ckpt.status().message(), "\n");
  }
  if (!config.ok()) {
    r.status = config.status();
  } else if (!ckpt.ok()) {
    r.status = ckpt.status();
  } else {
    r.status = BindModelWeights(*config, *ckpt).status();
  }
  r.valid = r.status.ok();
  absl::StrAppend(&r.report, "verdict: ", r.valid ? "valid" : absl::StrCat("INVALID: ", r.status.message()), "\n");
  return r;
}

}  // namespace inference
