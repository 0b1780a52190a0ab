#include "inference/engine/retire.h"

namespace inference {
namespace {

// Retires the finished sequences of one container, keeping the order of the rest.
template <typename Container>
int RetireFrom(Container& seqs, KvCache& kv, EngineClock::time_point now, EngineCounters* counters) {
  int retired = 0;
  Container kept;
  for (SeqPtr& seq : seqs) {
    if (seq->cancel_requested) seq->Finish(FinishReason::kCancelled);
    if (!seq->finished()) {
      kept.push_back(std::move(seq));
      continue;
    }
    kv.Free(seq->id);
    seq->timings.finished = now;
    ++counters->requests_finished_total[static_cast<int>(seq->finish)];
    if (seq->sink.on_finish) {
      FinishedRequest done;
      done.reason = seq->finish;
      done.error = seq->error;
      done.stop_token = seq->stop_token;
      done.prompt_tokens = seq->num_prompt();
      done.completion_tokens = seq->num_generated();
      done.preemptions = seq->preemptions;
      done.timings = seq->timings;
      seq->sink.on_finish(done);
    }
    ++retired;
  }
  seqs = std::move(kept);
  return retired;
}

}  // namespace

int Retire(std::vector<SeqPtr>& running, std::deque<SeqPtr>& waiting, KvCache& kv, EngineClock::time_point now,
           EngineCounters* counters) {
  return RetireFrom(running, kv, now, counters) + RetireFrom(waiting, kv, now, counters);
}

int RetireAll(std::vector<SeqPtr>& running, std::deque<SeqPtr>& waiting, KvCache& kv, EngineClock::time_point now,
              EngineCounters* counters) {
  for (SeqPtr& s : running) s->cancel_requested = true;
  for (SeqPtr& s : waiting) s->cancel_requested = true;
  return Retire(running, waiting, kv, now, counters);
}

}  // namespace inference
