#include "inference/model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/file.h"
#include "base/json.h"
#include "base/status_macros.h"

namespace inference {
namespace {

constexpr size_t kLengthPrefixBytes = 8;              // little-endian u64 header length
constexpr size_t kMaxHeaderBytes = size_t{100} << 20;  // the format's own limit (100 MB)
constexpr int64_t kMaxElements = int64_t{1} << 40;     // no real tensor comes near; guards overflow

absl::Status FileError(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

absl::Status TensorError(const std::string& path, const std::string& name, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": tensor '", name, "': ", what));
}

absl::StatusOr<TensorInfo> ParseEntry(const std::string& path, const std::string& name, const base::Json& e) {
  if (!e.is_object()) return TensorError(path, name, "header entry must be an object");
  TensorInfo t;
  t.name = name;
  t.file = path;
  const base::Json& dtype = e.Get("dtype");
  if (!dtype.is_string()) return TensorError(path, name, "'dtype' must be a string");
  std::optional<DType> dt = ParseDType(dtype.AsString());
  if (!dt) return TensorError(path, name, absl::StrCat("dtype ", dtype.AsString(), " is not supported (F16, BF16, F32, I32)"));
  t.dtype = *dt;
  const base::Json& shape = e.Get("shape");
  if (!shape.is_array()) return TensorError(path, name, "'shape' must be a list of integers");
  int64_t elements = 1;
  for (const base::Json& d : shape.items()) {
    if (!d.is_int() || d.AsInt() < 0) return TensorError(path, name, "'shape' must be a list of non-negative integers");
    t.shape.push_back(d.AsInt());
    if (d.AsInt() > 0 && elements > kMaxElements / d.AsInt()) return TensorError(path, name, "shape is too large");
    elements *= d.AsInt();
  }
  const base::Json& off = e.Get("data_offsets");
  if (!off.is_array() || off.size() != 2 || !off.items()[0].is_int() || !off.items()[1].is_int()) {
    return TensorError(path, name, "'data_offsets' must be [begin, end]");
  }
  const int64_t begin = off.items()[0].AsInt(), end = off.items()[1].AsInt();
  if (begin < 0 || end < begin) {
    return TensorError(path, name, absl::StrCat("data_offsets [", begin, ", ", end, "] are not an ordered range"));
  }
  const int64_t expected = elements * static_cast<int64_t>(DTypeSize(t.dtype));
  if (end - begin != expected) {
    return TensorError(path, name, absl::StrCat("data_offsets [", begin, ", ", end, "] hold ", end - begin,
                                                " bytes but ", DTypeName(t.dtype), " ", t.ShapeString(), " needs ",
                                                expected));
  }
  t.file_offset = static_cast<size_t>(begin);  // relative to the data section for now
  t.nbytes = static_cast<size_t>(expected);
  return t;
}

}  // namespace

std::string TensorInfo::ShapeString() const { return absl::StrCat("[", absl::StrJoin(shape, ", "), "]"); }

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    return FileError(path, std::strerror(errno));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return FileError(path, "not a regular file");
  }
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  f->size_ = static_cast<size_t>(st.st_size);
  if (f->size_ < kLengthPrefixBytes) {
    ::close(fd);
    return FileError(path, absl::StrCat("truncated: ", f->size_, " bytes, shorter than the 8-byte header length"));
  }
  void* map = mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return FileError(path, absl::StrCat("mmap failed: ", std::strerror(errno)));
  f->map_ = map;
  const auto* bytes = static_cast<const unsigned char*>(map);

  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > f->size_ - kLengthPrefixBytes) {
    return FileError(path, absl::StrCat("header of ", header_len, " bytes is longer than the file (",
                                        f->size_, " bytes)"));
  }
  if (header_len > kMaxHeaderBytes) return FileError(path, absl::StrCat("header of ", header_len, " bytes exceeds 100 MB"));
  f->header_size_ = static_cast<size_t>(header_len);
  const std::string_view header(reinterpret_cast<const char*>(bytes + kLengthPrefixBytes), f->header_size_);
  absl::StatusOr<base::Json> json = base::Json::Parse(header);
  if (!json.ok()) return FileError(path, absl::StrCat("bad JSON header: ", json.status().message()));
  if (!json->is_object()) return FileError(path, "bad JSON header: not an object");

  const size_t data_start = kLengthPrefixBytes + f->header_size_;
  const size_t data_size = f->size_ - data_start;
  std::set<std::string> seen;
  for (const auto& [name, entry] : json->members()) {
    if (name == "__metadata__") continue;
    if (!seen.insert(name).second) return TensorError(path, name, "appears twice in the header");
    ASSIGN_OR_RETURN(TensorInfo t, ParseEntry(path, name, entry));
    if (t.file_offset + t.nbytes > data_size) {
      return TensorError(path, name, absl::StrCat("data_offsets end at ", t.file_offset + t.nbytes,
                                                  " but the data section has only ", data_size,
                                                  " bytes (truncated file or offsets out of range)"));
    }
    t.file_offset += data_start;
    t.data = bytes + t.file_offset;
    f->tensors_.push_back(std::move(t));
  }
  std::sort(f->tensors_.begin(), f->tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.file_offset != b.file_offset ? a.file_offset < b.file_offset : a.nbytes < b.nbytes;
  });
  for (size_t i = 1; i < f->tensors_.size(); ++i) {
    const TensorInfo& prev = f->tensors_[i - 1];
    const TensorInfo& cur = f->tensors_[i];
    if (cur.file_offset < prev.file_offset + prev.nbytes) {
      return TensorError(path, cur.name, absl::StrCat("data overlaps tensor '", prev.name, "' (bytes ",
                                                      cur.file_offset - data_start, " < ",
                                                      prev.file_offset + prev.nbytes - data_start, ")"));
    }
  }
  return f;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) munmap(map_, size_);
}

absl::Status Checkpoint::Add(std::unique_ptr<SafetensorsFile> file) {
  for (const TensorInfo& t : file->tensors()) {
    auto [it, inserted] = by_name_.emplace(t.name, &t);
    if (!inserted) {
      return TensorError(file->path(), t.name, absl::StrCat("also present in ", it->second->file));
    }
  }
  files_.push_back(std::move(file));
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const Checkpoint>> Checkpoint::OpenFile(const std::string& path) {
  auto ckpt = std::shared_ptr<Checkpoint>(new Checkpoint());
  ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> file, SafetensorsFile::Open(path));
  RETURN_IF_ERROR(ckpt->Add(std::move(file)));
  return std::shared_ptr<const Checkpoint>(std::move(ckpt));
}

absl::StatusOr<std::shared_ptr<const Checkpoint>> Checkpoint::Open(const std::string& dir) {
  const std::string index_path = base::JoinPath(dir, "model.safetensors.index.json");
  if (!base::FileExists(index_path)) {
    const std::string single = base::JoinPath(dir, "model.safetensors");
    if (!base::FileExists(single)) {
      return absl::NotFoundError(absl::StrCat(dir, ": no model.safetensors or model.safetensors.index.json"));
    }
    return OpenFile(single);
  }
  ASSIGN_OR_RETURN(base::Json index, base::ReadJsonFile(index_path));
  const base::Json& map = index.Get("weight_map");
  if (!map.is_object() || map.size() == 0) {
    return FileError(index_path, "'weight_map' must be a non-empty object of tensor name -> file");
  }
  std::vector<std::string> shard_names;
  for (const auto& [name, file] : map.members()) {
    if (!file.is_string() || file.AsString().empty() || file.AsString().find('/') != std::string::npos) {
      return FileError(index_path, absl::StrCat("weight_map['", name, "'] must be a file name in the folder"));
    }
    if (std::find(shard_names.begin(), shard_names.end(), file.AsString()) == shard_names.end()) {
      shard_names.push_back(file.AsString());
    }
  }
  auto ckpt = std::shared_ptr<Checkpoint>(new Checkpoint());
  for (const std::string& shard : shard_names) {
    ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> file, SafetensorsFile::Open(base::JoinPath(dir, shard)));
    RETURN_IF_ERROR(ckpt->Add(std::move(file)));
  }
  for (const auto& [name, file] : map.members()) {
    const TensorInfo* t = ckpt->Find(name);
    const std::string expected = base::JoinPath(dir, file.AsString());
    if (t == nullptr) return FileError(index_path, absl::StrCat("tensor '", name, "' is not in ", expected));
    if (t->file != expected) {
      return FileError(index_path, absl::StrCat("tensor '", name, "' is listed in ", file.AsString(),
                                                " but stored in ", t->file));
    }
  }
  if (ckpt->by_name_.size() != map.size()) {
    for (const auto& [name, t] : ckpt->by_name_) {
      if (map.Find(name) == nullptr) return TensorError(t->file, name, "is missing from the index's weight_map");
    }
  }
  return std::shared_ptr<const Checkpoint>(std::move(ckpt));
}

const TensorInfo* Checkpoint::Find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

size_t Checkpoint::total_bytes() const {
  size_t n = 0;
  for (const auto& [name, t] : by_name_) n += t->nbytes;
  return n;
}

}  // namespace inference
