// The sampling kernel (sampling.h): one CTA per row, the CPU sampler's stages in its order. Block primitives and the
// radix select are in sampling_block.cuh.
#include <climits>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "inference/cuda/kernels/sampling.h"
#include "inference/cuda/kernels/sampling_block.cuh"

namespace inference::cuda {
namespace {

using sampling::BlockBest;
using sampling::BlockScan;
using sampling::BlockSum;
using sampling::CountMass;
using sampling::FirstReachingInIdOrder;
using sampling::Key;
using sampling::kThreads;
using sampling::Mass;
using sampling::Pick;
using sampling::SelectFirstReaching;
using sampling::Shared;
using sampling::u64;

// The CPU sampler's penalties on one logit, in its order and float rounding (no contraction into FMAs).
__device__ __forceinline__ float Penalize(float v, const PenaltyEntry& pe, const SampleRow& rp) {
  if (pe.seen && rp.repetition_penalty != 1.0f)
    v = v > 0.0f ? __fdiv_rn(v, rp.repetition_penalty) : __fmul_rn(v, rp.repetition_penalty);
  if (pe.output_count > 0 && (rp.presence_penalty != 0.0f || rp.frequency_penalty != 0.0f))
    v = __fsub_rn(v, __fadd_rn(__fmul_rn(rp.frequency_penalty, static_cast<float>(pe.output_count)),
                               rp.presence_penalty));
  return v;
}

// Top-k -> top-p -> min-p over the order (logit desc, id asc), then the inverse-CDF draw with u over the kept
// prefix. `total` is the row's mass, `min_p_kept` the count of tokens with exp(l - max) >= min_p.
__device__ int DrawFiltered(const float* l, const double* e, int vocab, double scale, const SampleRow& rp, u64 total,
                            int min_p_kept, Shared& s) {
  const int kk = rp.top_k > 0 && rp.top_k < vocab ? rp.top_k : vocab;
  u64 kept = total;
  if (kk < vocab) {
    const Pick k = SelectFirstReaching(l, e, vocab, scale, true, kk, s);
    kept = k.cum_before + k.mass;
  }
  int n = kk;
  u64 mass_n = kept;
  if (rp.top_p < 1.0f) {
    // The smallest prefix whose mass reaches top_p of the top-k mass (the crossing token is kept).
    const u64 target = max(1ull, __double2ull_ru(static_cast<double>(rp.top_p) * static_cast<double>(kept)));
    const Pick p = SelectFirstReaching(l, e, vocab, scale, false, target, s);
    if (p.pos >= 0 && p.pos + 1 < n) n = p.pos + 1, mass_n = p.cum_before + p.mass;
  }
  if (rp.min_p > 0.0f && min_p_kept < n) {
    n = min_p_kept;
    const Pick m = SelectFirstReaching(l, e, vocab, scale, true, n, s);
    mass_n = m.cum_before + m.mass;
  }
  // The first kept token whose cumulative mass exceeds u * mass_n; the last kept one if rounding leaves none.
  const u64 x = __double2ull_rd(rp.u * static_cast<double>(mass_n));
  if (x >= mass_n) return SelectFirstReaching(l, e, vocab, scale, true, n, s).id;
  return SelectFirstReaching(l, e, vocab, scale, false, x + 1, s).id;
}

// The n (<= kMaxTopLogprobs) largest log-softmax values, ties by lower id: the n-th token by logit fixes the cut
// value v (log-softmax is monotone in the logit, but distinct logits may round to one float); every token above v
// is among the n - 1 best logits, and the lowest ids equal to v fill the rest.
__device__ void TopLogprobs(const float* l, const double* e, int vocab, double scale, double log_z, int n,
                            int32_t* out_ids, float* out_lps, Shared& s) {
  const auto lp = [&](int i) { return static_cast<float>(static_cast<double>(l[i]) - log_z); };
  const Pick nth = SelectFirstReaching(l, e, vocab, scale, true, n, s);
  const float cut = lp(nth.id);
  if (threadIdx.x == 0) s.top_count = 0;
  __syncthreads();
  // Each thread's contiguous chunk: the tokens above the cut, then its ties at their rank in id order.
  int begin, end;
  sampling::ChunkOf(vocab, &begin, &end);
  uint32_t ties = 0;
  for (int i = begin; i < end; ++i) {
    const float v = lp(i);
    if (v > cut) {
      const int slot = atomicAdd(&s.top_count, 1);
      s.top_ids[slot] = i, s.top_lps[slot] = v;
    }
    ties += v == cut;
  }
  CountMass total;
  uint32_t rank = BlockScan({ties, 0}, s, &total).count - ties;
  for (int i = begin; i < end && rank < static_cast<uint32_t>(n); ++i)
    if (lp(i) == cut) s.tie_ids[rank++] = i;
  __syncthreads();
  if (threadIdx.x == 0) {
    int count = s.top_count;
    // Insertion sort of the tokens above the cut: larger logprob first, then lower id.
    for (int a = 1; a < count; ++a) {
      const int32_t id = s.top_ids[a];
      const float v = s.top_lps[a];
      int b = a;
      for (; b > 0 && (s.top_lps[b - 1] < v || (s.top_lps[b - 1] == v && s.top_ids[b - 1] > id)); --b)
        s.top_ids[b] = s.top_ids[b - 1], s.top_lps[b] = s.top_lps[b - 1];
      s.top_ids[b] = id, s.top_lps[b] = v;
    }
    for (int j = 0; j < count; ++j) out_ids[j] = s.top_ids[j], out_lps[j] = s.top_lps[j];
    for (int j = 0; count < n; ++j, ++count) out_ids[count] = s.tie_ids[j], out_lps[count] = cut;
  }
}

__global__ void __launch_bounds__(kThreads) SampleKernel(SampleParams p, double scale) {
  __shared__ Shared s;
  const int row = blockIdx.x, tid = threadIdx.x, vocab = p.vocab;
  const SampleRow rp = p.row_params[row];
  float* l = p.logits + static_cast<int64_t>(row) * vocab;
  double* e = p.workspace + static_cast<int64_t>(row) * vocab;
  const bool greedy = rp.temperature == 0.0f;

  // 1. Penalties, in place: each token appears once in the row's entries, so no two threads touch one logit.
  for (int j = rp.penalty_begin + tid; j < rp.penalty_end; j += kThreads) {
    const PenaltyEntry pe = p.penalties[j];
    if (pe.token >= 0 && pe.token < vocab) l[pe.token] = Penalize(l[pe.token], pe, rp);
  }
  __syncthreads();

  // 2. Temperature (in place) and the largest logit, ties to the lowest id: the greedy pick.
  const bool scaled = !greedy && rp.temperature != 1.0f;
  uint32_t best_key = 0;
  int best_id = INT_MAX;
  for (int i = tid; i < vocab; i += kThreads) {
    float v = l[i];
    if (scaled) l[i] = v = __fdiv_rn(v, rp.temperature);
    const uint32_t k = Key(v);
    if (k > best_key || (k == best_key && i < best_id)) best_key = k, best_id = i;
  }
  BlockBest(&best_key, &best_id, s);
  const double top = l[best_id];
  const bool want_logprobs = rp.logprobs_top_n >= 0;
  int id = best_id;
  double log_z = 0;
  if (!greedy || want_logprobs) {
    // 3. exp(l - max) once per token: the log-softmax's double sum, the draw's masses and the min-p count.
    double sum = 0;
    u64 mass = 0;
    uint32_t min_p_kept = 0;
    const double min_p = rp.min_p;
    for (int i = tid; i < vocab; i += kThreads) {
      const double ei = exp(static_cast<double>(l[i]) - top);
      sum += ei;
      e[i] = ei;
      mass += Mass(ei, scale);
      min_p_kept += ei >= min_p;
    }
    log_z = top + log(BlockSum(sum, s));
    if (!greedy) {
      CountMass total;
      BlockScan({min_p_kept, mass}, s, &total);
      if (rp.top_k > 0 || rp.top_p < 1.0f || rp.min_p > 0.0f) {
        id = DrawFiltered(l, e, vocab, scale, rp, total.mass, static_cast<int>(total.count), s);
      } else {
        // 4. No filter: the whole vocabulary in id order.
        const u64 x = __double2ull_rd(rp.u * static_cast<double>(total.mass));
        id = x >= total.mass ? vocab - 1
                             : FirstReachingInIdOrder(vocab, x + 1, [&](int i) { return Mass(e[i], scale); }, s);
      }
    }
  }
  // 5. Logprobs of the penalized, temperature-scaled logits.
  if (want_logprobs) {
    const int n = min(min(rp.logprobs_top_n, kMaxTopLogprobs), vocab);
    if (n > 0) {
      TopLogprobs(l, e, vocab, scale, log_z, n, p.top_ids + static_cast<int64_t>(row) * kMaxTopLogprobs,
                  p.top_logprobs + static_cast<int64_t>(row) * kMaxTopLogprobs, s);
    }
  }
  if (tid == 0) {
    p.ids[row] = id;
    p.logprobs[row] = want_logprobs ? static_cast<float>(static_cast<double>(l[id]) - log_z) : 0.0f;
  }
}

// 2^(63 - ceil(log2(vocab))): the largest fixed-point scale whose row sums (vocab masses <= 1) stay below 2^63.
double MassScale(int vocab) {
  int bits = 0;
  while ((int64_t{1} << bits) < vocab) ++bits;
  return std::ldexp(1.0, 63 - bits);
}

}  // namespace

size_t SampleWorkspaceBytes(int rows, int vocab) {
  return sizeof(double) * static_cast<size_t>(rows > 0 ? rows : 0) * static_cast<size_t>(vocab > 0 ? vocab : 0);
}

absl::Status ValidateSample(const SampleParams& p) {
  if (!p.logits || !p.row_params || !p.workspace || !p.ids || !p.logprobs || !p.top_ids || !p.top_logprobs)
    return absl::InvalidArgumentError("sample: null pointer (logits, row_params, workspace and outputs are required)");
  if (p.rows < 1)
    return absl::InvalidArgumentError(absl::StrCat("sample: rows=", p.rows, " must be at least 1"));
  if (p.vocab < 1 || p.vocab > kMaxSampleVocab)
    return absl::InvalidArgumentError(
        absl::StrCat("sample: vocab=", p.vocab, " outside [1, ", kMaxSampleVocab, "]"));
  return absl::OkStatus();
}

void LaunchSample(const SampleParams& p, cudaStream_t stream) {
  SampleKernel<<<p.rows, kThreads, 0, stream>>>(p, MassScale(p.vocab));
}

}  // namespace inference::cuda
