#include "inference/cpu/cpu_backend.h"

#include <unistd.h>

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "inference/engine/sampler.h"

namespace inference {
namespace {

int DefaultThreads(int requested) {
  if (requested > 0) return requested;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

absl::Status SeqError(size_t k, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("batch.seqs[", k, "]: ", what));
}

// Every position the step writes or attends must map to a valid block of this pool.
absl::Status CheckSeq(const SeqStep& s, size_t k, const ModelConfig& c, const KvLayout& layout) {
  if (s.tokens.empty()) return SeqError(k, "no tokens");
  if (s.start_pos < 0) return SeqError(k, absl::StrCat("start_pos ", s.start_pos, " is negative"));
  const int64_t end = int64_t{s.start_pos} + static_cast<int64_t>(s.tokens.size());
  if (end > c.max_position_embeddings) {
    return SeqError(k, absl::StrCat("positions up to ", end, " exceed the model's context of ",
                                    c.max_position_embeddings));
  }
  for (int32_t id : s.tokens) {
    if (id < 0 || id >= c.vocab_size) {
      return SeqError(k, absl::StrCat("token id ", id, " is outside the vocabulary [0, ", c.vocab_size, ")"));
    }
  }
  const int64_t first = c.sliding_window > 0 ? std::max<int64_t>(0, s.start_pos - c.sliding_window + 1) : 0;
  for (int64_t b = first / layout.block_size; b <= (end - 1) / layout.block_size; ++b) {
    if (b >= static_cast<int64_t>(s.block_table.size())) {
      return SeqError(k, absl::StrCat("block_table has ", s.block_table.size(), " blocks but position ", end - 1,
                                      " needs ", (end - 1) / layout.block_size + 1));
    }
    const int32_t id = s.block_table[b];
    if (id < 0 || id >= layout.num_blocks) {
      return SeqError(k, absl::StrCat("block_table[", b, "] = ", id, " is not a block of the pool [0, ",
                                      layout.num_blocks, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

CpuBackend::CpuBackend(CpuModel model, const CpuBackendOptions& options)
    : model_(std::move(model)), pool_(DefaultThreads(options.threads)) {
  info_.name = "cpu";
  info_.kv.num_layers = model_.config.num_hidden_layers;
  info_.kv.num_kv_heads = model_.config.num_key_value_heads;
  info_.kv.head_dim = model_.config.head_dim;
  info_.kv.block_size = options.block_size;
  info_.kv.num_blocks = options.num_blocks;
  kv_ = MakeKvPools(info_.kv);
}

absl::Status CpuBackend::Forward(const StepBatch& batch, bool all_rows, std::vector<int>* row_seq,
                                 std::vector<float>* logits) {
  std::vector<TokenRow> rows;
  std::vector<int32_t> tokens;
  std::vector<int> logit_rows;
  row_seq->clear();
  for (size_t k = 0; k < batch.seqs.size(); ++k) {
    const SeqStep& s = batch.seqs[k];
    RETURN_IF_ERROR(CheckSeq(s, k, model_.config, info_.kv));
    for (size_t i = 0; i < s.tokens.size(); ++i) {
      if (all_rows || (s.sample && i + 1 == s.tokens.size())) {
        logit_rows.push_back(static_cast<int>(rows.size()));
        row_seq->push_back(static_cast<int>(k));
      }
      rows.push_back({s.start_pos + static_cast<int32_t>(i), &s.block_table});
      tokens.push_back(s.tokens[i]);
    }
  }
  if (rows.empty()) {
    logits->clear();
    return absl::OkStatus();
  }
  MistralForward(model_, rows, tokens, logit_rows, kv_, pool_, scratch_, logits);
  return absl::OkStatus();
}

absl::Status CpuBackend::LogitRows(const StepBatch& batch, bool all_rows, std::vector<std::vector<float>>* logits) {
  std::vector<int> row_seq;
  std::vector<float> flat;
  RETURN_IF_ERROR(Forward(batch, all_rows, &row_seq, &flat));
  const size_t V = model_.config.vocab_size;
  logits->clear();
  for (size_t r = 0; r < row_seq.size(); ++r) logits->emplace_back(flat.begin() + r * V, flat.begin() + (r + 1) * V);
  return absl::OkStatus();
}

absl::Status CpuBackend::ExecuteAllLogits(const StepBatch& batch, std::vector<std::vector<float>>* logits) {
  return LogitRows(batch, /*all_rows=*/true, logits);
}

absl::Status CpuBackend::ExecuteLogits(const StepBatch& batch, std::vector<std::vector<float>>* logits) {
  return LogitRows(batch, /*all_rows=*/false, logits);
}

absl::Status CpuBackend::Execute(const StepBatch& batch, StepResult* result) {
  for (size_t k = 0; k < batch.seqs.size(); ++k) {
    const SeqStep& s = batch.seqs[k];
    if (s.sample && (s.sampling == nullptr || s.sampler_state == nullptr)) {
      return SeqError(k, "sample is set without sampling params and state");
    }
  }
  std::vector<int> row_seq;
  std::vector<float> flat;
  RETURN_IF_ERROR(Forward(batch, /*all_rows=*/false, &row_seq, &flat));
  const size_t V = model_.config.vocab_size;
  result->tokens.assign(batch.seqs.size(), SampledToken{});
  std::vector<float> logits(V);
  for (size_t r = 0; r < row_seq.size(); ++r) {
    const SeqStep& s = batch.seqs[row_seq[r]];
    logits.assign(flat.begin() + r * V, flat.begin() + (r + 1) * V);
    result->tokens[row_seq[r]] = SampleToken(logits, *s.sampling, s.sampler_state);
  }
  return absl::OkStatus();
}

size_t CpuBackendMemoryBytes(const ModelConfig& c, const CpuBackendOptions& options) {
  const size_t H = c.hidden_size, V = c.vocab_size, I = c.intermediate_size;
  const size_t q = static_cast<size_t>(c.num_attention_heads) * c.head_dim;
  const size_t kv = static_cast<size_t>(c.num_key_value_heads) * c.head_dim;
  const size_t per_layer = 2 * H + H * q + 2 * H * kv + q * H + 3 * H * I;
  const size_t params = 2 * V * H + H + c.num_hidden_layers * per_layer;
  const size_t kv_pools = 2 * static_cast<size_t>(c.num_hidden_layers) * options.num_blocks * options.block_size * kv;
  return (params + kv_pools) * sizeof(float);
}

absl::StatusOr<std::unique_ptr<CpuBackend>> CreateCpuBackend(const ModelWeights& weights,
                                                             const CpuBackendOptions& options) {
  if (options.num_blocks <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("num_blocks = ", options.num_blocks, " must be positive"));
  }
  if (options.block_size <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("block_size = ", options.block_size, " must be positive"));
  }
  size_t limit = options.max_memory_bytes;
  if (limit == 0) limit = static_cast<size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<size_t>(sysconf(_SC_PAGE_SIZE));
  const size_t needed = CpuBackendMemoryBytes(weights.config, options);
  if (needed > limit) {
    constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
    return absl::ResourceExhaustedError(absl::StrFormat(
        "the CPU backend needs %.2f GiB (float32 weights and %d KV blocks) but the limit is %.2f GiB; "
        "use the CUDA backend or a smaller model",
        needed / kGiB, options.num_blocks, limit / kGiB));
  }
  ASSIGN_OR_RETURN(CpuModel model, LoadCpuModel(weights));
  return std::make_unique<CpuBackend>(std::move(model), options);
}

}  // namespace inference
