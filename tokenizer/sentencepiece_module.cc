// The only translation unit that includes sentencepiece_processor.h. It is built into its own shared module,
// libawq_sentencepiece.so, which sentencepiece_model.cc loads with dlopen(RTLD_LOCAL | RTLD_DEEPBIND): Debian's
// libsentencepiece carries its own copy of protobuf-lite 3.14 and exports those symbols, which clash with the
// process's libprotobuf 3.21 (gRPC) when both are linked into one program. Loaded this way, each library keeps its
// own protobuf. The module's entry points are the extern "C" functions declared in sentencepiece_module_abi.h.
// No Abseil here (the header's own absl::string_view would clash with it).
#include "tokenizer/sentencepiece_module_abi.h"

#include <sentencepiece_processor.h>

#include <memory>

namespace {

constexpr std::string_view kSpaceSymbol = "\xe2\x96\x81";  // U+2581, SentencePiece's visible space

// "<0x41>" -> 0x41. Byte pieces are spelled exactly so by SentencePiece's byte-fallback trainer.
bool ParseBytePiece(const std::string& piece, uint8_t* out) {
  if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>') return false;
  unsigned value = 0;
  for (int i = 3; i < 5; ++i) {
    const char c = piece[i];
    value <<= 4;
    if (c >= '0' && c <= '9') value |= c - '0';
    else if (c >= 'A' && c <= 'F') value |= c - 'A' + 10;
    else if (c >= 'a' && c <= 'f') value |= c - 'a' + 10;
    else return false;
  }
  *out = static_cast<uint8_t>(value);
  return true;
}

}  // namespace

extern "C" {

void* AwqSentencePieceLoad(const std::string* serialized, tokenizer::Vocabulary* vocab, std::string* error) {
  auto processor = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const sentencepiece::util::Status status = processor->LoadFromSerializedProto(*serialized);
  if (!status.ok()) {
    *error = "not a SentencePiece model: " + status.ToString();
    return nullptr;
  }
  const sentencepiece::SentencePieceProcessor& sp = *processor;
  const int n = sp.GetPieceSize();
  if (n <= 0) {
    *error = "not a SentencePiece model: empty vocabulary";
    return nullptr;
  }
  tokenizer::Vocabulary& v = *vocab;
  v.pieces.resize(n);
  v.kinds.resize(n);
  v.bytes.assign(n, 0);
  for (int id = 0; id < n; ++id) {
    v.pieces[id] = sp.IdToPiece(id);
    if (sp.IsByte(id)) {
      if (!ParseBytePiece(v.pieces[id], &v.bytes[id])) {
        *error = "not a SentencePiece model: byte piece " + std::to_string(id) + " is spelled '" + v.pieces[id] + "'";
        return nullptr;
      }
      v.kinds[id] = tokenizer::PieceKind::kByte;
    } else if (sp.IsControl(id)) {
      v.kinds[id] = tokenizer::PieceKind::kControl;
    } else if (sp.IsUnknown(id)) {
      v.kinds[id] = tokenizer::PieceKind::kUnknown;
    } else if (sp.IsUnused(id)) {
      v.kinds[id] = tokenizer::PieceKind::kUnused;
    } else {
      v.kinds[id] = tokenizer::PieceKind::kNormal;
    }
  }
  v.unk_id = sp.unk_id();
  v.bos_id = sp.bos_id();
  v.eos_id = sp.eos_id();
  v.pad_id = sp.pad_id();
  // The normalizer's add_dummy_prefix, observed rather than read from the proto (whose header we avoid).
  const std::vector<std::string> probe = sp.EncodeAsPieces("a");
  v.add_dummy_prefix = !probe.empty() && probe[0].compare(0, kSpaceSymbol.size(), kSpaceSymbol) == 0;
  return processor.release();
}

void AwqSentencePieceFree(void* handle) { delete static_cast<sentencepiece::SentencePieceProcessor*>(handle); }

bool AwqSentencePieceEncode(const void* handle, const char* text, size_t size, std::vector<int>* ids,
                            std::string* error) {
  std::vector<int> out;
  const auto* sp = static_cast<const sentencepiece::SentencePieceProcessor*>(handle);
  const sentencepiece::util::Status status = sp->Encode(std::string_view(text, size), &out);
  if (!status.ok()) {
    *error = status.ToString();
    return false;
  }
  ids->insert(ids->end(), out.begin(), out.end());
  return true;
}

void AwqSentencePieceDecode(const void* handle, const std::vector<int>* ids, std::string* text) {
  *text = static_cast<const sentencepiece::SentencePieceProcessor*>(handle)->DecodeIds(*ids);
}

}  // extern "C"
