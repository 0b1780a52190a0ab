#include "inference/cpu/mistral_forward.h"

#include "inference/cpu/cpu_ops.h"

namespace inference {

KvPools MakeKvPools(const KvLayout& layout) {
  KvPools kv;
  kv.layout = layout;
  kv.k.assign(layout.num_layers, std::vector<float>(layout.pool_elements()));
  kv.v.assign(layout.num_layers, std::vector<float>(layout.pool_elements()));
  return kv;
}

void MistralForward(const CpuModel& m, const std::vector<TokenRow>& rows, const std::vector<int32_t>& tokens,
                    const std::vector<int>& logit_rows, KvPools& kv, ThreadPool& pool, ForwardScratch& s,
                    std::vector<float>* logits) {
  const ModelConfig& c = m.config;
  const int T = static_cast<int>(tokens.size()), H = c.hidden_size, D = c.head_dim;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const size_t q_dim = static_cast<size_t>(c.num_attention_heads) * D, kv_dim = kv.layout.token_stride();
  for (std::vector<float>* b : {&s.x, &s.h}) b->resize(static_cast<size_t>(T) * H);
  for (std::vector<float>* b : {&s.q, &s.attn}) b->resize(T * q_dim);
  for (std::vector<float>* b : {&s.k, &s.v}) b->resize(T * kv_dim);
  for (std::vector<float>* b : {&s.gate, &s.up}) b->resize(static_cast<size_t>(T) * c.intermediate_size);
  std::vector<int32_t> positions(T);
  for (int t = 0; t < T; ++t) positions[t] = rows[t].position;
  const std::vector<float> inv_freq = RopeInvFreq(c.rope_theta, D);

  Embed(m.embed_tokens, H, tokens, s.x.data());
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const CpuLayer& L = m.layers[l];
    // self_attn
    RmsNorm(s.x.data(), L.input_layernorm.data(), T, H, eps, s.h.data());
    Linear(pool, s.h.data(), T, L.q_proj, s.q.data());
    Linear(pool, s.h.data(), T, L.k_proj, s.k.data());
    Linear(pool, s.h.data(), T, L.v_proj, s.v.data());
    ApplyRope(s.q.data(), T, c.num_attention_heads, D, positions.data(), inv_freq);
    ApplyRope(s.k.data(), T, c.num_key_value_heads, D, positions.data(), inv_freq);
    WriteKv(kv.layout, kv.k[l].data(), kv.v[l].data(), rows, s.k.data(), s.v.data());
    PagedAttention(pool, {&kv.layout, kv.k[l].data(), kv.v[l].data(), c.num_attention_heads, c.sliding_window}, rows,
                   s.q.data(), s.attn.data());
    Linear(pool, s.attn.data(), T, L.o_proj, s.h.data());
    AddInPlace(s.x.data(), s.h.data(), s.x.size());
    // mlp
    RmsNorm(s.x.data(), L.post_attention_layernorm.data(), T, H, eps, s.h.data());
    Linear(pool, s.h.data(), T, L.gate_proj, s.gate.data());
    Linear(pool, s.h.data(), T, L.up_proj, s.up.data());
    SiluMul(s.gate.data(), s.up.data(), s.gate.size());
    Linear(pool, s.gate.data(), T, L.down_proj, s.h.data());
    AddInPlace(s.x.data(), s.h.data(), s.x.size());
  }
  // norm + lm_head, only for the rows that need logits
  const int R = static_cast<int>(logit_rows.size());
  std::vector<float> last(static_cast<size_t>(R) * H);
  for (int r = 0; r < R; ++r) {
    RmsNorm(s.x.data() + static_cast<size_t>(logit_rows[r]) * H, m.norm.data(), 1, H, eps, last.data() + r * H);
  }
  logits->resize(static_cast<size_t>(R) * c.vocab_size);
  Linear(pool, last.data(), R, m.lm_head, logits->data());
}

}  // namespace inference
