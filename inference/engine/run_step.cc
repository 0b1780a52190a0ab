#include "inference/engine/run_step.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace inference {

StepBatch BuildBatch(const StepPlan& plan, const KvCache& kv) {
  StepBatch batch;
  batch.seqs.reserve(plan.items.size());
  for (const ScheduledSeq& it : plan.items) {
    Sequence& seq = *it.seq;
    SeqStep step;
    step.tokens.assign(seq.tokens.begin() + it.start, seq.tokens.begin() + it.start + it.count);
    step.start_pos = it.start;
    const std::vector<int32_t>& table = kv.BlockTable(seq.id);
    step.block_table.assign(table.begin(), table.begin() + kv.BlocksFor(it.start + it.count));
    step.sample = it.sample;
    if (it.sample) {
      step.sampling = &seq.request.sampling;
      step.sampler_state = &seq.sampler;
    }
    batch.seqs.push_back(std::move(step));
  }
  return batch;
}

absl::Status RunStep(Backend& backend, KvCache& kv, const StepPlan& plan, StepResult* result) {
  kv.Commit(plan.kv);
  const StepBatch batch = BuildBatch(plan, kv);
  result->tokens.clear();
  RETURN_IF_ERROR(backend.Execute(batch, result));
  if (result->tokens.size() != batch.seqs.size()) {
    return absl::InternalError(absl::StrCat("backend ", backend.info().name, " returned ", result->tokens.size(),
                                            " results for a batch of ", batch.seqs.size()));
  }
  for (size_t k = 0; k < batch.seqs.size(); ++k) {
    if (batch.seqs[k].sample && result->tokens[k].id < 0) {
      return absl::InternalError(absl::StrCat("backend ", backend.info().name, " sampled no token for entry ", k));
    }
  }
  return absl::OkStatus();
}

}  // namespace inference
