// Reads one Generate stream on a thread of its own and hands its messages over in batches: Take() returns
// everything that arrived since the last Take, merged into one message. The gateway thus waits for one
// DecodeStream round trip per batch rather than per token: while it keeps up, a batch is one token; when
// generation is faster than a round trip, batches grow and the gateway's latency does not limit throughput.
//
// Ownership: borrows the stub and the context (the caller registers the context with its CallControl and keeps
// both alive until the feed is destroyed). Thread-safety: Take and Cancel from one consumer thread; the reader
// thread is internal and joined by the destructor.
//
//   GenerationFeed feed(stub, &ctx, request);
//   GenerationFeed::Batch b;
//   while (feed.Take(&b)) { ... b.message.ids() ... }   // false: the stream has ended; feed.status() says how
#pragma once

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "awqserve/v1/generation.grpc.pb.h"
#include "grpcpp/client_context.h"

namespace gateway {

class GenerationFeed {
 public:
  GenerationFeed(awqserve::v1::Generation::Stub* stub, grpc::ClientContext* ctx,
                 const awqserve::v1::GenerateRequest& request);
  ~GenerationFeed();  // cancels the call if it is still running, then joins the reader
  GenerationFeed(const GenerationFeed&) = delete;
  GenerationFeed& operator=(const GenerationFeed&) = delete;

  // Blocks until messages are queued or the stream has ended. With messages: merges them into *out (ids and
  // logprobs concatenated; the finish fields of the last one) and returns true. At the end: false.
  bool Take(awqserve::v1::GenerateResponse* out);
  // The call's status; valid after Take returned false.
  grpc::Status status();
  // Ends the call early (a stop string matched); Take then returns what is queued, then false.
  void Cancel() { ctx_->TryCancel(); }

 private:
  void ReadAll(std::unique_ptr<grpc::ClientReader<awqserve::v1::GenerateResponse>> reader);

  grpc::ClientContext* const ctx_;
  absl::Mutex mu_;
  awqserve::v1::GenerateResponse queued_ ABSL_GUARDED_BY(mu_);
  bool has_queued_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  std::thread reader_;
};

}  // namespace gateway
