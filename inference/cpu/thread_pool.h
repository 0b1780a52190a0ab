// A small fixed pool of std::threads for data-parallel loops (rows of a matmul, heads of attention).
//
// Ownership: owns its worker threads; joins them on destruction. Thread-safety: ParallelFor is called by one
// thread at a time (the engine thread); `fn` runs concurrently on disjoint ranges and must not call ParallelFor.
//
//   ThreadPool pool(4);                                   // the caller plus 3 workers
//   pool.ParallelFor(rows, [&](int64_t begin, int64_t end) { for (int64_t r = begin; r < end; ++r) Row(r); });
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace inference {

class ThreadPool {
 public:
  // num_threads counts the calling thread; values < 1 mean 1 (everything runs inline).
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(begin, end) on disjoint ranges covering [0, n) and returns when all are done.
  void ParallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void WorkerLoop();
  void RunChunks();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  // The current job, guarded by mu_ (next_chunk_ too: chunks are coarse, so a lock per chunk is cheap).
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t chunk_ = 1;
  int64_t next_chunk_ = 0;
  int active_workers_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

}  // namespace inference
