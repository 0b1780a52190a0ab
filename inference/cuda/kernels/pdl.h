// Whether the kernels that support programmatic dependent launch (pdl.cuh) are launched that way: on by default; a
// switch for measuring what it brings (bench/engine) and for ruling it out when debugging. Read at launch time, so
// CUDA graphs keep the choice they were captured with. Host code only.
#pragma once

#include <atomic>

namespace inference::cuda {

inline std::atomic<bool>& ProgrammaticLaunchFlag() {
  static std::atomic<bool> on{true};
  return on;
}
inline void SetProgrammaticLaunch(bool on) { ProgrammaticLaunchFlag().store(on, std::memory_order_relaxed); }
inline bool ProgrammaticLaunch() { return ProgrammaticLaunchFlag().load(std::memory_order_relaxed); }

}  // namespace inference::cuda
