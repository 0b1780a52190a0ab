// Paged decode attention (attention.h): the CUDA-core kernel for head_dim 8..32, the launch dispatch, and the
// worker count and workspace of both kernels (the tensor-core kernel for head_dim 64 and 128 lives in
// attention_decode_mma.cu; the split records and their fold in attention_decode.cuh).
//
// A CTA (kAttentionWarps warps) serves one (worker, KV head, query) and all the query heads of that KV head. Worker w
// takes the query's splits w, w + workers, ... (PagedAttentionKeySplits). Inside a split, each row group of
// RowShape::kLanes lanes reads whole K/V rows in 16-byte vectors and runs its own online softmax over every
// kSlots-th key (scores reduced across the row's lanes only); the CTA then merges its row groups in slot order into
// one split record (max, sum, unnormalized output). Records are folded in split order with Merge: in registers when
// one worker holds all the splits, else by the worker that arrives last (an arrival counter per (query, KV head) in
// the workspace). Same records, same order, same Merge: same bits. Scores live in the log2 domain (q is pre-scaled
// by scale * log2(e)).
#include <algorithm>
#include <cfloat>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "inference/cuda/kernels/attention.h"
#include "inference/cuda/kernels/attention_decode.cuh"
#include "inference/cuda/kernels/pdl.cuh"

namespace inference::cuda {
namespace {

using namespace decode_attention;  // NOLINT: the shared internals of this op family

// Resident CTAs per SM the worker count aims at: the tensor-core kernel's 128 registers a thread allow 4.
constexpr int kCtasPerSm = 4;

// How a warp covers key rows of head_dim HD halves: kLanes lanes per row, each holding kVecs 16-byte vectors; lane
// column c holds dims v * kLanes * 8 + c * 8 + [0, 8) of vector v, so a warp load reads whole 128-byte segments.
template <int HD>
struct RowShape {
  static constexpr int kLanes = HD >= 64 ? 8 : HD / 8;
  static constexpr int kVecs = HD / (8 * kLanes);              // 2 at head_dim 128
  static constexpr int kElems = 8 * kVecs;                     // elements of a row per lane
  static constexpr int kPerWarp = 32 / kLanes;                 // rows per warp load
  static constexpr int kSlots = kAttentionWarps * kPerWarp;    // row groups (online softmaxes) per CTA
};

// Keys each row group loads per round (K and V of all of them in flight at once): 4, or 2 where the group's
// accumulators (G x kElems floats) would otherwise leave too few registers.
template <int HD, int G>
constexpr int KeysInFlight() { return G * RowShape<HD>::kElems > 64 ? 2 : 4; }

template <int HD, int G>
struct Smem {
  static constexpr int kQ = G * HD;                            // q, scaled, [G][HD]
  static constexpr int kPartA = RowShape<HD>::kSlots * G * HD; // [slot][G][HD]
  static constexpr int kPartML = RowShape<HD>::kSlots * G;     // [slot][G], for max and sum each
  static constexpr size_t kBytes = sizeof(float) * (kQ + kPartA + 2 * kPartML);
};

__device__ __forceinline__ uint32_t Word(const uint4& x, int w) { return w == 0 ? x.x : w == 1 ? x.y : w == 2 ? x.z : x.w; }

__device__ __forceinline__ float2 HalvesToFloat2(uint32_t bits) {
  __half2 h;
  memcpy(&h, &bits, sizeof(h));
  return __half22float2(h);
}

template <int HD, int G>
__global__ void __launch_bounds__(kThreads) DecodeAttentionKernel(const PagedAttentionParams p) {
  PdlLaunchDependents();  // the o_proj GEMM after it may start loading its weights (pdl.cuh)
  PdlWait();
  using R = RowShape<HD>;
  constexpr int U = KeysInFlight<HD, G>();
  constexpr int kRoundKeys = R::kSlots * U;
  constexpr int kOwn = OwnedElems<HD, G>();
  extern __shared__ __align__(16) float smem[];
  float* const q_s = smem;
  float* const part_a = q_s + Smem<HD, G>::kQ;
  float* const part_m = part_a + Smem<HD, G>::kPartA;
  float* const part_l = part_m + Smem<HD, G>::kPartML;

  const int qi = blockIdx.z, kvh = blockIdx.y;
  const int t = p.rows ? p.rows[qi] : qi;
  const int pos = p.query_pos[t];
  const int lo = p.window > 0 ? max(0, pos - p.window + 1) : 0;  // Attends(pos, j, window): lo <= j <= pos
  const AttentionKeySplits ks = PagedAttentionKeySplits(pos + 1 - lo);
  const int workers = min(p.splits, ks.count);
  if (static_cast<int>(blockIdx.x) >= workers) return;
  const int group = p.heads / p.kv_heads;

  const float q_scale = p.scale * kLog2e;
  const __half* q = p.q + t * p.ldq + kvh * group * HD;
  for (int i = threadIdx.x; i < G * HD; i += kThreads) q_s[i] = i < group * HD ? __half2float(q[i]) * q_scale : 0.f;

  const int32_t* table = p.block_tables + static_cast<int64_t>(p.query_seq[t]) * p.max_blocks;
  const int lane = threadIdx.x % 32;
  const int slot = threadIdx.x / 32 * R::kPerWarp + lane / R::kLanes, col = lane % R::kLanes;
  const int64_t token_stride = static_cast<int64_t>(p.kv_heads) * HD;
  const __half* k_lane = p.k_cache + kvh * HD + col * 8;
  const __half* v_lane = p.v_cache + kvh * HD + col * 8;
  const float* q_lane = q_s + col * 8;

  const int e0 = threadIdx.x * kOwn, og = e0 / HD, od = e0 % HD;  // the output elements this thread merges
  const bool owner = e0 < G * HD;
  Partial<kOwn> run;
  Clear(run);
  __syncthreads();

  for (int s = blockIdx.x; s < ks.count; s += workers) {
    const int begin = lo + s * ks.keys, end = min(begin + ks.keys, pos + 1);
    float m[G], l[G], acc[G][R::kElems];
#pragma unroll
    for (int g = 0; g < G; ++g) {
      m[g] = -FLT_MAX, l[g] = 0.f;
#pragma unroll
      for (int e = 0; e < R::kElems; ++e) acc[g][e] = 0.f;
    }
    for (int j0 = begin; j0 < end; j0 += kRoundKeys) {
      uint4 kr[U][R::kVecs], vr[U][R::kVecs];
      bool valid[U];
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const int j = j0 + u * R::kSlots + slot;
        valid[u] = j < end;
        const int jj = min(j, end - 1);  // past the split: a key of it loaded again, masked below
        const int64_t row = (static_cast<int64_t>(table[jj / p.block_size]) * p.block_size + jj % p.block_size) * token_stride;
#pragma unroll
        for (int v = 0; v < R::kVecs; ++v) {
          kr[u][v] = __ldg(reinterpret_cast<const uint4*>(k_lane + row + v * R::kLanes * 8));
          vr[u][v] = __ldg(reinterpret_cast<const uint4*>(v_lane + row + v * R::kLanes * 8));
        }
      }
      // Scores: this lane's partial dot products, summed across the row's lanes.
      float sc[U][G];
#pragma unroll
      for (int u = 0; u < U; ++u)
#pragma unroll
        for (int g = 0; g < G; ++g) sc[u][g] = 0.f;
#pragma unroll
      for (int v = 0; v < R::kVecs; ++v)
#pragma unroll
        for (int w = 0; w < 4; ++w) {
          float2 kf[U];
#pragma unroll
          for (int u = 0; u < U; ++u) kf[u] = HalvesToFloat2(Word(kr[u][v], w));
#pragma unroll
          for (int g = 0; g < G; ++g) {
            const float2 qv = *reinterpret_cast<const float2*>(q_lane + g * HD + v * R::kLanes * 8 + 2 * w);
#pragma unroll
            for (int u = 0; u < U; ++u) sc[u][g] = fmaf(qv.y, kf[u].y, fmaf(qv.x, kf[u].x, sc[u][g]));
          }
        }
#pragma unroll
      for (int o = R::kLanes / 2; o > 0; o /= 2)
#pragma unroll
        for (int u = 0; u < U; ++u)
#pragma unroll
          for (int g = 0; g < G; ++g) sc[u][g] += __shfl_xor_sync(0xffffffffu, sc[u][g], o);
      // Online softmax per head (sc becomes the keys' weights), then the weighted V rows.
      float corr[G];
#pragma unroll
      for (int g = 0; g < G; ++g) {
        float mx = m[g];
#pragma unroll
        for (int u = 0; u < U; ++u)
          if (valid[u]) mx = fmaxf(mx, sc[u][g]);
        corr[g] = Exp2(m[g] - mx);
        float sum = 0.f;
#pragma unroll
        for (int u = 0; u < U; ++u) {
          sc[u][g] = valid[u] ? Exp2(sc[u][g] - mx) : 0.f;
          sum += sc[u][g];
        }
        l[g] = fmaf(l[g], corr[g], sum);
        m[g] = mx;
      }
#pragma unroll
      for (int v = 0; v < R::kVecs; ++v)
#pragma unroll
        for (int w = 0; w < 4; ++w) {
          float2 vf[U];
#pragma unroll
          for (int u = 0; u < U; ++u) vf[u] = HalvesToFloat2(Word(vr[u][v], w));
#pragma unroll
          for (int g = 0; g < G; ++g) {
            float x = acc[g][v * 8 + 2 * w] * corr[g], y = acc[g][v * 8 + 2 * w + 1] * corr[g];
#pragma unroll
            for (int u = 0; u < U; ++u) x = fmaf(sc[u][g], vf[u].x, x), y = fmaf(sc[u][g], vf[u].y, y);
            acc[g][v * 8 + 2 * w] = x, acc[g][v * 8 + 2 * w + 1] = y;
          }
        }
    }

    // The split's record: the row groups' partials merged in slot order (max first, then weighted sums).
    __syncthreads();  // the previous split's partials are consumed
#pragma unroll
    for (int g = 0; g < G; ++g) {
#pragma unroll
      for (int v = 0; v < R::kVecs; ++v) {
        float4* dst = reinterpret_cast<float4*>(part_a + (slot * G + g) * HD + v * R::kLanes * 8 + col * 8);
        dst[0] = make_float4(acc[g][v * 8 + 0], acc[g][v * 8 + 1], acc[g][v * 8 + 2], acc[g][v * 8 + 3]);
        dst[1] = make_float4(acc[g][v * 8 + 4], acc[g][v * 8 + 5], acc[g][v * 8 + 6], acc[g][v * 8 + 7]);
      }
      if (col == 0) part_m[slot * G + g] = m[g], part_l[slot * G + g] = l[g];
    }
    __syncthreads();
    if (owner) {
      Partial<kOwn> rec;
      Clear(rec);
#pragma unroll 4
      for (int sl = 0; sl < R::kSlots; ++sl) rec.m = fmaxf(rec.m, part_m[sl * G + og]);
#pragma unroll 4
      for (int sl = 0; sl < R::kSlots; ++sl) {
        const float w = Exp2(part_m[sl * G + og] - rec.m);  // 0 for a slot without keys (max -FLT_MAX)
        rec.l = fmaf(part_l[sl * G + og], w, rec.l);
        const float* pa = part_a + (sl * G + og) * HD + od;
        if constexpr (kOwn % 4 == 0) {
#pragma unroll
          for (int i = 0; i < kOwn; i += 4) {
            const float4 x = *reinterpret_cast<const float4*>(pa + i);
            rec.a[i] = fmaf(x.x, w, rec.a[i]), rec.a[i + 1] = fmaf(x.y, w, rec.a[i + 1]);
            rec.a[i + 2] = fmaf(x.z, w, rec.a[i + 2]), rec.a[i + 3] = fmaf(x.w, w, rec.a[i + 3]);
          }
        } else {
#pragma unroll
          for (int i = 0; i < kOwn; ++i) rec.a[i] = fmaf(pa[i], w, rec.a[i]);
        }
      }
      if (workers == 1) Merge(run, rec);
      else if (og < group) StoreRecord<HD>(p, qi, kvh * group + og, s, od, rec);
    }
  }

  FinishQuery<HD>(p, t, qi, kvh, group, workers, ks.count, owner, og, od, run);
}

template <int HD, int G>
void Launch(const PagedAttentionParams& p, cudaStream_t stream) {
  // Once per instantiation; a failure surfaces as the launch error the caller checks.
  static const cudaError_t attr = cudaFuncSetAttribute(
      DecodeAttentionKernel<HD, G>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(Smem<HD, G>::kBytes));
  (void)attr;
  LaunchPdl(DecodeAttentionKernel<HD, G>, dim3(p.splits, p.kv_heads, p.tokens), dim3(kThreads), Smem<HD, G>::kBytes,
            stream, p);
}

// Shape dispatch of the CUDA-core kernel (head_dim 64 and 128 go to the tensor-core kernel first): head_dim and
// GroupBucket(group).
struct AttentionEntry {
  int head_dim, group;
  void (*launch)(const PagedAttentionParams&, cudaStream_t);
};
constexpr AttentionEntry kAttentionTable[] = {
    {8, 1, Launch<8, 1>},     {8, 2, Launch<8, 2>},     {8, 4, Launch<8, 4>},     {8, 8, Launch<8, 8>},
    {16, 1, Launch<16, 1>},   {16, 2, Launch<16, 2>},   {16, 4, Launch<16, 4>},   {16, 8, Launch<16, 8>},
    {32, 1, Launch<32, 1>},   {32, 2, Launch<32, 2>},   {32, 4, Launch<32, 4>},   {32, 8, Launch<32, 8>},
};

}  // namespace

int PagedAttentionSplits(int tokens, int kv_heads, int sm_count) {
  // The most workers whose CTAs all fit in one wave of resident CTAs: a launch whose CTAs (each as long as its
  // worker's share of the splits) spill a few into a second wave pays for a whole second wave.
  const int ctas = std::max(1, tokens * kv_heads);
  return std::clamp(kCtasPerSm * sm_count / ctas, 1, kAttentionMaxSplits);
}

size_t PagedAttentionWorkspaceBytes(int tokens, int heads, int head_dim, int splits) {
  if (splits <= 1) return 0;
  return static_cast<size_t>(tokens) * static_cast<size_t>(QueryFloats(heads, head_dim)) * sizeof(float);
}

absl::Status ValidatePagedAttention(const PagedAttentionParams& p) {
  if (!p.q || !p.k_cache || !p.v_cache || !p.block_tables || !p.query_seq || !p.query_pos || !p.out)
    return absl::InvalidArgumentError("paged attention: null pointer");
  if (p.splits > 1 && !p.workspace)
    return absl::InvalidArgumentError(absl::StrCat("paged attention: splits=", p.splits, " needs a workspace"));
  const bool hd_ok = DecodeAttentionMmaSupports(p.head_dim) ||
                     std::any_of(std::begin(kAttentionTable), std::end(kAttentionTable),
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
  if (reinterpret_cast<uintptr_t>(p.k_cache) % 16 != 0 || reinterpret_cast<uintptr_t>(p.v_cache) % 16 != 0 ||
      reinterpret_cast<uintptr_t>(p.workspace) % 16 != 0)
    return absl::InvalidArgumentError("paged attention: k_cache, v_cache and workspace must be 16-byte aligned");
  if (DecodeAttentionMmaSupports(p.head_dim)) {
    // The tensor-core kernel reads q in 16-byte vectors and divides key positions (< max_blocks * block_size) by
    // block_size exactly while position * block_size < 2^32.
    if (p.ldq % 8 != 0 || reinterpret_cast<uintptr_t>(p.q) % 16 != 0)
      return absl::InvalidArgumentError(absl::StrCat("paged attention: ldq=", p.ldq, " must be a multiple of 8 and q 16-byte aligned"));
    if (int64_t{p.max_blocks} * p.block_size * p.block_size >= (int64_t{1} << 32))
      return absl::InvalidArgumentError(absl::StrCat("paged attention: max_blocks=", p.max_blocks, " x block_size=",
                                                     p.block_size, " needs max_blocks * block_size^2 < 2^32"));
  }
  return absl::OkStatus();
}

void LaunchPagedAttention(const PagedAttentionParams& p, cudaStream_t stream) {
  if (LaunchDecodeAttentionMma(p, stream)) return;
  const int group = GroupBucket(p.heads / p.kv_heads);
  for (const AttentionEntry& e : kAttentionTable) {
    if (e.head_dim != p.head_dim || e.group != group) continue;
    e.launch(p, stream);
    return;
  }
}

}  // namespace inference::cuda
