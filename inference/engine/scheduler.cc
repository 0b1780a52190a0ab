#include "inference/engine/scheduler.h"

#include "inference/engine/emit.h"
#include "inference/engine/retire.h"
#include "inference/engine/run_step.h"

namespace inference {

Scheduler::Scheduler(const SchedulerConfig& config, Backend* backend, std::unique_ptr<SchedulingPolicy> policy)
    : config_(config),
      backend_(backend),
      policy_(std::move(policy)),
      kv_(backend->info().kv.num_blocks, backend->info().kv.block_size, config.sliding_window) {}

void Scheduler::Add(SeqPtr seq) { waiting_.push_back(std::move(seq)); }

bool Scheduler::Cancel(SeqId id) {
  for (SeqPtr& s : running_) {
    if (s->id == id) return s->cancel_requested = true;
  }
  for (SeqPtr& s : waiting_) {
    if (s->id == id) return s->cancel_requested = true;
  }
  return false;
}

bool Scheduler::Step() {
  Retire(running_, waiting_, kv_, EngineClock::now(), &counters_);
  Admit(config_.admit, *policy_, waiting_, running_, kv_, EngineClock::now(), &counters_);
  const StepPlan plan = Schedule(config_.schedule, *policy_, running_, waiting_, kv_, &counters_);
  const bool ran = !plan.empty();
  if (ran) {
    StepResult result;
    const absl::Status status = RunStep(*backend_, kv_, plan, &result);
    ++counters_.steps_total;
    if (status.ok()) {
      Emit(plan, result, config_.context_length, EngineClock::now(), &counters_);
    } else {
      FailStep(plan, status);
    }
  }
  Retire(running_, waiting_, kv_, EngineClock::now(), &counters_);
  return ran;
}

void Scheduler::CancelAll() { RetireAll(running_, waiting_, kv_, EngineClock::now(), &counters_); }

EngineStats Scheduler::Stats() const {
  EngineStats s;
  s.counters = counters_;
  s.running = static_cast<int32_t>(running_.size());
  s.waiting = static_cast<int32_t>(waiting_.size());
  s.kv_usage = kv_.Usage();
  s.kv_free_blocks = kv_.num_free_blocks();
  s.kv_num_blocks = kv_.num_blocks();
  return s;
}

}  // namespace inference
