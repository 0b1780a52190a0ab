#include "inference/cpu/cpu_model.h"

#include "absl/strings/str_cat.h"
#include "inference/model/awq_format.h"

namespace inference {
namespace {

std::vector<float> ToFloat(const TensorInfo& t) {
  std::vector<float> out(static_cast<size_t>(t.num_elements()));
  ToFloat32(t.dtype, t.data, out.size(), out.data());
  return out;
}

}  // namespace

CpuLinear DequantizeLinear(const LinearWeight& l) {
  CpuLinear out;
  out.in_features = l.in_features;
  out.out_features = l.out_features;
  const size_t K = static_cast<size_t>(l.in_features), N = static_cast<size_t>(l.out_features);
  if (l.format == LinearWeight::Format::kDense) {
    out.weight = ToFloat(*l.weight);  // already [N, K]
    return out;
  }
  std::vector<float> w_kn(K * N);
  DequantizeAwq(l.qweight->data, l.qzeros->data, l.scales->data, static_cast<int64_t>(K), static_cast<int64_t>(N),
                l.group_size, w_kn.data());
  out.weight.resize(K * N);
  for (size_t k = 0; k < K; ++k) {
    for (size_t n = 0; n < N; ++n) out.weight[n * K + k] = w_kn[k * N + n];
  }
  return out;
}

absl::StatusOr<CpuModel> LoadCpuModel(const ModelWeights& w) {
  if (w.embed_tokens == nullptr || w.norm == nullptr || w.lm_head == nullptr ||
      static_cast<int>(w.layers.size()) != w.config.num_hidden_layers) {
    return absl::InvalidArgumentError("LoadCpuModel: weights are not bound (use LoadModelWeights)");
  }
  CpuModel m;
  m.config = w.config;
  m.embed_tokens = ToFloat(*w.embed_tokens);
  m.norm = ToFloat(*w.norm);
  m.lm_head = {w.config.hidden_size, w.config.vocab_size, ToFloat(*w.lm_head)};
  for (const LayerWeights& L : w.layers) {
    CpuLayer c;
    c.input_layernorm = ToFloat(*L.input_layernorm);
    c.post_attention_layernorm = ToFloat(*L.post_attention_layernorm);
    c.q_proj = DequantizeLinear(L.q_proj);
    c.k_proj = DequantizeLinear(L.k_proj);
    c.v_proj = DequantizeLinear(L.v_proj);
    c.o_proj = DequantizeLinear(L.o_proj);
    c.gate_proj = DequantizeLinear(L.gate_proj);
    c.up_proj = DequantizeLinear(L.up_proj);
    c.down_proj = DequantizeLinear(L.down_proj);
    m.layers.push_back(std::move(c));
  }
  return m;
}

}  // namespace inference
