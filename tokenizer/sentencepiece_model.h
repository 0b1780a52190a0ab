// The one doorway to the SentencePiece library: loads a serialized model, encodes text to ids, and exposes the
// vocabulary as plain data. Neither this header nor its .cc includes sentencepiece_processor.h: the library lives
// in a separate module (libawq_sentencepiece.so, built from sentencepiece_module.cc) that is loaded with
// dlopen(RTLD_LOCAL | RTLD_DEEPBIND), because Debian's libsentencepiece exports its own protobuf-lite 3.14, which
// breaks gRPC's libprotobuf 3.21 (and vice versa) when both are linked into one program. The module is looked for
// at $AWQSERVE_SENTENCEPIECE_MODULE, next to the executable, in ../lib relative to it, then at its build path.
//
// Ownership: a SentencePieceModel owns its processor; create it with Load and keep it alive while used.
// Thread-safety: immutable after Load; EncodeIds, DecodeIds and the accessors may be called concurrently.
//
//   std::string error;
//   std::unique_ptr<SentencePieceModel> sp = SentencePieceModel::Load(bytes, &error);
//   if (!sp) ...;                                   // error says why
//   std::vector<int> ids;
//   if (!sp->EncodeIds("Hello world!", &ids, &error)) ...;   // {22557, 1526, 28808}
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tokenizer {

// What a vocabulary entry is, as SentencePiece types it.
enum class PieceKind : uint8_t {
  kNormal,   // text; U+2581 stands for a space
  kControl,  // <s>, </s>: invisible to SentencePiece's decoder
  kUnknown,  // <unk>
  kByte,     // byte fallback <0xNN>: one raw byte
  kUnused,   // user-defined / unused entries: decoded as their text
};

// The vocabulary, indexed by id. For kByte entries `byte` holds the byte value.
struct Vocabulary {
  std::vector<std::string> pieces;
  std::vector<PieceKind> kinds;
  std::vector<uint8_t> bytes;
  int unk_id = -1;
  int bos_id = -1;
  int eos_id = -1;
  int pad_id = -1;
  bool add_dummy_prefix = true;  // the normalizer prepends U+2581 to each encoded text

  int size() const { return static_cast<int>(pieces.size()); }
};

class SentencePieceModel {
 public:
  // Parses a serialized ModelProto (the bytes of tokenizer.model). Returns null and sets *error on failure.
  static std::unique_ptr<SentencePieceModel> Load(const std::string& serialized, std::string* error);
  ~SentencePieceModel();
  SentencePieceModel(const SentencePieceModel&) = delete;
  SentencePieceModel& operator=(const SentencePieceModel&) = delete;

  // SentencePiece's own encoding of `text` (dummy prefix included, control strings treated as plain text).
  // Appends to *ids. False with *error set when SentencePiece reports an error.
  bool EncodeIds(std::string_view text, std::vector<int>* ids, std::string* error) const;

  // SentencePiece's own decoding (control ids invisible, <unk> as " \u2047 "). Kept as the reference the tests
  // compare our decoder with; ids must be in range.
  std::string DecodeIds(const std::vector<int>& ids) const;

  const Vocabulary& vocabulary() const { return vocab_; }

 private:
  SentencePieceModel() = default;
  void* handle_ = nullptr;  // the module's processor
  Vocabulary vocab_;
};

}  // namespace tokenizer
