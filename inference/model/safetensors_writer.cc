#include "inference/model/safetensors_writer.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "base/json.h"

namespace inference {

constexpr size_t kHeaderAlignment = 8;  // data starts 8-aligned, as the reference writers do

size_t TensorSpec::nbytes() const {
  size_t n = DTypeSize(dtype);
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

std::string SafetensorsHeaderJson(const std::vector<TensorSpec>& specs) {
  base::Json header = base::Json::MakeObject();
  size_t offset = 0;
  for (const TensorSpec& s : specs) {
    const size_t end = offset + s.nbytes();
    header.Set(s.name, base::Json::MakeObject({{"dtype", std::string(DTypeName(s.dtype))},
                                               {"shape", base::Json::ArrayOf(s.shape)},
                                               {"data_offsets", base::Json::MakeArray({static_cast<int64_t>(offset),
                                                                                        static_cast<int64_t>(end)})}}));
    offset = end;
  }
  header.Set("__metadata__", base::Json::MakeObject({{"format", "pt"}}));
  return header.DumpCompact();
}

absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorSpec>& specs,
                              const TensorProducer& produce) {
  std::string header = SafetensorsHeaderJson(specs);
  header.append((kHeaderAlignment - header.size() % kHeaderAlignment) % kHeaderAlignment, ' ');
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot create: ", std::strerror(errno)));
  unsigned char len[8];
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
  out.write(reinterpret_cast<const char*>(len), sizeof len);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  std::string bytes;
  for (size_t i = 0; i < specs.size(); ++i) {
    bytes.clear();
    absl::Status st = produce(i, &bytes);
    if (!st.ok()) return st;
    if (bytes.size() != specs[i].nbytes()) {
      return absl::InternalError(absl::StrCat(path, ": tensor '", specs[i].name, "' produced ", bytes.size(),
                                              " bytes, expected ", specs[i].nbytes()));
    }
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  out.flush();
  if (!out) return absl::InternalError(absl::StrCat(path, ": write failed: ", std::strerror(errno)));
  return absl::OkStatus();
}

}  // namespace inference
