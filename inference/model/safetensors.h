// Read-only, memory-mapped safetensors checkpoints: one file, or shards listed by model.safetensors.index.json.
// Every header is validated before any tensor is handed out (dtype, shape, offsets inside the file, no overlap),
// so a corrupt file gives an error naming the file and tensor, never a crash. Tensor data are views into the
// mapping: valid while the Checkpoint lives, possibly unaligned (read through memcpy / ToFloat32).
//
// Thread-safety: immutable after Open; any number of threads may read.
//
//   ASSIGN_OR_RETURN(std::shared_ptr<const Checkpoint> ckpt, Checkpoint::Open("/models/mistral"));
//   const TensorInfo* t = ckpt->Find("model.norm.weight");   // nullptr when absent
//   std::vector<float> w(t->num_elements());
//   ToFloat32(t->dtype, t->data, w.size(), w.data());
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "inference/model/dtype.h"

namespace inference {

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const unsigned char* data = nullptr;  // inside the file's mapping
  size_t nbytes = 0;
  std::string file;                     // path of the file holding it
  size_t file_offset = 0;               // of data within that file

  int64_t num_elements() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  std::string ShapeString() const;      // "[4096, 512]"
};

// One mapped .safetensors file.
class SafetensorsFile {
 public:
  // Maps `path` and validates its header. INVALID_ARGUMENT naming the file (and tensor) for any inconsistency.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  size_t file_size() const { return size_; }
  size_t header_size() const { return header_size_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // in data-offset order

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t size_ = 0;
  size_t header_size_ = 0;
  std::vector<TensorInfo> tensors_;
};

// All tensors of a model folder.
class Checkpoint {
 public:
  // DIR/model.safetensors.index.json when present (every shard it names, each tensor in the shard the index says),
  // else DIR/model.safetensors. NOT_FOUND when neither exists.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const Checkpoint>> Open(const std::string& dir);
  // A single file (tests, tools).
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const Checkpoint>> OpenFile(const std::string& path);

  const TensorInfo* Find(const std::string& name) const;
  const std::map<std::string, const TensorInfo*>& tensors() const { return by_name_; }
  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }
  size_t total_bytes() const;  // tensor data of all files

 private:
  [[nodiscard]] absl::Status Add(std::unique_ptr<SafetensorsFile> file);
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorInfo*> by_name_;
};

}  // namespace inference
