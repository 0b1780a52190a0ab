// Row-wise argmax + log-softmax of the winner (sampling.h). One CTA per row.
#include <cfloat>

#include "absl/strings/str_cat.h"
#include "inference/cuda/kernels/sampling.h"

namespace inference::cuda {
namespace {

constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / 32;

// (value, id) ordering: larger value first, then lower id.
__device__ __forceinline__ bool Better(float v, int i, float bv, int bi) { return v > bv || (v == bv && i < bi); }

__global__ void __launch_bounds__(kThreads) ArgmaxKernel(ArgmaxParams p) {
  __shared__ float vals[kWarps];
  __shared__ int ids[kWarps];
  __shared__ float sums[kWarps];
  const float* row = p.logits + static_cast<int64_t>(blockIdx.x) * p.vocab;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float best = -FLT_MAX;
  int best_id = p.vocab;
  for (int i = threadIdx.x; i < p.vocab; i += kThreads)
    if (Better(row[i], i, best, best_id)) best = row[i], best_id = i;
  for (int o = 16; o > 0; o /= 2) {
    const float v = __shfl_xor_sync(0xffffffffu, best, o);
    const int i = __shfl_xor_sync(0xffffffffu, best_id, o);
    if (Better(v, i, best, best_id)) best = v, best_id = i;
  }
  if (lane == 0) vals[warp] = best, ids[warp] = best_id;
  __syncthreads();
  best = vals[0], best_id = ids[0];
  for (int w = 1; w < kWarps; ++w)
    if (Better(vals[w], ids[w], best, best_id)) best = vals[w], best_id = ids[w];
  float sum = 0.f;
  for (int i = threadIdx.x; i < p.vocab; i += kThreads) sum += expf(row[i] - best);
  for (int o = 16; o > 0; o /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  if (lane == 0) sums[warp] = sum;
  __syncthreads();
  if (threadIdx.x == 0) {
    float total = 0.f;
    for (int w = 0; w < kWarps; ++w) total += sums[w];
    p.ids[blockIdx.x] = best_id;
    p.logprobs[blockIdx.x] = -logf(total);
  }
}

}  // namespace

absl::Status ValidateArgmax(const ArgmaxParams& p) {
  if (!p.logits || !p.ids || !p.logprobs) return absl::InvalidArgumentError("argmax: null pointer");
  if (p.rows <= 0 || p.vocab <= 0)
    return absl::InvalidArgumentError(absl::StrCat("argmax: rows=", p.rows, " vocab=", p.vocab, " must be positive"));
  return absl::OkStatus();
}

void LaunchArgmax(const ArgmaxParams& p, cudaStream_t stream) { ArgmaxKernel<<<p.rows, kThreads, 0, stream>>>(p); }

}  // namespace inference::cuda
