// Paged decode attention on the tensor cores (attention.h), for head_dim 64 and 128: mma.sync m16n8k16 with fp16
// operands and fp32 accumulators, K and V loaded from the paged cache straight into fragment registers.
//
// A CTA (kAttentionWarps warps) serves one (worker, KV head, query) and the G <= 8 query heads of the KV head, as
// the other kernel does (attention_decode.cuh: the same workers, split records, fold and workspace). A split is cut
// into rounds of kRoundKeys keys, one step of kStepKeys keys per warp. A warp's step, with lane = 4 g + t4:
//   S = Q K^T     M = the G heads (rows g; rows 8.. are zero), N = 2 x 8 keys, K = head_dim. Dot products are sums,
//                 so the head dims may enter the k slots in any order shared by Q and K: lane t4 holds dims
//                 32 i + 8 t4 + [0, 8) of key g (and 8 + g), one 16-byte load each, whose words are the B fragments
//                 of k-steps 2 i and 2 i + 1 as they are (Q's A fragments likewise, staged in shared memory once).
//   softmax       the step's own max m and sum l per head (quad shuffles); P = exp2(S - m) in fp16, and the S
//                 accumulators of lane (g, t4) are the B fragment of head g in the next product.
//   O^T = V^T P^T M = head dims, N = heads, K = the 16 keys: lane (g, t4) loads 16 bytes (dims 64 h + 8 g + [0, 8))
//                 of keys 2 t4, 2 t4 + 1, 8 + 2 t4, 9 + 2 t4, and byte permutes pair two keys' halves of one dim
//                 into an A fragment register (rows g / g + 8 of m-tile (h, i) = dims 64 h + 8 g + 2 i (+ 1)).
// Each step's partial (m, l, O) goes to shared memory; after the round's barrier the owner threads fold the steps
// into the split record in key order with Merge, so a split record is a function of its keys alone. The K and V
// registers of the next round are loaded before the barrier: a warp always has a round of loads in flight.
#include <algorithm>

#include "inference/cuda/kernels/attention.h"
#include "inference/cuda/kernels/attention_decode.cuh"
#include "inference/cuda/kernels/load.cuh"
#include "inference/cuda/kernels/pdl.cuh"

namespace inference::cuda::decode_attention {
namespace {

constexpr int kStepKeys = 16;                            // keys of one warp step: the k of P V's m16n8k16
constexpr int kRoundKeys = kAttentionWarps * kStepKeys;  // keys of one CTA round
static_assert(kAttentionSplitKeys % kRoundKeys == 0, "splits are whole rounds");
// CTAs per SM: 65536 / (4 * 128) = 128 registers a thread hold K and V of a step (64 at head_dim 128, in flight
// across the round's barrier), S (8) and O (16 per 64 dims); Q's fragments are read from shared memory. Four CTAs
// (18 KiB of shared memory each at G = 4) keep 4 x 32 KiB of K/V loads in flight per SM.
constexpr int kMinCtasPerSm = 4;

// The step partials of a round, double-buffered (a round writes one buffer while the last is still being read).
template <int HD, int G>
struct RoundSmem {
  uint4 q[HD / 32][32];  // Q's A fragments: [i][lane] = head g's dims 32 i + 8 t4 + [0, 8) (zero past the group)
  float o[2][kAttentionWarps][G][HD];
  float m[2][kAttentionWarps][G];
  float l[2][kAttentionWarps][G];
};

__device__ __forceinline__ uint32_t Word(const uint4& x, int w) { return w == 0 ? x.x : w == 1 ? x.y : w == 2 ? x.z : x.w; }

// c += a (16x16, row) * b (16x8, col): fp16 operands, fp32 accumulators.
__device__ __forceinline__ void Mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// j / d without a division: (j * ceil(2^32 / d)) >> 32, exact while j * d < 2^32 (ValidatePagedAttention).
__host__ __device__ constexpr uint64_t FastDivMagic(uint32_t d) { return ((uint64_t{1} << 32) + d - 1) / d; }
__device__ __forceinline__ int FastDiv(int j, uint64_t magic) {
  return static_cast<int>((static_cast<uint64_t>(j) * magic) >> 32);
}

// Where a query's keys live: key j's K row is at k + Row(j) (V likewise).
struct KeyRows {
  const int32_t* table;
  uint64_t bs_magic;
  int block_size;
  int64_t token_stride;
  __device__ __forceinline__ int64_t Row(int j) const {
    const int blk = FastDiv(j, bs_magic);
    return (static_cast<int64_t>(__ldg(table + blk)) * block_size + (j - blk * block_size)) * token_stride;
  }
};

// One warp step's registers: K of keys g and 8 + g, V of keys 2 t4, 2 t4 + 1, 8 + 2 t4, 9 + 2 t4.
template <int HD>
struct StepRegs {
  static constexpr int kKVecs = HD / 32;
  static constexpr int kVVecs = HD / 64;
  uint4 k[2][kKVecs], v[4][kVVecs];
};

// Keys j0.. (those past `last` load key `last` again: masked in the softmax, never outside the query's keys).
template <int HD>
__device__ __forceinline__ void LoadStep(StepRegs<HD>& r, const KeyRows& rows, const __half* k, const __half* v,
                                         int j0, int last, int g, int t4) {
#pragma unroll
  for (int n = 0; n < 2; ++n) {
    const int64_t row = rows.Row(min(j0 + 8 * n + g, last));
#pragma unroll
    for (int i = 0; i < StepRegs<HD>::kKVecs; ++i) r.k[n][i] = LoadStream(k + row + 32 * i + 8 * t4);
  }
#pragma unroll
  for (int c = 0; c < 4; ++c) {
    const int64_t row = rows.Row(min(j0 + (c / 2) * 8 + 2 * t4 + c % 2, last));
#pragma unroll
    for (int h = 0; h < StepRegs<HD>::kVVecs; ++h) r.v[c][h] = LoadStream(v + row + 64 * h + 8 * g);
  }
}

// A warp's step over `valid` (1..16) keys: its partial (max, sum, unnormalized O of heads 0..G-1) into the round's
// shared memory slot.
template <int HD, int G>
__device__ __forceinline__ void ComputeStep(const StepRegs<HD>& r, const uint4 (*q_s)[32], int valid, float qscale,
                                            int g, int t4, float (*o_s)[HD], float* m_s, float* l_s) {
  float sc[2][4] = {};
#pragma unroll
  for (int ks = 0; ks < HD / 16; ++ks) {
    const int i = ks / 2, w = 2 * (ks % 2);
    const uint4 qf = q_s[i][4 * g + t4];
    const uint32_t a[4] = {Word(qf, w), 0u, Word(qf, w + 1), 0u};
    Mma(sc[0], a, Word(r.k[0][i], w), Word(r.k[0][i], w + 1));
    Mma(sc[1], a, Word(r.k[1][i], w), Word(r.k[1][i], w + 1));
  }
  // Row g (head g): keys 2 t4 + e of tile n at sc[n][e]; scores in log2 units, keys past `valid` masked.
  float x[4];
#pragma unroll
  for (int e = 0; e < 4; ++e) x[e] = 8 * (e / 2) + 2 * t4 + e % 2 < valid ? sc[e / 2][e % 2] * qscale : -INFINITY;
  float m = fmaxf(fmaxf(x[0], x[1]), fmaxf(x[2], x[3]));
  m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 1));
  m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 2));  // finite: key 0 of a step is always valid
  const __half2 p0 = __floats2half2_rn(Exp2(x[0] - m), Exp2(x[1] - m));
  const __half2 p1 = __floats2half2_rn(Exp2(x[2] - m), Exp2(x[3] - m));
  // The sum of the weights as P V sees them (rounded to fp16), the same in the quad's four lanes.
  const float2 f0 = __half22float2(p0), f1 = __half22float2(p1);
  float l = (f0.x + f0.y) + (f1.x + f1.y);
  l += __shfl_xor_sync(0xffffffffu, l, 1);
  l += __shfl_xor_sync(0xffffffffu, l, 2);
  const uint32_t b0 = *reinterpret_cast<const uint32_t*>(&p0), b1 = *reinterpret_cast<const uint32_t*>(&p1);

#pragma unroll
  for (int h = 0; h < StepRegs<HD>::kVVecs; ++h) {
    float o[4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint32_t w0 = Word(r.v[0][h], i), w1 = Word(r.v[1][h], i), w2 = Word(r.v[2][h], i), w3 = Word(r.v[3][h], i);
      const uint32_t a[4] = {__byte_perm(w0, w1, 0x5410), __byte_perm(w0, w1, 0x7632), __byte_perm(w2, w3, 0x5410),
                             __byte_perm(w2, w3, 0x7632)};
      o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
      Mma(o[i], a, b0, b1);
    }
    // o[i] = (head 2 t4, dim 2 i), (head 2 t4 + 1, dim 2 i), (head 2 t4, dim 2 i + 1), (head 2 t4 + 1, dim 2 i + 1)
    // of dims 64 h + 8 g + [0, 8).
#pragma unroll
    for (int c = 0; c < 2; ++c) {
      const int head = 2 * t4 + c;
      if (head >= G) continue;
      float4* dst = reinterpret_cast<float4*>(o_s[head] + 64 * h + 8 * g);
      dst[0] = make_float4(o[0][c], o[0][c + 2], o[1][c], o[1][c + 2]);
      dst[1] = make_float4(o[2][c], o[2][c + 2], o[3][c], o[3][c + 2]);
    }
  }
  if (t4 == 0 && g < G) m_s[g] = m, l_s[g] = l;
}

template <int HD, int G>
__global__ void __launch_bounds__(kThreads, kMinCtasPerSm)
    DecodeAttentionMmaKernel(const PagedAttentionParams p, const uint64_t bs_magic) {
  PdlLaunchDependents();  // one wave: the o_proj GEMM after it may start loading its weights (pdl.cuh)
  if (!p.keys_cached) PdlWait();
  constexpr int kOwn = OwnedElems<HD, G>();
  __shared__ __align__(16) RoundSmem<HD, G> sm;

  const int qi = blockIdx.z, kvh = blockIdx.y;
  const int t = p.rows ? p.rows[qi] : qi;
  const int pos = p.query_pos[t], seq = p.query_seq[t];  // both loads in flight together
  const int lo = p.window > 0 ? max(0, pos - p.window + 1) : 0;  // Attends(pos, j, window): lo <= j <= pos
  const AttentionKeySplits ks = PagedAttentionKeySplits(pos + 1 - lo);
  const int workers = min(p.splits, ks.count);
  if (static_cast<int>(blockIdx.x) >= workers) return;
  const int group = p.heads / p.kv_heads;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t4 = lane % 4;

  const KeyRows rows{p.block_tables + static_cast<int64_t>(seq) * p.max_blocks, bs_magic, p.block_size,
                     static_cast<int64_t>(p.kv_heads) * HD};
  const __half* k = p.k_cache + kvh * HD;
  const __half* v = p.v_cache + kvh * HD;
  const float qscale = p.scale * kLog2e;

  const int e0 = threadIdx.x * kOwn, og = e0 / HD, od = e0 % HD;  // the output elements this thread merges
  const bool owner = e0 < G * HD;
  Partial<kOwn> run, rec;
  Clear(run);
  Clear(rec);

  // Rounds in order: split s = blockIdx.x, + workers, ...; round r of split s covers keys split_begin + 64 r...
  const auto split_end = [&](int s) { return min(lo + (s + 1) * ks.keys, pos + 1); };
  StepRegs<HD> regs;
  int s = blockIdx.x, r = 0, buf = 0;
  if (const int j0 = lo + s * ks.keys + warp * kStepKeys; j0 < split_end(s)) {
    const int last = min(j0 + kStepKeys, split_end(s)) - 1;
    LoadStep<HD>(regs, rows, k, v, j0, last, g, t4);
    if (p.keys_cached) {  // the keys were loaded before PdlWait: the query's own key again after it (RopeKv wrote it)
      PdlWait();
      if (last == pos) LoadStep<HD>(regs, rows, k, v, j0, last, g, t4);
    }
  } else if (p.keys_cached) {
    PdlWait();
  }
  for (int idx = threadIdx.x; idx < HD; idx += kThreads) {
    const int i = idx / 32, qg = idx % 32 / 4, qt = idx % 4;
    sm.q[i][idx % 32] = qg < group ? *reinterpret_cast<const uint4*>(p.q + t * p.ldq + (kvh * group + qg) * HD + 32 * i + 8 * qt)
                                   : make_uint4(0u, 0u, 0u, 0u);
  }
  __syncthreads();  // sm.q
  for (;;) {
    const int end = split_end(s), rb = lo + s * ks.keys + r * kRoundKeys, j0 = rb + warp * kStepKeys;
    if (j0 < end)
      ComputeStep<HD, G>(regs, sm.q, min(kStepKeys, end - j0), qscale, g, t4, sm.o[buf][warp], sm.m[buf][warp],
                         sm.l[buf][warp]);
    const bool split_done = rb + kRoundKeys >= end;
    const int next_s = split_done ? s + workers : s, next_r = split_done ? 0 : r + 1;
    const bool more = next_s < ks.count;
    if (more) {
      const int next_end = split_end(next_s), nj0 = lo + next_s * ks.keys + next_r * kRoundKeys + warp * kStepKeys;
      if (nj0 < next_end) LoadStep<HD>(regs, rows, k, v, nj0, min(nj0 + kStepKeys, next_end) - 1, g, t4);
    }
    __syncthreads();  // the round's partials are in sm[buf]; sm[buf ^ 1] was read before the last barrier
    if (owner) {
      const int steps = min(kAttentionWarps, (end - rb + kStepKeys - 1) / kStepKeys);
      for (int w = 0; w < steps; ++w) {
        Partial<kOwn> x;
        x.m = sm.m[buf][w][og], x.l = sm.l[buf][w][og];
        const float* src = sm.o[buf][w][og] + od;
        if constexpr (kOwn % 4 == 0) {
#pragma unroll
          for (int i = 0; i < kOwn; i += 4) {
            const float4 y = *reinterpret_cast<const float4*>(src + i);
            x.a[i] = y.x, x.a[i + 1] = y.y, x.a[i + 2] = y.z, x.a[i + 3] = y.w;
          }
        } else {
#pragma unroll
          for (int i = 0; i < kOwn; ++i) x.a[i] = src[i];
        }
        Merge(rec, x);
      }
      if (split_done) {
        if (workers == 1) Merge(run, rec);
        else if (og < group) StoreRecord<HD>(p, qi, kvh * group + og, s, od, rec);
        Clear(rec);
      }
    }
    if (!more) break;
    s = next_s, r = next_r, buf ^= 1;
  }

  FinishQuery<HD>(p, t, qi, kvh, group, workers, ks.count, owner, og, od, run);
}

template <int HD, int G>
void Launch(const PagedAttentionParams& p, cudaStream_t stream) {
  LaunchPdl(DecodeAttentionMmaKernel<HD, G>, dim3(p.splits, p.kv_heads, p.tokens), dim3(kThreads), 0, stream, p,
            FastDivMagic(static_cast<uint32_t>(p.block_size)));
}

// Shape dispatch: head_dim and the group rounded up to a power of two (GroupBucket; extra heads compute on zero
// queries and are never written).
struct MmaEntry {
  int head_dim, group;
  void (*launch)(const PagedAttentionParams&, cudaStream_t);
};
constexpr MmaEntry kMmaTable[] = {
    {64, 1, Launch<64, 1>},   {64, 2, Launch<64, 2>},   {64, 4, Launch<64, 4>},   {64, 8, Launch<64, 8>},
    {128, 1, Launch<128, 1>}, {128, 2, Launch<128, 2>}, {128, 4, Launch<128, 4>}, {128, 8, Launch<128, 8>},
};

}  // namespace

bool DecodeAttentionMmaSupports(int head_dim) {
  return std::any_of(std::begin(kMmaTable), std::end(kMmaTable), [&](const MmaEntry& e) { return e.head_dim == head_dim; });
}

bool LaunchDecodeAttentionMma(const PagedAttentionParams& p, cudaStream_t stream) {
  const int group = GroupBucket(p.heads / p.kv_heads);
  for (const MmaEntry& e : kMmaTable) {
    if (e.head_dim != p.head_dim || e.group != group) continue;
    e.launch(p, stream);
    return true;
  }
  return false;
}

}  // namespace inference::cuda::decode_attention
