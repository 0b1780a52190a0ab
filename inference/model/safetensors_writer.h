// Writes safetensors files (the format read by safetensors.h): a little-endian u64 header length, a JSON header
// padded with spaces to a multiple of 8 bytes, then the tensors' bytes back to back in the order given.
// Used by `awqserve model synth/quantize` and by tests that write damaged checkpoints. Thread-compatible.
//
//   std::vector<TensorSpec> specs = {{"model.norm.weight", DType::kF16, {4096}}};
//   RETURN_IF_ERROR(WriteSafetensors(path, specs, [&](size_t i, std::string* bytes) {
//     *bytes = NormBytes();            // exactly the spec's size
//     return absl::OkStatus();
//   }));
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "inference/model/dtype.h"

namespace inference {

struct TensorSpec {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  size_t nbytes() const;
};

// Produces the bytes of specs[i]; called once per tensor, in order, so large checkpoints stream to disk.
using TensorProducer = std::function<absl::Status(size_t index, std::string* bytes)>;

// Writes `path` (replacing it). A producer returning the wrong number of bytes is an INTERNAL error.
// The header carries {"__metadata__": {"format": "pt"}} like the files transformers writes.
[[nodiscard]] absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorSpec>& specs,
                                            const TensorProducer& produce);

// The header JSON text (unpadded) for `specs` laid out back to back.
std::string SafetensorsHeaderJson(const std::vector<TensorSpec>& specs);

}  // namespace inference
