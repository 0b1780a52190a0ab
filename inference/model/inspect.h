// A human-readable report on a checkpoint folder: its config, every tensor (dtype, shape, bytes, file) and the
// validation verdict of LoadModelWeights. It never fails: unreadable parts are reported in the text.
// Backs `awqserve model inspect DIR`. Thread-safe (no shared state).
//
//   InspectResult r = InspectCheckpoint("/models/mistral-awq");
//   std::cout << r.report;  return r.valid ? 0 : 1;
#pragma once

#include <string>

#include "absl/status/status.h"

namespace inference {

struct InspectResult {
  std::string report;
  bool valid = false;
  absl::Status status;  // the first error found (OK when valid)
};

InspectResult InspectCheckpoint(const std::string& dir);

}  // namespace inference
