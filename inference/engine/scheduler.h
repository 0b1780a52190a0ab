// Continuous batching: one Step admits waiting sequences, schedules a token budget of decode steps and prefill
// chunks, runs the backend once, emits the sampled tokens and retires finished sequences. Sequences join and
// leave between steps. Each stage is a function in its own file (admit.h, schedule.h, run_step.h, emit.h,
// retire.h); this class owns the data they work on: the wait queue, the running batch and the KV bookkeeping.
//
// Thread-safety: none; the engine thread owns the scheduler (Engine adds the locking and the thread).
//
//   Scheduler sched(config, backend.get(), std::make_unique<FcfsPolicy>());
//   sched.Add(std::make_unique<Sequence>(id, request, sink, EngineClock::now()));
//   while (sched.HasWork()) sched.Step();
#pragma once

#include <deque>
#include <memory>
#include <vector>

#include "inference/engine/admit.h"
#include "inference/engine/backend.h"
#include "inference/engine/kv_cache.h"
#include "inference/engine/policy.h"
#include "inference/engine/schedule.h"
#include "inference/engine/sequence.h"
#include "inference/engine/stats.h"

namespace inference {

struct SchedulerConfig {
  AdmitLimits admit;
  ScheduleLimits schedule;
  int32_t context_length = 0;   // the model's max_position_embeddings
  int32_t sliding_window = 0;   // the model's; 0: none
};

class Scheduler {
 public:
  // The KV pool's size comes from backend->info().kv. `backend` outlives the scheduler.
  Scheduler(const SchedulerConfig& config, Backend* backend, std::unique_ptr<SchedulingPolicy> policy);

  // Appends to the wait queue.
  void Add(SeqPtr seq);
  // Marks a waiting or running sequence cancelled; the next Step retires it (blocks freed, on_finish called).
  // False when no such sequence is here (already finished, or never added).
  bool Cancel(SeqId id);
  // One step: retire (cancelled), admit, schedule, run, emit, retire. True when a batch ran.
  bool Step();
  // Cancels every sequence and retires it now (shutdown).
  void CancelAll();

  bool HasWork() const { return !running_.empty() || !waiting_.empty(); }
  EngineStats Stats() const;
  EngineCounters& counters() { return counters_; }
  const KvCache& kv() const { return kv_; }
  const std::vector<SeqPtr>& running() const { return running_; }
  const std::deque<SeqPtr>& waiting() const { return waiting_; }

 private:
  const SchedulerConfig config_;
  Backend* const backend_;
  const std::unique_ptr<SchedulingPolicy> policy_;
  KvCache kv_;
  std::deque<SeqPtr> waiting_;
  std::vector<SeqPtr> running_;   // arrival (id) order
  EngineCounters counters_;
};

}  // namespace inference
