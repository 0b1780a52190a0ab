// The model's weights on the device, in the layout the kernels want, decided once at load: q/k/v fused into one
// linear and gate/up into another, AWQ repacked (kernels/w4a16.h), every float tensor converted to fp16.
//
// Ownership: DeviceModel owns its device buffers. Thread-safety: immutable after UploadModel.
//
//   ASSIGN_OR_RETURN(DeviceModel m, UploadModel(weights, stream));
//   RunLinear(m.layers[0].qkv, x, rows, y, ctx);
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <vector>

#include "absl/status/statusor.h"
#include "inference/cuda/device_memory.h"
#include "inference/cuda/linear.h"
#include "inference/model/weights.h"

namespace inference::cuda {

struct DeviceLayer {
  const __half* input_layernorm = nullptr;
  const __half* post_attention_layernorm = nullptr;
  DeviceLinear qkv;       // rows: q_proj | k_proj | v_proj
  DeviceLinear o_proj;
  DeviceLinear gate_up;   // rows: gate_proj | up_proj
  DeviceLinear down_proj;
};

struct DeviceModel {
  const __half* embed_tokens = nullptr;  // [vocab][hidden]
  const __half* norm = nullptr;
  const __half* lm_head = nullptr;       // [vocab][hidden]
  std::vector<DeviceLayer> layers;
  size_t bytes = 0;                      // device memory held
  std::vector<DeviceBuffer> buffers;
};

[[nodiscard]] absl::StatusOr<DeviceModel> UploadModel(const ModelWeights& weights, cudaStream_t stream);

}  // namespace inference::cuda
