// Scheduling policies as types: which waiting sequence is admitted next and which running one is preempted when
// the KV cache cannot hold a step. The stages (admit.h, schedule.h) ask a policy; they hold no policy flags.
//
// Thread-safety: stateless; used by the engine thread.
//
//   FcfsPolicy fcfs;
//   size_t next = fcfs.PickToAdmit(waiting);     // index into waiting
#pragma once

#include <cstddef>
#include <deque>
#include <vector>

#include "inference/engine/sequence.h"

namespace inference {

class SchedulingPolicy {
 public:
  virtual ~SchedulingPolicy() = default;
  // Index of the waiting sequence to admit next; waiting is not empty.
  virtual size_t PickToAdmit(const std::deque<SeqPtr>& waiting) const = 0;
  // Index of the running sequence to preempt; running is not empty.
  virtual size_t PickVictim(const std::vector<SeqPtr>& running) const = 0;
};

// First come, first served: the wait queue's head is admitted (a preempted sequence goes back to the head);
// the most recently admitted running sequence is preempted first (vLLM's recompute order).
class FcfsPolicy final : public SchedulingPolicy {
 public:
  size_t PickToAdmit(const std::deque<SeqPtr>& waiting) const override { return 0; }
  size_t PickVictim(const std::vector<SeqPtr>& running) const override { return running.size() - 1; }
};

}  // namespace inference
