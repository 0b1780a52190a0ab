// Test helpers: a temporary folder removed at scope exit, file copies, and raw safetensors surgery for writing
// damaged checkpoints. Tests only.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "base/file.h"
#include "base/json.h"
#include "gtest/gtest.h"

namespace inference::testing {

inline std::string SharedAsset(const std::string& rel) { return std::string(AWQSERVE_SHARED_DIR) + "/assets/" + rel; }

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "awq_model_test_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Copies the listed files of a shared asset folder into `dir`.
inline void CopyAsset(const std::string& asset, const std::string& dir, std::initializer_list<const char*> files) {
  for (const char* f : files) std::filesystem::copy_file(SharedAsset(asset + "/" + f), dir + "/" + f);
}

// A safetensors file split into its JSON header and its data section.
struct RawSafetensors {
  base::Json header;
  std::string data;
};

inline RawSafetensors ReadRaw(const std::string& path) {
  const std::string bytes = ReadBytes(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  RawSafetensors raw;
  raw.header = *base::Json::Parse(bytes.substr(8, n));
  raw.data = bytes.substr(8 + n);
  return raw;
}

// Writes header text + data; `declared_length` overrides the length prefix when >= 0.
inline void WriteRawText(const std::string& path, const std::string& header, const std::string& data,
                         int64_t declared_length = -1) {
  const uint64_t n = declared_length >= 0 ? static_cast<uint64_t>(declared_length) : header.size();
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(n >> (8 * i));
  WriteBytes(path, bytes + header + data);
}

inline void WriteRaw(const std::string& path, const RawSafetensors& raw) {
  WriteRawText(path, raw.header.DumpCompact(), raw.data);
}

// The entry of tensor `name` in a raw header (must exist).
inline base::Json& Entry(RawSafetensors& raw, const std::string& name) {
  for (auto& [k, v] : raw.header.members()) {
    if (k == name) return v;
  }
  ADD_FAILURE() << "no tensor " << name;
  static base::Json none;
  return none;
}

}  // namespace inference::testing
