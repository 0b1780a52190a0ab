// Cancellation of one gateway call's downstream RPCs. The reactor (on a gRPC thread) calls CancelAll when the client
// cancels or disconnects; the worker registers each downstream ClientContext for the time its call runs. A context
// registered after CancelAll is cancelled at once, so no downstream call outlives a cancelled client call.
//
// Thread-safety: all methods are thread-safe.
//
//   CallControl control;
//   grpc::ClientContext ctx;
//   CallControl::Scope scope(&control, &ctx);   // deregisters on destruction
//   auto reader = stub->Generate(&ctx, request);
#pragma once

#include <algorithm>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/client_context.h"

namespace gateway {

class CallControl {
 public:
  void CancelAll() {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    for (grpc::ClientContext* c : contexts_) c->TryCancel();
  }
  bool cancelled() const {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }

  class Scope {
   public:
    Scope(CallControl* control, grpc::ClientContext* ctx) : control_(control), ctx_(ctx) { control_->Add(ctx_); }
    ~Scope() { control_->Remove(ctx_); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    CallControl* control_;
    grpc::ClientContext* ctx_;
  };

 private:
  void Add(grpc::ClientContext* c) {
    absl::MutexLock lock(&mu_);
    contexts_.push_back(c);
    if (cancelled_) c->TryCancel();
  }
  void Remove(grpc::ClientContext* c) {
    absl::MutexLock lock(&mu_);
    contexts_.erase(std::remove(contexts_.begin(), contexts_.end(), c), contexts_.end());
  }

  mutable absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<grpc::ClientContext*> contexts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gateway
