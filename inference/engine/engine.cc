#include "inference/engine/engine.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace inference {
namespace {

absl::Status ValidateConfig(const EngineConfig& c, const Backend& backend) {
  const auto positive = [](const char* field, int64_t v) -> absl::Status {
    if (v >= 1) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat("engine config: ", field, " = ", v, " must be at least 1"));
  };
  RETURN_IF_ERROR(positive("vocab_size", c.vocab_size));
  RETURN_IF_ERROR(positive("context_length", c.context_length));
  RETURN_IF_ERROR(positive("max_queued_requests", c.max_queued_requests));
  RETURN_IF_ERROR(positive("max_running", c.max_running));
  RETURN_IF_ERROR(positive("max_batch_tokens", c.max_batch_tokens));
  RETURN_IF_ERROR(positive("kv.block_size", backend.info().kv.block_size));
  RETURN_IF_ERROR(positive("kv.num_blocks", backend.info().kv.num_blocks));
  if (c.max_batch_tokens < c.max_running) {
    // Every running sequence decodes one token each step; a smaller budget would starve the last ones.
    return absl::InvalidArgumentError(absl::StrCat("engine config: max_batch_tokens = ", c.max_batch_tokens,
                                                   " must be at least max_running = ", c.max_running,
                                                   " (each running sequence decodes one token per step)"));
  }
  if (c.sliding_window < 0) {
    return absl::InvalidArgumentError(absl::StrCat("engine config: sliding_window = ", c.sliding_window,
                                                   " must be 0 (none) or positive"));
  }
  return absl::OkStatus();
}

SchedulerConfig ToSchedulerConfig(const EngineConfig& c) {
  SchedulerConfig s;
  s.admit.max_running = c.max_running;
  s.schedule.max_batch_tokens = c.max_batch_tokens;
  s.context_length = c.context_length;
  s.sliding_window = c.sliding_window;
  return s;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(const EngineConfig& config, std::unique_ptr<Backend> backend) {
  if (backend == nullptr) return absl::InvalidArgumentError("engine config: no backend");
  RETURN_IF_ERROR(ValidateConfig(config, *backend));
  return std::unique_ptr<Engine>(new Engine(config, std::move(backend)));
}

Engine::Engine(const EngineConfig& config, std::unique_ptr<Backend> backend)
    : config_(config),
      backend_(std::move(backend)),
      scheduler_(ToSchedulerConfig(config), backend_.get(), std::make_unique<FcfsPolicy>()) {
  limits_.vocab_size = config.vocab_size;
  limits_.context_length = config.context_length;
  limits_.kv_num_blocks = backend_->info().kv.num_blocks;
  limits_.kv_block_size = backend_->info().kv.block_size;
  stats_ = scheduler_.Stats();
}

Engine::~Engine() { Stop(); }

absl::StatusOr<RequestHandle> Engine::Submit(EngineRequest request, RequestSink sink) {
  const EngineClock::time_point now = EngineClock::now();
  absl::Status valid = ValidateRequest(request, limits_);
  std::lock_guard<std::mutex> lock(mu_);
  if (!valid.ok()) {
    ++rejected_;
    return valid;
  }
  if (stop_) return absl::UnavailableError("the engine is stopped");
  const int64_t waiting = static_cast<int64_t>(inbox_.size()) + scheduler_waiting_;
  if (waiting >= config_.max_queued_requests) {
    ++rejected_;
    return absl::ResourceExhaustedError(absl::StrCat("the wait queue is full: ", waiting,
                                                     " requests waiting (max_queued_requests = ",
                                                     config_.max_queued_requests, ")"));
  }
  const RequestHandle id = next_id_++;
  inbox_.push_back(std::make_unique<Sequence>(id, std::move(request), std::move(sink), now));
  stats_.waiting = static_cast<int32_t>(waiting + 1);
  wake_.notify_one();
  return id;
}

void Engine::Cancel(RequestHandle handle) {
  std::lock_guard<std::mutex> lock(mu_);
  cancels_.push_back(handle);
  wake_.notify_one();
}

void Engine::TakeInbox() {
  std::vector<SeqPtr> inbox;
  std::vector<RequestHandle> cancels;
  {
    std::lock_guard<std::mutex> lock(mu_);
    inbox.swap(inbox_);
    cancels.swap(cancels_);
    // Counted as waiting until PublishStats replaces it with the scheduler's own count.
    scheduler_waiting_ += static_cast<int32_t>(inbox.size());
  }
  for (SeqPtr& seq : inbox) scheduler_.Add(std::move(seq));
  for (RequestHandle h : cancels) scheduler_.Cancel(h);
}

void Engine::PublishStats() {
  EngineStats s = scheduler_.Stats();
  std::lock_guard<std::mutex> lock(mu_);
  scheduler_waiting_ = s.waiting;
  s.waiting += static_cast<int32_t>(inbox_.size());
  s.counters.requests_rejected_total = rejected_;
  stats_ = s;
}

bool Engine::Step() {
  TakeInbox();
  const bool ran = scheduler_.Step();
  PublishStats();
  return ran;
}

void Engine::RunUntilIdle() {
  while (true) {
    const bool ran = Step();
    bool more_input;
    {
      std::lock_guard<std::mutex> lock(mu_);
      more_input = !inbox_.empty() || !cancels_.empty();
    }
    if (!ran && !more_input) return;
  }
}

void Engine::Start() {
  AWQ_CHECK(!thread_.joinable());
  thread_ = std::thread([this] { Loop(); });
}

void Engine::Loop() {
  bool busy = false;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || busy || !inbox_.empty() || !cancels_.empty(); });
      if (stop_) return;
    }
    busy = Step();
  }
}

void Engine::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
  // The stepping thread is gone: this thread owns the scheduler now.
  TakeInbox();
  scheduler_.CancelAll();
  PublishStats();
}

EngineStats Engine::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  EngineStats s = stats_;
  s.counters.requests_rejected_total = rejected_;
  return s;
}

}  // namespace inference
