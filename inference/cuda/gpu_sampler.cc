// GpuSampler (gpu_sampler.h): SamplingParams/SamplerState -> device rows and penalty entries -> results.
#include "inference/cuda/gpu_sampler.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "inference/cuda/cuda_check.h"
#include "inference/engine/rng.h"
#include "inference/engine/sampler.h"

namespace inference::cuda {
namespace {

static_assert(kMaxTopLogprobs == kMaxLogprobsTopN, "the kernel's top-n stride is the API's top_n limit");

// Results, in one buffer: ids [max_rows] | logprobs [max_rows] | top ids [max_rows][20] | top logprobs [max_rows][20].
size_t ResultBytes(int max_rows) { return size_t{4} * max_rows * (2 + 2 * kMaxTopLogprobs); }

}  // namespace

absl::StatusOr<GpuSampler> GpuSampler::Create(int max_rows, int vocab, int max_context) {
  if (max_rows < 1 || vocab < 1 || vocab > kMaxSampleVocab || max_context < 1)
    return absl::InvalidArgumentError(absl::StrCat("gpu sampler: max_rows=", max_rows, " vocab=", vocab,
                                                   " max_context=", max_context, " must be positive (vocab <= ",
                                                   kMaxSampleVocab, ")"));
  GpuSampler g;
  g.max_rows_ = max_rows;
  g.vocab_ = vocab;
  // A row touches each distinct token of its prompt and output once.
  g.max_entries_ = int64_t{max_rows} * std::min(vocab, max_context);
  const size_t row_bytes = sizeof(SampleRow) * max_rows, entry_bytes = sizeof(PenaltyEntry) * g.max_entries_;
  ASSIGN_OR_RETURN(g.rows_host_, PinnedBuffer::Allocate(row_bytes, "sampling rows"));
  ASSIGN_OR_RETURN(g.rows_dev_, DeviceBuffer::Allocate(row_bytes, "sampling rows"));
  ASSIGN_OR_RETURN(g.entries_host_, PinnedBuffer::Allocate(entry_bytes, "penalty entries"));
  ASSIGN_OR_RETURN(g.entries_dev_, DeviceBuffer::Allocate(entry_bytes, "penalty entries"));
  ASSIGN_OR_RETURN(g.results_host_, PinnedBuffer::Allocate(ResultBytes(max_rows), "sampling results"));
  ASSIGN_OR_RETURN(g.results_dev_, DeviceBuffer::Allocate(ResultBytes(max_rows), "sampling results"));
  ASSIGN_OR_RETURN(g.workspace_, DeviceBuffer::Allocate(SampleWorkspaceBytes(max_rows, vocab), "sampling workspace"));
  // Every row starts idle, so a launch over rows no step has filled yet leaves its logits alone.
  std::fill_n(g.rows_host_.as<SampleRow>(), max_rows, SampleRow{});
  RETURN_IF_CUDA_ERROR(cudaMemcpy(g.rows_dev_.as<void>(), g.rows_host_.as<void>(), row_bytes, cudaMemcpyHostToDevice));
  return g;
}

void GpuSampler::BeginStep() {
  rows_ = 0;
  entries_ = 0;
  any_top_ = false;
}

absl::Status GpuSampler::AddIdleRow() {
  if (rows_ >= max_rows_)
    return absl::InvalidArgumentError(absl::StrCat("gpu sampler: more than max_rows=", max_rows_, " rows"));
  rows_host_.as<SampleRow>()[rows_++] = SampleRow{};
  return absl::OkStatus();
}

absl::Status GpuSampler::AddRow(const SamplingParams& params, const SamplerState& state) {
  RETURN_IF_ERROR(ValidateSamplingParams(params, vocab_));
  if (rows_ >= max_rows_)
    return absl::InvalidArgumentError(absl::StrCat("gpu sampler: more than max_rows=", max_rows_, " rows"));
  SampleRow r;
  r.temperature = params.temperature;
  r.top_k = params.top_k;
  r.top_p = params.top_p;
  r.min_p = params.min_p;
  r.repetition_penalty = params.repetition_penalty;
  r.presence_penalty = params.presence_penalty;
  r.frequency_penalty = params.frequency_penalty;
  r.logprobs_top_n = params.logprobs_top_n;
  if (params.temperature != 0.0f) {
    uint64_t rng = state.rng_state;  // SampleToken's one draw; Finish advances the state itself
    r.u = NextUniform(&rng);
  }
  // Penalty entries: every seen token (repetition) with its output count (presence/frequency), then output tokens
  // not seen (a state built without the prompt).
  const bool repetition = params.repetition_penalty != 1.0f;
  const bool counts = params.presence_penalty != 0.0f || params.frequency_penalty != 0.0f;
  r.penalty_begin = entries_;
  PenaltyEntry* entries = entries_host_.as<PenaltyEntry>();
  const auto add = [&](int32_t id, int32_t count, int32_t seen) -> absl::Status {
    if (id < 0 || id >= vocab_) return absl::OkStatus();  // the CPU sampler skips them too
    if (entries_ >= max_entries_)
      return absl::InvalidArgumentError(absl::StrCat("gpu sampler: penalty entries exceed ", max_entries_,
                                                     " (rows x min(vocab, max context))"));
    entries[entries_++] = PenaltyEntry{id, count, seen};
    return absl::OkStatus();
  };
  if (repetition) {
    for (const auto& [id, unused] : state.seen) {
      int32_t count = 0;
      if (counts) {
        const auto it = state.output_counts.find(id);
        if (it != state.output_counts.end()) count = it->second;
      }
      RETURN_IF_ERROR(add(id, count, 1));
    }
  }
  if (counts) {
    for (const auto& [id, count] : state.output_counts) {
      if (count <= 0 || (repetition && state.seen.count(id))) continue;
      RETURN_IF_ERROR(add(id, count, 0));
    }
  }
  r.penalty_end = entries_;
  any_top_ |= params.logprobs_top_n > 0;
  rows_host_.as<SampleRow>()[rows_++] = r;
  return absl::OkStatus();
}

absl::Status GpuSampler::Upload(cudaStream_t stream) {
  if (rows_ > 0)
    RETURN_IF_CUDA_ERROR(cudaMemcpyAsync(rows_dev_.as<void>(), rows_host_.as<void>(), sizeof(SampleRow) * rows_,
                                         cudaMemcpyHostToDevice, stream));
  if (entries_ > 0)
    RETURN_IF_CUDA_ERROR(cudaMemcpyAsync(entries_dev_.as<void>(), entries_host_.as<void>(),
                                         sizeof(PenaltyEntry) * entries_, cudaMemcpyHostToDevice, stream));
  return absl::OkStatus();
}

absl::Status GpuSampler::Launch(float* logits, int rows, cudaStream_t stream) const {
  if (rows > max_rows_)
    return absl::InvalidArgumentError(absl::StrCat("gpu sampler: rows=", rows, " exceeds max_rows=", max_rows_));
  int32_t* results = results_dev_.as<int32_t>();
  SampleParams p;
  p.logits = logits;
  p.rows = rows;
  p.vocab = vocab_;
  p.row_params = rows_dev_.as<SampleRow>();
  p.penalties = entries_dev_.as<PenaltyEntry>();
  p.workspace = workspace_.as<double>();
  p.ids = results;
  p.logprobs = reinterpret_cast<float*>(results + max_rows_);
  p.top_ids = results + 2 * max_rows_;
  p.top_logprobs = reinterpret_cast<float*>(results + 2 * max_rows_ + max_rows_ * kMaxTopLogprobs);
  RETURN_IF_ERROR(ValidateSample(p));
  LaunchSample(p, stream);
  return CudaLastError("sample");
}

absl::Status GpuSampler::Download(int rows, cudaStream_t stream) {
  const int32_t* dev = results_dev_.as<int32_t>();
  int32_t* host = results_host_.as<int32_t>();
  RETURN_IF_CUDA_ERROR(cudaMemcpyAsync(host, dev, sizeof(int32_t) * 2 * max_rows_, cudaMemcpyDeviceToHost, stream));
  if (any_top_) {
    const size_t top = size_t{1} * max_rows_ * kMaxTopLogprobs, n = size_t{1} * rows * kMaxTopLogprobs;
    for (const size_t off : {size_t{2} * max_rows_, size_t{2} * max_rows_ + top})
      RETURN_IF_CUDA_ERROR(cudaMemcpyAsync(host + off, dev + off, sizeof(int32_t) * n, cudaMemcpyDeviceToHost, stream));
  }
  return absl::OkStatus();
}

SampledToken GpuSampler::Finish(int row, const SamplingParams& params, SamplerState* state) const {
  const int32_t* results = results_host_.as<int32_t>();
  SampledToken out;
  out.id = results[row];
  if (params.logprobs_top_n >= 0) {
    out.logprob = reinterpret_cast<const float*>(results + max_rows_)[row];
    const int n = std::min({params.logprobs_top_n, kMaxTopLogprobs, vocab_});
    const int32_t* ids = results + 2 * max_rows_ + row * kMaxTopLogprobs;
    const float* lps = reinterpret_cast<const float*>(results + 2 * max_rows_ + max_rows_ * kMaxTopLogprobs) +
                       row * kMaxTopLogprobs;
    for (int j = 0; j < n; ++j) out.top.emplace_back(ids[j], lps[j]);
  }
  if (params.temperature != 0.0f) NextUniform(&state->rng_state);
  RecordToken(out.id, state);
  return out;
}

}  // namespace inference::cuda
