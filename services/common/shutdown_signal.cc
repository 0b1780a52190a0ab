#include "services/common/shutdown_signal.h"

#include <pthread.h>
#include <signal.h>

#include <thread>

#include "absl/synchronization/mutex.h"

namespace services {
namespace {

struct ShutdownState {
  absl::Mutex mu;
  std::string reason ABSL_GUARDED_BY(mu);
  bool watcher_started ABSL_GUARDED_BY(mu) = false;
};

ShutdownState& State() {
  static ShutdownState* state = new ShutdownState;  // never destroyed: the watcher thread may outlive main
  return *state;
}

sigset_t ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

void BlockShutdownSignals() {
  const sigset_t set = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ShutdownState& state = State();
  absl::MutexLock lock(&state.mu);
  if (state.watcher_started) return;
  state.watcher_started = true;
  std::thread([] {
    const sigset_t signals = ShutdownSignals();
    int sig = 0;
    while (sigwait(&signals, &sig) != 0) {
    }
    RequestShutdown(sig == SIGTERM ? "SIGTERM" : "SIGINT");
  }).detach();
}

std::string WaitForShutdown() {
  ShutdownState& state = State();
  absl::MutexLock lock(&state.mu);
  state.mu.Await(absl::Condition(
      +[](std::string* reason) { return !reason->empty(); }, &state.reason));
  return state.reason;
}

void RequestShutdown(const std::string& reason) {
  ShutdownState& state = State();
  absl::MutexLock lock(&state.mu);
  if (state.reason.empty()) state.reason = reason.empty() ? "shutdown requested" : reason;
}

}  // namespace services
