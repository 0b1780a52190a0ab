// The only translation unit that includes sentencepiece_processor.h (see sentencepiece_model.h). No Abseil here.
#include "tokenizer/sentencepiece_model.h"

#include <sentencepiece_processor.h>

namespace tokenizer {
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

SentencePieceModel::SentencePieceModel() : processor_(new sentencepiece::SentencePieceProcessor) {}
SentencePieceModel::~SentencePieceModel() = default;

std::unique_ptr<SentencePieceModel> SentencePieceModel::Load(const std::string& serialized, std::string* error) {
  std::unique_ptr<SentencePieceModel> model(new SentencePieceModel);
  const sentencepiece::util::Status status = model->processor_->LoadFromSerializedProto(serialized);
  if (!status.ok()) {
    *error = "not a SentencePiece model: " + status.ToString();
    return nullptr;
  }
  const sentencepiece::SentencePieceProcessor& sp = *model->processor_;
  const int n = sp.GetPieceSize();
  if (n <= 0) {
    *error = "not a SentencePiece model: empty vocabulary";
    return nullptr;
  }
  Vocabulary& v = model->vocab_;
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
      v.kinds[id] = PieceKind::kByte;
    } else if (sp.IsControl(id)) {
      v.kinds[id] = PieceKind::kControl;
    } else if (sp.IsUnknown(id)) {
      v.kinds[id] = PieceKind::kUnknown;
    } else if (sp.IsUnused(id)) {
      v.kinds[id] = PieceKind::kUnused;
    } else {
      v.kinds[id] = PieceKind::kNormal;
    }
  }
  v.unk_id = sp.unk_id();
  v.bos_id = sp.bos_id();
  v.eos_id = sp.eos_id();
  v.pad_id = sp.pad_id();
  // The normalizer's add_dummy_prefix, observed rather than read from the proto (whose header we avoid).
  const std::vector<std::string> probe = sp.EncodeAsPieces("a");
  v.add_dummy_prefix = !probe.empty() && probe[0].compare(0, kSpaceSymbol.size(), kSpaceSymbol) == 0;
  return model;
}

bool SentencePieceModel::EncodeIds(std::string_view text, std::vector<int>* ids, std::string* error) const {
  std::vector<int> out;
  const sentencepiece::util::Status status = processor_->Encode(text, &out);
  if (!status.ok()) {
    *error = status.ToString();
    return false;
  }
  ids->insert(ids->end(), out.begin(), out.end());
  return true;
}

std::string SentencePieceModel::DecodeIds(const std::vector<int>& ids) const { return processor_->DecodeIds(ids); }

}  // namespace tokenizer
