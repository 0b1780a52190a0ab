// The CUDA backend (cuda_backend.h): one step = upload metadata, forward, lm_head, sample.
#include "inference/cuda/cuda_backend.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "inference/cuda/cuda_check.h"
#include "inference/cuda/kernels/attention.h"
#include "inference/cuda/kernels/elementwise.h"
#include "inference/engine/kv_layout.h"

namespace inference::cuda {
namespace {

constexpr int kGraphBuckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};

int BucketIndex(int seqs) {
  for (int i = 0; i < static_cast<int>(std::size(kGraphBuckets)); ++i)
    if (seqs <= kGraphBuckets[i]) return i;
  return -1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CudaBackend>> CudaBackend::Create(const ModelWeights& weights,
                                                                 const CudaBackendOptions& options) {
  std::unique_ptr<CudaBackend> b(new CudaBackend());
  RETURN_IF_ERROR(b->Init(weights, options));
  return b;
}

CudaBackend::~CudaBackend() {
  for (cudaGraphExec_t g : graphs_)
    if (g) cudaGraphExecDestroy(g);
  if (stream_) cudaStreamDestroy(stream_);
}

absl::Status CudaBackend::Init(const ModelWeights& weights, const CudaBackendOptions& options) {
  config_ = weights.config;
  options_ = options;
  const ModelConfig& c = config_;
  if (options.max_seqs < 1 || options.max_seqs > options.max_batch_tokens)
    return absl::InvalidArgumentError(absl::StrCat("cuda backend: max_seqs=", options.max_seqs,
                                                   " must be in [1, max_batch_tokens=", options.max_batch_tokens, "]"));
  if (options.block_size < 1 || !(options.kv_memory_fraction > 0 && options.kv_memory_fraction < 1))
    return absl::InvalidArgumentError(absl::StrCat("cuda backend: block_size=", options.block_size,
                                                   " must be >= 1 and kv_memory_fraction=",
                                                   options.kv_memory_fraction, " in (0, 1)"));
  RETURN_IF_CUDA_ERROR(cudaSetDevice(options.device));
  RETURN_IF_CUDA_ERROR(cudaDeviceGetAttribute(&sm_count_, cudaDevAttrMultiProcessorCount, options.device));
  RETURN_IF_CUDA_ERROR(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  ASSIGN_OR_RETURN(cublas_, CublasGemm::Create());

  ASSIGN_OR_RETURN(model_, UploadModel(weights, stream_));

  // Rows of sampling buffers: max_seqs rounded up to its graph bucket (a graph samples every padded row).
  const int bucket = BucketIndex(options.max_seqs);
  sample_capacity_ = bucket >= 0 ? kGraphBuckets[bucket] : options.max_seqs;
  const int T = options.max_batch_tokens, S = sample_capacity_;
  const int q_dim = c.num_attention_heads * c.head_dim, kv_dim = c.num_key_value_heads * c.head_dim;
  const int max_len = options.max_model_len > 0 ? options.max_model_len : c.max_position_embeddings;
  max_blocks_per_seq_ = (max_len + options.block_size - 1) / options.block_size;
  size_t scratch = 0;
  for (const DeviceLayer& l : model_.layers)
    for (const DeviceLinear* w : {&l.qkv, &l.o_proj, &l.gate_up, &l.down_proj})
      scratch = std::max(scratch, LinearScratchBytes(*w));
  size_t attn_ws = 0;
  for (int t = 1; t <= T; ++t)
    attn_ws = std::max(attn_ws, PagedAttentionWorkspaceBytes(
                                    t, c.num_attention_heads, c.head_dim,
                                    PagedAttentionSplits(t, c.num_key_value_heads, sm_count_)));
  const size_t h = sizeof(__half);
  for (DeviceBuffer& r : residual_) {
    ASSIGN_OR_RETURN(r, DeviceBuffer::Allocate(size_t{4} * T * c.hidden_size, "residual"));
  }
  ASSIGN_OR_RETURN(normed_, DeviceBuffer::Allocate(h * T * c.hidden_size, "normed"));
  ASSIGN_OR_RETURN(qkv_, DeviceBuffer::Allocate(h * T * (q_dim + 2 * kv_dim), "qkv"));
  ASSIGN_OR_RETURN(attn_, DeviceBuffer::Allocate(h * T * q_dim, "attention output"));
  ASSIGN_OR_RETURN(delta_, DeviceBuffer::Allocate(h * T * c.hidden_size, "delta"));
  ASSIGN_OR_RETURN(gate_up_, DeviceBuffer::Allocate(h * T * 2 * c.intermediate_size, "gate_up"));
  ASSIGN_OR_RETURN(act_, DeviceBuffer::Allocate(h * T * c.intermediate_size, "mlp activation"));
  ASSIGN_OR_RETURN(scratch_, DeviceBuffer::Allocate(scratch, "dequant scratch"));
  // kWide's split-K partials and tile counters, for the most decode rows a step can have (kNarrow needs none).
  size_t gemm_ws = 0;
  int gemm_counters = 0;
  for (const DeviceLayer& l : model_.layers)
    for (const DeviceLinear* w : {&l.qkv, &l.o_proj, &l.gate_up, &l.down_proj}) {
      gemm_ws = std::max(gemm_ws, LinearGemmWorkspaceBytes(*w, S));
      gemm_counters = std::max(gemm_counters, LinearGemmCounters(*w, S));
    }
  ASSIGN_OR_RETURN(gemm_ws_, DeviceBuffer::Allocate(std::max<size_t>(gemm_ws, 16), "gemm split-k workspace"));
  ASSIGN_OR_RETURN(gemm_counters_, DeviceBuffer::Allocate(sizeof(int32_t) * std::max(gemm_counters, 1), "gemm counters"));
  RETURN_IF_CUDA_ERROR(cudaMemsetAsync(gemm_counters_.as<void>(), 0, gemm_counters_.bytes(), stream_));
  ASSIGN_OR_RETURN(attn_ws_, DeviceBuffer::Allocate(attn_ws, "attention workspace"));
  if (attn_ws_.bytes() > 0)  // paged attention's arrival counters start at zero (every launch leaves them so)
    RETURN_IF_CUDA_ERROR(cudaMemset(attn_ws_.as<void>(), 0, attn_ws_.bytes()));
  ASSIGN_OR_RETURN(logits_, DeviceBuffer::Allocate(size_t{4} * S * c.vocab_size, "logits"));

  // RoPE frequencies exactly as transformers computes them: 1 / base^(2i/d) in fp32.
  std::vector<float> inv_freq(c.head_dim / 2);
  for (int i = 0; i < c.head_dim / 2; ++i)
    inv_freq[i] = 1.0f / std::pow(static_cast<float>(c.rope_theta), static_cast<float>(2 * i) / c.head_dim);
  ASSIGN_OR_RETURN(inv_freq_, DeviceBuffer::Allocate(inv_freq.size() * sizeof(float), "inv_freq"));
  RETURN_IF_CUDA_ERROR(cudaMemcpy(inv_freq_.as<void>(), inv_freq.data(), inv_freq_.bytes(), cudaMemcpyHostToDevice));

  const size_t t_ints = static_cast<size_t>(T);
  const size_t max_tiles = t_ints / FlashTileRows(c.num_attention_heads / c.num_key_value_heads) + S + 1;
  off_ids_ = 0, off_pos_ = t_ints, off_slots_ = 2 * t_ints, off_qseq_ = 3 * t_ints, off_rows_ = 4 * t_ints;
  off_tiles_ = 5 * t_ints;
  off_sample_ = off_tiles_ + max_tiles * (sizeof(FlashTile) / sizeof(int32_t));
  off_tables_ = off_sample_ + S;
  const size_t meta_bytes = (off_tables_ + static_cast<size_t>(S + 1) * max_blocks_per_seq_) * sizeof(int32_t);  // + padding row
  ASSIGN_OR_RETURN(meta_host_, PinnedBuffer::Allocate(meta_bytes, "step metadata"));
  ASSIGN_OR_RETURN(meta_dev_, DeviceBuffer::Allocate(meta_bytes, "step metadata"));
  ASSIGN_OR_RETURN(sampler_, GpuSampler::Create(S, c.vocab_size, max_len));

  KvLayout kv;
  kv.num_layers = c.num_hidden_layers;
  kv.num_kv_heads = c.num_key_value_heads;
  kv.head_dim = c.head_dim;
  kv.block_size = options.block_size;
  const size_t block_bytes = 2 * kv.num_layers * kv.block_stride() * h;  // K and V of every layer
  size_t free_bytes = 0, total_bytes = 0;
  RETURN_IF_CUDA_ERROR(cudaMemGetInfo(&free_bytes, &total_bytes));
  int64_t blocks = static_cast<int64_t>(free_bytes * options.kv_memory_fraction / block_bytes);
  if (options.max_kv_blocks > 0) blocks = std::min(blocks, options.max_kv_blocks);
  if (blocks < 1) return absl::ResourceExhaustedError(absl::StrCat("cuda backend: no device memory left for the KV cache (", free_bytes, " bytes free)"));
  kv.num_blocks = static_cast<int>(blocks);
  ASSIGN_OR_RETURN(kv_, DeviceBuffer::Allocate(block_bytes * kv.num_blocks, "kv cache"));
  RETURN_IF_CUDA_ERROR(cudaMemsetAsync(kv_.as<void>(), 0, kv_.bytes(), stream_));
  RETURN_IF_CUDA_ERROR(cudaStreamSynchronize(stream_));
  info_.name = "cuda";
  info_.kv = kv;
  std::fprintf(stderr, "awqserve cuda backend: weights %.2f GiB, KV cache %.2f GiB = %d blocks x %d = %lld tokens\n",
               model_.bytes / 1073741824.0, kv_.bytes() / 1073741824.0, kv.num_blocks, kv.block_size,
               static_cast<long long>(kv.num_blocks) * kv.block_size);
  return absl::OkStatus();
}

absl::Status CudaBackend::Prepare(const StepBatch& batch, bool graph, int* rows, std::vector<int>* sample_seqs) {
  const int B = static_cast<int>(batch.seqs.size());
  const int T = batch.total_tokens();
  const int bs = options_.block_size;
  if (B < 1 || B > options_.max_seqs)
    return absl::InvalidArgumentError(absl::StrCat("batch.seqs: ", B, " sequences, limit [1, ", options_.max_seqs, "]"));
  if (T > options_.max_batch_tokens)
    return absl::InvalidArgumentError(absl::StrCat("batch: ", T, " tokens, limit ", options_.max_batch_tokens));
  const bool decode = T == B;
  // A graph bucket needs its padded rows to fit the token buffers.
  const int bucket = BucketIndex(B);
  use_graph_ = decode && graph && bucket >= 0 && kGraphBuckets[bucket] <= options_.max_batch_tokens;
  *rows = use_graph_ ? kGraphBuckets[bucket] : T;
  int32_t* meta = meta_host_.as<int32_t>();
  sample_seqs->clear();
  int row = 0;
  decode_rows_ = 0, num_tiles_ = 0;
  const bool flash = FlashPrefillSupports(config_.head_dim);
  FlashTile* tiles = reinterpret_cast<FlashTile*>(meta + off_tiles_);
  // Rows of multi-token chunks first, then one-token rows: each kind always takes the same linear kernel
  // (linear.h), so a sequence's rows compute the same whatever else is in the step.
  std::vector<int> order;
  order.reserve(B);
  for (int pass = 0; pass < 2; ++pass)
    for (int k = 0; k < B; ++k)
      if ((batch.seqs[k].tokens.size() == 1) == (pass == 1)) order.push_back(k);
  prefill_rows_ = 0;
  for (const int k : order) {
    const SeqStep& s = batch.seqs[k];
    const int n = static_cast<int>(s.tokens.size());
    if (n < 1) return absl::InvalidArgumentError(absl::StrCat("batch.seqs[", k, "].tokens: empty"));
    if (n > 1) prefill_rows_ += n;
    if (s.start_pos < 0 || int64_t{s.start_pos} + n > int64_t{max_blocks_per_seq_} * bs)
      return absl::InvalidArgumentError(absl::StrCat("batch.seqs[", k, "]: positions [", s.start_pos, ", ",
                                                     s.start_pos + n, ") exceed the context limit ",
                                                     max_blocks_per_seq_ * bs));
    const int needed = (s.start_pos + n + bs - 1) / bs;
    if (static_cast<int>(s.block_table.size()) < needed || static_cast<int>(s.block_table.size()) > max_blocks_per_seq_)
      return absl::InvalidArgumentError(absl::StrCat("batch.seqs[", k, "].block_table: ", s.block_table.size(),
                                                     " blocks, need ", needed));
    // Every block holding a key some query of this step attends to must be a real block.
    const int first_key = config_.sliding_window > 0 ? std::max(0, s.start_pos - config_.sliding_window + 1) : 0;
    for (int blk = first_key / bs; blk < needed; ++blk) {
      const int32_t b = s.block_table[blk];
      if (b < 0 || b >= info_.kv.num_blocks)
        return absl::InvalidArgumentError(absl::StrCat("batch.seqs[", k, "].block_table[", blk, "]=", b,
                                                       " outside [0, ", info_.kv.num_blocks, ")"));
    }
    if (s.sample && (!s.sampling || !s.sampler_state))
      return absl::InvalidArgumentError(absl::StrCat("batch.seqs[", k, "]: sample without sampling params/state"));
    if (flash && n > 1) {
      const int tile_rows = FlashTileRows(config_.num_attention_heads / config_.num_key_value_heads);
      for (int i = 0; i < n; i += tile_rows)
        tiles[num_tiles_++] = FlashTile{row + i, std::min(tile_rows, n - i), k, s.start_pos + i};
    } else {
      for (int i = 0; i < n; ++i) meta[off_rows_ + decode_rows_++] = row + i;
    }
    for (int i = 0; i < n; ++i, ++row) {
      const int32_t tok = s.tokens[i];
      if (tok < 0 || tok >= config_.vocab_size)
        return absl::InvalidArgumentError(absl::StrCat("batch.seqs[", k, "].tokens[", i, "]=", tok,
                                                       " outside [0, ", config_.vocab_size, ")"));
      const int pos = s.start_pos + i;
      meta[off_ids_ + row] = tok;
      meta[off_pos_ + row] = pos;
      meta[off_slots_ + row] = s.block_table[pos / bs] * bs + pos % bs;
      meta[off_qseq_ + row] = k;
    }
    std::copy(s.block_table.begin(), s.block_table.end(), meta + off_tables_ + static_cast<size_t>(k) * max_blocks_per_seq_);
    if (s.sample) {
      meta[off_sample_ + sample_seqs->size()] = row - 1;
      sample_seqs->push_back(k);
    }
  }
  // Padding rows of a graph bucket: token 0 at position 0 of a dummy table row, no KV write.
  for (; row < *rows; ++row) {
    meta[off_ids_ + row] = 0, meta[off_pos_ + row] = 0, meta[off_slots_ + row] = -1, meta[off_qseq_ + row] = B;
    meta[off_rows_ + decode_rows_++] = row;
  }
  meta[off_tables_ + static_cast<size_t>(B) * max_blocks_per_seq_] = 0;
  return absl::OkStatus();
}

absl::Status CudaBackend::Forward(int rows, int sample_rows) {
  const ModelConfig& c = config_;
  const int32_t* meta = meta_dev_.as<int32_t>();
  const LinearContext ctx{stream_,
                          cublas_.get(),
                          scratch_.as<__half>(),
                          scratch_.bytes(),
                          gemm_ws_.as<float>(),
                          gemm_ws_.bytes(),
                          gemm_counters_.as<int32_t>(),
                          static_cast<int>(gemm_counters_.bytes() / sizeof(int32_t))};
  const LinearRows lrows{prefill_rows_, rows - prefill_rows_};
  const int q_dim = c.num_attention_heads * c.head_dim, kv_dim = c.num_key_value_heads * c.head_dim;
  const float eps = static_cast<float>(c.rms_norm_eps);
  __half *normed = normed_.as<__half>(), *qkv = qkv_.as<__half>(), *delta = delta_.as<__half>();
  // The residual stream alternates between two buffers: each norm with a delta reads one and writes the other, as the
  // GEMMs that compute the norm themselves need (linear.h, RunNormLinear).
  float* const residual[2] = {residual_[0].as<float>(), residual_[1].as<float>()};
  int cur = 0;
  auto add_norm = [&](const __half* d, const __half* weight) {
    AddRmsNormParams n{residual[cur], d, nullptr, weight, normed, rows, c.hidden_size, eps};
    if (d) n.residual_out = residual[cur ^= 1];
    return n;
  };

  const EmbeddingParams emb{meta + off_ids_, model_.embed_tokens, residual[cur], rows, c.hidden_size, c.vocab_size};
  RETURN_IF_ERROR(ValidateEmbedding(emb));
  LaunchEmbedding(emb, stream_);
  const size_t layer_pool = info_.kv.pool_elements();
  // The fields both attention kernels take from this step and the model (the paged cache of one layer, the q part of
  // the fused qkv rows, the output rows).
  const float attn_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  auto set_attention = [&](auto* p, const __half* k_cache, const __half* v_cache) {
    p->q = qkv;
    p->ldq = q_dim + 2 * kv_dim;
    p->k_cache = k_cache;
    p->v_cache = v_cache;
    p->block_tables = meta + off_tables_;
    p->max_blocks = max_blocks_per_seq_;
    p->block_size = options_.block_size;
    p->heads = c.num_attention_heads;
    p->kv_heads = c.num_key_value_heads;
    p->head_dim = c.head_dim;
    p->window = c.sliding_window;
    p->scale = attn_scale;
    p->out = attn_.as<__half>();
  };
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const DeviceLayer& w = model_.layers[l];
    __half* k_cache = kv_.as<__half>() + 2 * l * layer_pool;
    __half* v_cache = k_cache + layer_pool;
    RETURN_IF_ERROR(RunNormLinear(add_norm(l == 0 ? nullptr : delta, w.input_layernorm), w.qkv, lrows, qkv, ctx));
    const RopeKvParams rope{qkv, meta + off_pos_, meta + off_slots_, inv_freq_.as<float>(), k_cache, v_cache,
                            rows, c.num_attention_heads, c.num_key_value_heads, c.head_dim};
    RETURN_IF_ERROR(ValidateRopeKv(rope));
    LaunchRopeKv(rope, stream_);
    if (num_tiles_ > 0) {
      FlashPrefillParams fp;
      set_attention(&fp, k_cache, v_cache);
      fp.tiles = reinterpret_cast<const FlashTile*>(meta + off_tiles_);
      fp.num_tiles = num_tiles_;
      RETURN_IF_ERROR(ValidateFlashPrefill(fp));
      LaunchFlashPrefill(fp, stream_);
    }
    if (decode_rows_ > 0) {
      PagedAttentionParams ap;
      set_attention(&ap, k_cache, v_cache);
      ap.query_seq = meta + off_qseq_;
      ap.query_pos = meta + off_pos_;
      ap.rows = decode_rows_ == rows ? nullptr : meta + off_rows_;
      ap.tokens = decode_rows_;
      ap.splits = PagedAttentionSplits(decode_rows_, c.num_key_value_heads, sm_count_);
      ap.workspace = attn_ws_.as<float>();
      ap.keys_cached = true;  // decode rows: earlier steps wrote their keys, the step's upload its metadata
      RETURN_IF_ERROR(ValidatePagedAttention(ap));
      LaunchPagedAttention(ap, stream_);
    }
    RETURN_IF_ERROR(RunLinear(w.o_proj, attn_.as<__half>(), lrows, delta, ctx));
    RETURN_IF_ERROR(RunNormGateUpSiluMul(add_norm(delta, w.post_attention_layernorm), w.gate_up, lrows,
                                         gate_up_.as<__half>(), act_.as<__half>(), ctx));
    RETURN_IF_ERROR(RunLinear(w.down_proj, act_.as<__half>(), lrows, delta, ctx));
  }
  if (sample_rows == 0) return CudaLastError("forward");  // a prefill chunk that samples nothing
  // Final norm of the sampled rows only (gathered), then the lm_head and sampling (gpu_sampler.h).
  const AddRmsNormParams fin{residual[cur], delta, meta + off_sample_, model_.norm, normed, sample_rows, c.hidden_size,
                             eps};  // in place: nothing reads the residual after it
  RETURN_IF_ERROR(ValidateAddRmsNorm(fin));
  LaunchAddRmsNorm(fin, stream_);
  RETURN_IF_ERROR(RunLmHead(model_.lm_head, c.vocab_size, c.hidden_size, normed, sample_rows, logits_.as<float>(), ctx));
  RETURN_IF_ERROR(sampler_.Launch(logits_.as<float>(), sample_rows, stream_));
  return CudaLastError("forward");
}

absl::Status CudaBackend::Run(const StepBatch& batch, int rows, int sample_rows, bool use_graph) {
  const int B = static_cast<int>(batch.seqs.size());
  const size_t meta_ints = off_tables_ + static_cast<size_t>(B + 1) * max_blocks_per_seq_;
  RETURN_IF_CUDA_ERROR(cudaMemcpyAsync(meta_dev_.as<void>(), meta_host_.as<void>(), meta_ints * sizeof(int32_t),
                                       cudaMemcpyHostToDevice, stream_));
  if (!use_graph) return Forward(rows, sample_rows);
  cudaGraphExec_t& exec = graphs_[BucketIndex(B)];
  if (exec) return CudaStatus(cudaGraphLaunch(exec, stream_), "cudaGraphLaunch");
  // First step of this bucket: run it eagerly (also the warm-up), then capture the same launches for later steps.
  RETURN_IF_ERROR(Forward(rows, sample_rows));
  cudaGraph_t graph = nullptr;
  RETURN_IF_CUDA_ERROR(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
  const absl::Status captured = Forward(rows, sample_rows);
  RETURN_IF_CUDA_ERROR(cudaStreamEndCapture(stream_, &graph));
  RETURN_IF_ERROR(captured);
  const cudaError_t inst = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  return CudaStatus(inst, "cudaGraphInstantiate");
}

absl::Status CudaBackend::Execute(const StepBatch& batch, StepResult* result) {
  int rows = 0;
  std::vector<int> sample_seqs;
  RETURN_IF_ERROR(Prepare(batch, options_.cuda_graphs, &rows, &sample_seqs));
  const bool graph = use_graph_;
  // In a graph every row is final-normed and sampled (row k is sequence k); else only the sampling rows.
  if (graph) {
    int32_t* meta = meta_host_.as<int32_t>();
    for (int r = 0; r < rows; ++r) meta[off_sample_ + r] = r;
  }
  const int sample_rows = graph ? rows : static_cast<int>(sample_seqs.size());
  result->tokens.assign(batch.seqs.size(), SampledToken{});
  if (sample_rows == 0) {
    RETURN_IF_ERROR(Run(batch, rows, 0, false));
    return CudaStatus(cudaStreamSynchronize(stream_), "step");
  }
  // One sampling row per logits row: in a graph row k is sequence k (padding and non-sampling rows idle).
  sampler_.BeginStep();
  for (int r = 0; r < sample_rows; ++r) {
    const int k = graph ? r : sample_seqs[r];
    const SeqStep* s = k < static_cast<int>(batch.seqs.size()) ? &batch.seqs[k] : nullptr;
    RETURN_IF_ERROR(s && s->sample ? sampler_.AddRow(*s->sampling, *s->sampler_state) : sampler_.AddIdleRow());
  }
  RETURN_IF_ERROR(sampler_.Upload(stream_));
  RETURN_IF_ERROR(Run(batch, rows, sample_rows, graph));
  RETURN_IF_ERROR(sampler_.Download(sample_rows, stream_));
  RETURN_IF_CUDA_ERROR(cudaStreamSynchronize(stream_));
  for (size_t i = 0; i < sample_seqs.size(); ++i) {
    const int k = sample_seqs[i];
    const SeqStep& s = batch.seqs[k];
    result->tokens[k] = sampler_.Finish(graph ? k : static_cast<int>(i), *s.sampling, s.sampler_state);
  }
  return absl::OkStatus();
}

absl::Status CudaBackend::ExecuteLogits(const StepBatch& batch, std::vector<std::vector<float>>* logits) {
  int rows = 0;
  std::vector<int> sample_seqs;
  RETURN_IF_ERROR(Prepare(batch, /*graph=*/false, &rows, &sample_seqs));
  if (sample_seqs.empty()) return absl::InvalidArgumentError("batch: no sequence asks for logits (sample=false)");
  // Idle sampling rows leave the logits as the lm_head wrote them.
  sampler_.BeginStep();
  for (size_t i = 0; i < sample_seqs.size(); ++i) RETURN_IF_ERROR(sampler_.AddIdleRow());
  RETURN_IF_ERROR(sampler_.Upload(stream_));
  RETURN_IF_ERROR(Run(batch, rows, static_cast<int>(sample_seqs.size()), false));
  logits->assign(sample_seqs.size(), std::vector<float>(config_.vocab_size));
  // Logits row i belongs to sample_seqs[i] (Prepare's row order); the caller wants batch order.
  std::vector<int> sorted = sample_seqs;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sample_seqs.size(); ++i) {
    const size_t out = std::lower_bound(sorted.begin(), sorted.end(), sample_seqs[i]) - sorted.begin();
    RETURN_IF_CUDA_ERROR(cudaMemcpyAsync((*logits)[out].data(), logits_.as<float>() + i * config_.vocab_size,
                                         sizeof(float) * config_.vocab_size, cudaMemcpyDeviceToHost, stream_));
  }
  return CudaStatus(cudaStreamSynchronize(stream_), "logits");
}

}  // namespace inference::cuda
