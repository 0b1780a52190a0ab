// Weight upload and load-time repack (device_weights.h).
#include "inference/cuda/device_weights.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "inference/cuda/cuda_check.h"
#include "inference/cuda/kernels/w4a16.h"
#include "inference/model/dtype.h"

namespace inference::cuda {
namespace {

// Host fp16 copy of any float tensor.
std::vector<uint16_t> ToHalfHost(const TensorInfo& t) {
  std::vector<uint16_t> out(static_cast<size_t>(t.num_elements()));
  if (t.dtype == DType::kF16) {
    std::memcpy(out.data(), t.data, t.nbytes);
    return out;
  }
  std::vector<float> f(out.size());
  ToFloat32(t.dtype, t.data, f.size(), f.data());
  std::transform(f.begin(), f.end(), out.begin(), FloatToHalf);
  return out;
}

class Uploader {
 public:
  Uploader(DeviceModel* model, cudaStream_t stream, int sm_count)
      : model_(model), stream_(stream), sm_count_(sm_count) {}

  absl::StatusOr<void*> Alloc(size_t bytes, const char* what) {
    ASSIGN_OR_RETURN(DeviceBuffer b, DeviceBuffer::Allocate(bytes, what));
    void* p = b.as<void>();
    model_->bytes += bytes;
    model_->buffers.push_back(std::move(b));
    return p;
  }

  absl::StatusOr<const __half*> Half(const TensorInfo* t) {
    if (!t) return absl::InternalError("upload: missing tensor");
    const std::vector<uint16_t> h = ToHalfHost(*t);
    ASSIGN_OR_RETURN(void* p, Alloc(h.size() * sizeof(uint16_t), t->name.c_str()));
    RETURN_IF_CUDA_ERROR(cudaMemcpy(p, h.data(), h.size() * sizeof(uint16_t), cudaMemcpyHostToDevice));
    return static_cast<const __half*>(p);
  }

  // Fuses `parts` (same in_features and format) into one DeviceLinear: consecutive output rows, or, with
  // `interleave` (AWQ, two parts of one width that it divides), alternating runs of that many columns.
  absl::StatusOr<DeviceLinear> Fused(const std::vector<const LinearWeight*>& parts, int interleave = 0) {
    DeviceLinear out;
    out.k = parts[0]->in_features;
    out.group = parts[0]->group_size;
    for (const LinearWeight* p : parts) {
      if (p->in_features != out.k || p->format != parts[0]->format || p->group_size != out.group)
        return absl::InvalidArgumentError(absl::StrCat("upload: ", p->name, " cannot be fused with ", parts[0]->name,
                                                       " (in_features, format and group_size must agree)"));
      out.n += p->out_features;
    }
    if (parts[0]->format == LinearWeight::Format::kDense) {
      ASSIGN_OR_RETURN(void* dst, Alloc(static_cast<size_t>(out.n) * out.k * sizeof(__half), parts[0]->name.c_str()));
      size_t row = 0;
      for (const LinearWeight* p : parts) {
        const std::vector<uint16_t> h = ToHalfHost(*p->weight);
        RETURN_IF_CUDA_ERROR(cudaMemcpy(static_cast<__half*>(dst) + row * out.k, h.data(), h.size() * 2,
                                        cudaMemcpyHostToDevice));
        row += p->out_features;
      }
      out.dense = static_cast<const __half*>(dst);
      return out;
    }
    RETURN_IF_ERROR(ValidateW4Shape(parts[0]->name.c_str(), out.n, out.k, out.group));
    if (interleave > 0 && (parts.size() != 2 || parts[0]->out_features != parts[1]->out_features ||
                           parts[0]->out_features % interleave != 0))
      interleave = 0;  // consecutive parts: SiluMul reads them so
    ASSIGN_OR_RETURN(void* qw, Alloc(static_cast<size_t>(out.n) * (out.k / 8) * sizeof(uint32_t), "qweight"));
    ASSIGN_OR_RETURN(void* sz, Alloc(static_cast<size_t>(out.n) * (out.k / out.group) * sizeof(__half2), "scales"));
    int row = 0, part = 0;
    for (const LinearWeight* p : parts) {
      const size_t qbytes = p->qweight->nbytes, zbytes = p->qzeros->nbytes, sbytes = p->scales->nbytes;
      ASSIGN_OR_RETURN(DeviceBuffer staging, DeviceBuffer::Allocate(qbytes + zbytes + sbytes, "awq staging"));
      unsigned char* s = staging.as<unsigned char>();
      RETURN_IF_CUDA_ERROR(cudaMemcpy(s, p->qweight->data, qbytes, cudaMemcpyHostToDevice));
      RETURN_IF_CUDA_ERROR(cudaMemcpy(s + qbytes, p->qzeros->data, zbytes, cudaMemcpyHostToDevice));
      RETURN_IF_CUDA_ERROR(cudaMemcpy(s + qbytes + zbytes, p->scales->data, sbytes, cudaMemcpyHostToDevice));
      AwqRepackParams rp;
      rp.qweight = reinterpret_cast<const int32_t*>(s);
      rp.qzeros = reinterpret_cast<const int32_t*>(s + qbytes);
      rp.scales = reinterpret_cast<const __half*>(s + qbytes + zbytes);
      rp.k = p->in_features;
      rp.n = p->out_features;
      rp.group = p->group_size;
      rp.out_qweight = static_cast<uint32_t*>(qw);
      rp.out_scale_zero = static_cast<__half2*>(sz);
      rp.col_offset = interleave > 0 ? part * interleave : row;
      rp.col_run = interleave, rp.col_stride = 2 * interleave;
      RETURN_IF_ERROR(ValidateAwqRepack(rp));
      LaunchAwqRepack(rp, stream_);
      RETURN_IF_ERROR(CudaLastError("awq repack"));
      RETURN_IF_CUDA_ERROR(cudaStreamSynchronize(stream_));  // before the staging buffer is freed
      row += p->out_features, ++part;
    }
    out.interleave = interleave;
    out.qweight = static_cast<const uint32_t*>(qw);
    out.scale_zero = static_cast<const __half2*>(sz);
    out.splits = W4A16GemmSplits(W4A16GemmKind::kNarrow, out.n, out.k, sm_count_);
    out.wide_splits = W4A16GemmSplits(W4A16GemmKind::kWide, out.n, out.k, sm_count_);
    return out;
  }

 private:
  DeviceModel* model_;
  cudaStream_t stream_;
  int sm_count_;
};

}  // namespace

absl::StatusOr<DeviceModel> UploadModel(const ModelWeights& weights, cudaStream_t stream) {
  DeviceModel m;
  int device = 0, sm_count = 0;
  RETURN_IF_CUDA_ERROR(cudaGetDevice(&device));
  RETURN_IF_CUDA_ERROR(cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device));
  Uploader up(&m, stream, sm_count);
  ASSIGN_OR_RETURN(m.embed_tokens, up.Half(weights.embed_tokens));
  ASSIGN_OR_RETURN(m.norm, up.Half(weights.norm));
  if (weights.lm_head == weights.embed_tokens) {
    m.lm_head = m.embed_tokens;
  } else {
    ASSIGN_OR_RETURN(m.lm_head, up.Half(weights.lm_head));
  }
  for (const LayerWeights& l : weights.layers) {
    DeviceLayer d;
    ASSIGN_OR_RETURN(d.input_layernorm, up.Half(l.input_layernorm));
    ASSIGN_OR_RETURN(d.post_attention_layernorm, up.Half(l.post_attention_layernorm));
    ASSIGN_OR_RETURN(d.qkv, up.Fused({&l.q_proj, &l.k_proj, &l.v_proj}));
    ASSIGN_OR_RETURN(d.o_proj, up.Fused({&l.o_proj}));
    ASSIGN_OR_RETURN(d.gate_up, up.Fused({&l.gate_proj, &l.up_proj}, kW4SiluRun));
    ASSIGN_OR_RETURN(d.down_proj, up.Fused({&l.down_proj}));
    m.layers.push_back(d);
  }
  return m;
}

}  // namespace inference::cuda
