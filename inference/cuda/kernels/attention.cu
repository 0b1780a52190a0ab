// Paged attention (attention.h). Pass 1: each warp runs an online softmax over its share of the keys for all the
// query heads of one KV head and stores (max, sum, unnormalized output); pass 2 merges the partials of all warps
// and splits of a (token, head).
#include <algorithm>
#include <cfloat>

#include "absl/strings/str_cat.h"
#include "inference/cuda/kernels/attention.h"

namespace inference::cuda {
namespace {

constexpr int kPartials = 1;  // records per split (the CTA merges its warps)
constexpr int kMaxGridZ = 65535;            // tokens ride on gridDim.z
constexpr int kKeysPerIter = 4;             // keys a warp works on at once

// Partial record: [max, sum, out[head_dim]], indexed by the compact query index (blockIdx), not the row.
__device__ __forceinline__ float* Partial(const PagedAttentionParams& p, int t, int h, int part) {
  const int per_head = p.splits * kPartials;
  return p.workspace + ((static_cast<int64_t>(t) * p.heads + h) * per_head + part) * (p.head_dim + 2);
}

template <int HD>
__global__ void __launch_bounds__(kAttentionWarps * 32) AttentionKernel(PagedAttentionParams p) {
  constexpr int E = HD >= 32 ? HD / 32 : 1;  // elements of a head each lane holds (lanes >= HD idle when HD < 32)
  const int split = blockIdx.x, kvh = blockIdx.y, t = p.rows ? p.rows[blockIdx.z] : blockIdx.z;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int group = p.heads / p.kv_heads;
  const int pos = p.query_pos[t];
  // Attends(pos, j, window): pos - window < j <= pos.
  const int lo = p.window > 0 ? max(0, pos - p.window + 1) : 0;
  const int len = pos + 1 - lo;
  const int per_split = (len + p.splits - 1) / p.splits;
  const int begin = lo + split * per_split, end = min(pos + 1, begin + per_split);
  const int32_t* table = p.block_tables + static_cast<int64_t>(p.query_seq[t]) * p.max_blocks;
  const bool active = lane * E < HD;

  float q[kAttentionMaxGroup][E], acc[kAttentionMaxGroup][E], m[kAttentionMaxGroup], l[kAttentionMaxGroup];
#pragma unroll
  for (int g = 0; g < kAttentionMaxGroup; ++g) {
    m[g] = -FLT_MAX;
    l[g] = 0.f;
#pragma unroll
    for (int e = 0; e < E; ++e) {
      acc[g][e] = 0.f;
      q[g][e] = g < group && active ? __half2float(p.q[t * p.ldq + (kvh * group + g) * HD + lane * E + e]) * p.scale
                                    : 0.f;
    }
  }

  // kKeysPerIter keys per warp iteration: their loads and shuffle chains are independent, which hides latency.
  for (int j0 = begin + warp * kKeysPerIter; j0 < end; j0 += kAttentionWarps * kKeysPerIter) {
    float k[kKeysPerIter][E], v[kKeysPerIter][E];
#pragma unroll
    for (int u = 0; u < kKeysPerIter; ++u) {
      const int j = min(j0 + u, end - 1);  // keys past the end are loaded (valid) and masked below
      const int64_t slot = static_cast<int64_t>(table[j / p.block_size]) * p.block_size + j % p.block_size;
      const int64_t off = (slot * p.kv_heads + kvh) * HD + lane * E;
#pragma unroll
      for (int e = 0; e < E; ++e) {
        k[u][e] = active ? __half2float(p.k_cache[off + e]) : 0.f;
        v[u][e] = active ? __half2float(p.v_cache[off + e]) : 0.f;
      }
    }
#pragma unroll
    for (int g = 0; g < kAttentionMaxGroup; ++g) {
      if (g >= group) break;
      float s[kKeysPerIter];
#pragma unroll
      for (int u = 0; u < kKeysPerIter; ++u) {
        s[u] = 0.f;
#pragma unroll
        for (int e = 0; e < E; ++e) s[u] = fmaf(q[g][e], k[u][e], s[u]);
      }
#pragma unroll
      for (int o = 16; o > 0; o /= 2)
#pragma unroll
        for (int u = 0; u < kKeysPerIter; ++u) s[u] += __shfl_xor_sync(0xffffffffu, s[u], o);
      float m_new = m[g];
#pragma unroll
      for (int u = 0; u < kKeysPerIter; ++u)
        if (j0 + u < end) m_new = fmaxf(m_new, s[u]);
      const float corr = __expf(m[g] - m_new);
      float w[kKeysPerIter];
      l[g] *= corr;
#pragma unroll
      for (int u = 0; u < kKeysPerIter; ++u) {
        w[u] = j0 + u < end ? __expf(s[u] - m_new) : 0.f;
        l[g] += w[u];
      }
#pragma unroll
      for (int e = 0; e < E; ++e) {
        float a = acc[g][e] * corr;
#pragma unroll
        for (int u = 0; u < kKeysPerIter; ++u) a = fmaf(w[u], v[u][e], a);
        acc[g][e] = a;
      }
      m[g] = m_new;
    }
  }

  // Merge the warps' partial softmaxes in shared memory; one record per (split, head) leaves the CTA.
  __shared__ float red[kAttentionWarps][kAttentionMaxGroup][HD + 2];
  for (int g = 0; g < group && g < kAttentionMaxGroup; ++g) {
    if (lane == 0) red[warp][g][0] = m[g], red[warp][g][1] = l[g];
    if (active) {
#pragma unroll
      for (int e = 0; e < E; ++e) red[warp][g][2 + lane * E + e] = acc[g][e];
    }
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < group * HD; idx += kAttentionWarps * 32) {
    const int g = idx / HD, d = idx % HD;
    float mx = -FLT_MAX;
    for (int w = 0; w < kAttentionWarps; ++w)
      if (red[w][g][1] > 0.f) mx = fmaxf(mx, red[w][g][0]);
    float sum = 0.f, out = 0.f;
    for (int w = 0; w < kAttentionWarps; ++w) {
      if (red[w][g][1] <= 0.f) continue;
      const float scale = __expf(red[w][g][0] - mx);
      sum += red[w][g][1] * scale;
      out += red[w][g][2 + d] * scale;
    }
    float* rec = Partial(p, blockIdx.z, kvh * group + g, split);
    if (d == 0) rec[0] = mx, rec[1] = sum;
    rec[2 + d] = out;
  }
}

// One CTA per (token, head), one thread per output element.
__global__ void CombineKernel(PagedAttentionParams p) {
  const int t = p.rows ? p.rows[blockIdx.x] : blockIdx.x, h = blockIdx.y, d = threadIdx.x;
  // One pass, rescaling the running sums whenever a split brings a larger max.
  float mx = -FLT_MAX, sum = 0.f, out = 0.f;
#pragma unroll 4
  for (int i = 0; i < p.splits; ++i) {
    const float* rec = Partial(p, blockIdx.x, h, i);
    const float rm = rec[0], rl = rec[1], ro = rec[2 + d];
    if (rl <= 0.f) continue;
    const float m_new = fmaxf(mx, rm);
    const float a = __expf(mx - m_new), b = __expf(rm - m_new);
    sum = sum * a + rl * b;
    out = out * a + ro * b;
    mx = m_new;
  }
  p.out[static_cast<int64_t>(t) * p.heads * p.head_dim + h * p.head_dim + d] = __float2half_rn(out / sum);
}

// Shape dispatch: head_dim picks the instantiation (lanes hold head_dim / 32 elements each).
struct AttentionEntry {
  int head_dim;
  void (*kernel)(PagedAttentionParams);
};
constexpr AttentionEntry kAttentionTable[] = {
    {8, AttentionKernel<8>},   {16, AttentionKernel<16>},  {32, AttentionKernel<32>},
    {64, AttentionKernel<64>}, {128, AttentionKernel<128>},
};

}  // namespace

int PagedAttentionSplits(int tokens, int kv_heads, int sm_count) {
  constexpr int kWaves = 2;
  const int ctas = std::max(1, tokens * kv_heads);
  return std::clamp((kWaves * sm_count + ctas - 1) / ctas, 1, kAttentionMaxSplits);
}

size_t PagedAttentionWorkspaceBytes(int tokens, int heads, int head_dim, int splits) {
  return static_cast<size_t>(tokens) * heads * splits * kPartials * (head_dim + 2) * sizeof(float);
}

absl::Status ValidatePagedAttention(const PagedAttentionParams& p) {
  if (!p.q || !p.k_cache || !p.v_cache || !p.block_tables || !p.query_seq || !p.query_pos || !p.workspace || !p.out)
    return absl::InvalidArgumentError("paged attention: null pointer");
  const bool hd_ok = std::any_of(std::begin(kAttentionTable), std::end(kAttentionTable),
                                 [&](const AttentionEntry& e) { return e.head_dim == p.head_dim; });
  if (!hd_ok) return absl::InvalidArgumentError(absl::StrCat("paged attention: head_dim=", p.head_dim, " not in {8, 16, 32, 64, 128}"));
  if (p.kv_heads <= 0 || p.heads % p.kv_heads != 0 || p.heads / p.kv_heads > kAttentionMaxGroup)
    return absl::InvalidArgumentError(absl::StrCat("paged attention: heads=", p.heads, " kv_heads=", p.kv_heads,
                                                   ": group must be 1..", kAttentionMaxGroup));
  if (p.tokens <= 0 || p.tokens > kMaxGridZ || p.block_size <= 0 || p.max_blocks <= 0 || p.window < 0)
    return absl::InvalidArgumentError(absl::StrCat("paged attention: tokens=", p.tokens, " block_size=", p.block_size,
                                                   " max_blocks=", p.max_blocks, " window=", p.window));
  if (p.splits < 1 || p.splits > kAttentionMaxSplits)
    return absl::InvalidArgumentError(absl::StrCat("paged attention: splits=", p.splits, " outside [1, ", kAttentionMaxSplits, "]"));
  return absl::OkStatus();
}

void LaunchPagedAttention(const PagedAttentionParams& p, cudaStream_t stream) {
  for (const AttentionEntry& e : kAttentionTable) {
    if (e.head_dim != p.head_dim) continue;
    e.kernel<<<dim3(p.splits, p.kv_heads, p.tokens), kAttentionWarps * 32, 0, stream>>>(p);
    CombineKernel<<<dim3(p.tokens, p.heads), p.head_dim, 0, stream>>>(p);
    return;
  }
}

}  // namespace inference::cuda
