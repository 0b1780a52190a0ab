#include "inference/cpu/paged_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace inference {
namespace {

// Where key/value position j of a row lives in one layer's pool (offset of kv head 0).
size_t SlotOffset(const KvLayout& layout, const TokenRow& row, int64_t j) {
  const int32_t block = (*row.block_table)[j / layout.block_size];
  return layout.Offset(block, static_cast<int>(j % layout.block_size), 0);
}

}  // namespace

void WriteKv(const KvLayout& layout, float* k_pool, float* v_pool, const std::vector<TokenRow>& rows, const float* k,
             const float* v) {
  const size_t stride = layout.token_stride();
  for (size_t t = 0; t < rows.size(); ++t) {
    const size_t off = SlotOffset(layout, rows[t], rows[t].position);
    std::memcpy(k_pool + off, k + t * stride, stride * sizeof(float));
    std::memcpy(v_pool + off, v + t * stride, stride * sizeof(float));
  }
}

void PagedAttention(ThreadPool& pool, const PagedAttentionParams& p, const std::vector<TokenRow>& rows, const float* q,
                    float* out) {
  const KvLayout& L = *p.layout;
  const int D = L.head_dim;
  const int group = p.num_heads / L.num_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const int64_t tasks = static_cast<int64_t>(rows.size()) * p.num_heads;
  pool.ParallelFor(tasks, [&](int64_t begin, int64_t end) {
    std::vector<float> scores;
    std::vector<int64_t> keys;
    for (int64_t task = begin; task < end; ++task) {
      const TokenRow& row = rows[task / p.num_heads];
      const int h = static_cast<int>(task % p.num_heads);
      const int kv_head = h / group;
      const float* qh = q + static_cast<size_t>(task) * D;
      const int64_t i = row.position;
      keys.clear();
      scores.clear();
      float max_score = -std::numeric_limits<float>::infinity();
      for (int64_t j = std::max<int64_t>(0, p.window > 0 ? i - p.window : 0); j <= i; ++j) {
        if (!Attends(i, j, p.window)) continue;
        const float* kj = p.k_pool + SlotOffset(L, row, j) + static_cast<size_t>(kv_head) * D;
        float s = 0;
        for (int d = 0; d < D; ++d) s += qh[d] * kj[d];
        s *= scale;
        keys.push_back(j);
        scores.push_back(s);
        max_score = std::max(max_score, s);
      }
      float sum = 0;
      for (float& s : scores) {
        s = std::exp(s - max_score);
        sum += s;
      }
      float* o = out + static_cast<size_t>(task) * D;
      std::fill(o, o + D, 0.0f);
      for (size_t n = 0; n < keys.size(); ++n) {
        const float w = scores[n] / sum;
        const float* vj = p.v_pool + SlotOffset(L, row, keys[n]) + static_cast<size_t>(kv_head) * D;
        for (int d = 0; d < D; ++d) o[d] += w * vj[d];
      }
    }
  });
}

}  // namespace inference
