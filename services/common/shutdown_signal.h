// SIGTERM / SIGINT as an event a server's main thread can wait for. The signals are blocked in every thread and
// taken by one watcher thread with sigwait, so no code runs in a signal handler and gRPC's threads never see them.
//
// Contract: call BlockShutdownSignals() first thing in main, before any thread exists (threads inherit the mask);
// services::InitServerMain does it. Thread-safe: RequestShutdown may be called from any thread, any number of times.
//
//   services::BlockShutdownSignals();
//   ... start the server ...
//   std::string why = services::WaitForShutdown();   // "SIGTERM", "SIGINT" or RequestShutdown's reason
#pragma once

#include <string>

namespace services {

void BlockShutdownSignals();

// Blocks until SIGTERM or SIGINT arrives or RequestShutdown is called; returns the first reason. Later calls
// return the same reason at once.
std::string WaitForShutdown();

// Wakes WaitForShutdown as a signal would (e.g. a fatal engine error, a test).
void RequestShutdown(const std::string& reason);

}  // namespace services
