// Block-wide building blocks of the sampling kernel (sampling.cu), one 1024-thread CTA per logits row: scans and
// reductions with a fixed tree (a row's result never depends on timing or on other rows), the order-preserving key
// of a logit, fixed-point masses, and the radix select that finds the first token of the order (logit desc, id asc)
// whose cumulative count or mass reaches a target. Device code only; included by sampling.cu alone.
#pragma once

#include <cuda_runtime.h>

#include <climits>
#include <cstdint>

#include "inference/cuda/kernels/sampling.h"

namespace inference::cuda::sampling {

using u64 = unsigned long long;

constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / 32;
// The radix select resolves the 32-bit key in three levels of 11, 11 and 10 bits (2048-bin histograms).
constexpr int kLevels = 3;
__device__ __forceinline__ int LevelShift(int level) { return level == 0 ? 21 : level == 1 ? 10 : 0; }
__device__ __forceinline__ int LevelBits(int level) { return level == kLevels - 1 ? 10 : 11; }
constexpr int kMaxBins = 1 << 11;
constexpr int kLastBins = 1 << 10;

// A (count, mass) pair: the weights the scans and selects carry.
struct CountMass {
  uint32_t count;
  u64 mass;
};

// Bin masses are kept as two 32-bit words (high, low with carries): shared-memory atomics are native for 32 bits,
// while a 64-bit add would spin on compare-and-swap under the heavy same-bin contention of peaked rows.
struct Shared {
  uint32_t bin_count[kMaxBins];
  uint32_t bin_mass_hi[kMaxBins], bin_mass_lo[kMaxBins];
  int32_t bin_min_id[kLastBins];  // last level: the lowest id of each key (a tie group's first token)
  uint32_t warp_count[kWarps];
  u64 warp_mass[kWarps];
  double warp_sum[kWarps];
  int32_t warp_id[kWarps];
  // Results one thread publishes to the block.
  int32_t found, digit, hit, best_id;
  uint32_t above_count, best_key;
  u64 above_mass;
  int32_t top_count;
  int32_t top_ids[kMaxTopLogprobs], tie_ids[kMaxTopLogprobs];
  float top_lps[kMaxTopLogprobs];
};

// Larger logit, larger key; -0 and +0 share a key (they are the same logit to the CPU sampler).
__device__ __forceinline__ uint32_t Key(float l) {
  if (l == 0.0f) l = 0.0f;
  const uint32_t b = __float_as_uint(l);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

// exp(l - max) in [0, 1] as a fixed-point integer (scale = 2^(63 - ceil(log2(vocab))), so a row sums below 2^63).
__device__ __forceinline__ u64 Mass(double e, double scale) { return __double2ull_rn(e * scale); }

__device__ __forceinline__ void AddMass(uint32_t* hi, uint32_t* lo, u64 m) {
  const uint32_t m_lo = static_cast<uint32_t>(m), m_hi = static_cast<uint32_t>(m >> 32);
  if (m_hi) atomicAdd(hi, m_hi);
  if (m_lo) {
    const uint32_t old = atomicAdd(lo, m_lo);
    if (old + m_lo < old) atomicAdd(hi, 1u);  // the low word wrapped
  }
}

__device__ __forceinline__ u64 BinMass(const Shared& s, int d) {
  return (u64{s.bin_mass_hi[d]} << 32) + s.bin_mass_lo[d];
}

// Thread t's contiguous share of ids [0, vocab): [*begin, *end).
__device__ __forceinline__ void ChunkOf(int vocab, int* begin, int* end) {
  const int chunk = (vocab + kThreads - 1) / kThreads;
  *begin = min(vocab, static_cast<int>(threadIdx.x) * chunk);
  *end = min(vocab, *begin + chunk);
}

// Inclusive scan over the block in thread order; *total gets the block's sum. Ends synchronized.
__device__ inline CountMass BlockScan(CountMass v, Shared& s, CountMass* total) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int o = 1; o < 32; o <<= 1) {
    const uint32_t c = __shfl_up_sync(0xffffffffu, v.count, o);
    const u64 m = __shfl_up_sync(0xffffffffu, v.mass, o);
    if (lane >= o) v.count += c, v.mass += m;
  }
  if (lane == 31) s.warp_count[warp] = v.count, s.warp_mass[warp] = v.mass;
  __syncthreads();
  if (warp == 0) {
    uint32_t c = s.warp_count[lane];
    u64 m = s.warp_mass[lane];
    for (int o = 1; o < 32; o <<= 1) {
      const uint32_t pc = __shfl_up_sync(0xffffffffu, c, o);
      const u64 pm = __shfl_up_sync(0xffffffffu, m, o);
      if (lane >= o) c += pc, m += pm;
    }
    s.warp_count[lane] = c, s.warp_mass[lane] = m;
  }
  __syncthreads();
  if (warp > 0) v.count += s.warp_count[warp - 1], v.mass += s.warp_mass[warp - 1];
  *total = {s.warp_count[kWarps - 1], s.warp_mass[kWarps - 1]};
  __syncthreads();
  return v;
}

// The block's sum of doubles in a fixed tree order. Ends synchronized.
__device__ inline double BlockSum(double v, Shared& s) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (lane == 0) s.warp_sum[warp] = v;
  __syncthreads();
  double total = 0;
  for (int w = 0; w < kWarps; ++w) total += s.warp_sum[w];
  __syncthreads();
  return total;
}

// The block's largest key, ties to the lowest id. Ends synchronized.
__device__ inline void BlockBest(uint32_t* key, int* id, Shared& s) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int o = 16; o > 0; o >>= 1) {
    const uint32_t k = __shfl_xor_sync(0xffffffffu, *key, o);
    const int i = __shfl_xor_sync(0xffffffffu, *id, o);
    if (k > *key || (k == *key && i < *id)) *key = k, *id = i;
  }
  if (lane == 0) s.warp_count[warp] = *key, s.warp_id[warp] = *id;
  __syncthreads();
  if (threadIdx.x == 0) {
    uint32_t bk = s.warp_count[0];
    int bi = s.warp_id[0];
    for (int w = 1; w < kWarps; ++w)
      if (s.warp_count[w] > bk || (s.warp_count[w] == bk && s.warp_id[w] < bi)) bk = s.warp_count[w], bi = s.warp_id[w];
    s.best_key = bk, s.best_id = bi;
  }
  __syncthreads();
  *key = s.best_key, *id = s.best_id;
  __syncthreads();
}

// The first id (in id order) whose inclusive cumulative weight(i) reaches target >= 1, or -1 if the row's total
// stays below it. Each thread sums its contiguous chunk, one block scan places the chunks, and the thread whose
// chunk holds the crossing walks it.
template <typename Weight>
__device__ int FirstReachingInIdOrder(int vocab, u64 target, Weight weight, Shared& s) {
  int begin, end;
  ChunkOf(vocab, &begin, &end);
  u64 local = 0;
  for (int i = begin; i < end; ++i) local += weight(i);
  if (threadIdx.x == 0) s.hit = -1;
  CountMass total;
  const CountMass incl = BlockScan({0, local}, s, &total);
  u64 run = incl.mass - local;
  if (run < target && incl.mass >= target) {
    for (int i = begin; i < end; ++i) {
      run += weight(i);
      if (run >= target) {
        s.hit = i;
        break;
      }
    }
  }
  __syncthreads();
  const int hit = s.hit;
  __syncthreads();
  return hit;
}

// A token of the order (logit desc, id asc): its position, the mass of the tokens before it, its own mass.
struct Pick {
  int pos = -1;  // -1: the order's total never reaches the target
  u64 cum_before = 0, mass = 0;
  int id = -1;
};

// The first token of the order (logit desc, id asc) whose inclusive cumulative weight reaches target >= 1: weight 1
// per token (by_count: the target-th token) or its mass. Radix select over the keys: per level a histogram of the
// tokens still matching the chosen digits, scanned from the largest digit; tokens of one key have one mass, so the
// tie group is resolved by arithmetic and, unless its first token is the one, one scan in id order.
__device__ inline Pick SelectFirstReaching(const float* logits, const double* e, int vocab, double scale,
                                           bool by_count, u64 target, Shared& s) {
  uint32_t prefix = 0, mask = 0, above_count = 0;
  u64 above_mass = 0;
  int digit = 0;
  const int tid = static_cast<int>(threadIdx.x);
  for (int level = 0; level < kLevels; ++level) {
    const int shift = LevelShift(level), bins = 1 << LevelBits(level);
    const bool last = level == kLevels - 1;
    for (int b = tid; b < bins; b += kThreads) {
      s.bin_count[b] = 0, s.bin_mass_hi[b] = 0, s.bin_mass_lo[b] = 0;
      if (last) s.bin_min_id[b] = INT_MAX;
    }
    if (tid == 0) s.found = 0;
    __syncthreads();
    for (int i = tid; i < vocab; i += kThreads) {
      const uint32_t k = Key(logits[i]);
      if ((k & mask) != prefix) continue;
      const uint32_t d = (k >> shift) & static_cast<uint32_t>(bins - 1);
      atomicAdd(&s.bin_count[d], 1u);
      AddMass(&s.bin_mass_hi[d], &s.bin_mass_lo[d], Mass(e[i], scale));
      if (last) atomicMin(&s.bin_min_id[d], i);
    }
    __syncthreads();
    // Thread t holds the bins_per_thread digits from bins - 1 - t * per downwards (largest digits first).
    const int per = bins / kThreads;
    CountMass local{0, 0};
    for (int j = 0; j < per; ++j) {
      const int d = bins - 1 - (tid * per + j);
      local.count += s.bin_count[d], local.mass += BinMass(s, d);
    }
    CountMass total;
    const CountMass incl = BlockScan(local, s, &total);
    CountMass run{incl.count - local.count, incl.mass - local.mass};
    for (int j = 0; j < per; ++j) {
      const int d = bins - 1 - (tid * per + j);
      const u64 before = by_count ? u64{above_count} + run.count : above_mass + run.mass;
      const u64 weight = by_count ? u64{s.bin_count[d]} : BinMass(s, d);
      if (before < target && before + weight >= target) {
        s.found = 1, s.digit = d, s.above_count = above_count + run.count, s.above_mass = above_mass + run.mass;
      }
      run.count += s.bin_count[d], run.mass += BinMass(s, d);
    }
    __syncthreads();
    const bool found = s.found;
    digit = s.digit;
    prefix |= static_cast<uint32_t>(digit) << shift;
    mask |= static_cast<uint32_t>(bins - 1) << shift;
    above_count = s.above_count, above_mass = s.above_mass;
    __syncthreads();
    if (!found) return Pick{};
  }
  // One key left: its tokens share one mass w; the r-th of them (in id order) is the one.
  const uint32_t tied = s.bin_count[digit];
  const u64 w = BinMass(s, digit) / tied;
  const u64 r = by_count ? target - above_count : (target - above_mass + w - 1) / w;
  Pick pick;
  pick.pos = static_cast<int>(above_count + r - 1);
  pick.cum_before = above_mass + (r - 1) * w;
  pick.mass = w;
  if (r == 1) {
    pick.id = s.bin_min_id[digit];
    __syncthreads();
  } else {
    pick.id = FirstReachingInIdOrder(vocab, r, [&](int i) { return Key(logits[i]) == prefix ? 1ull : 0ull; }, s);
  }
  return pick;
}

}  // namespace inference::cuda::sampling
