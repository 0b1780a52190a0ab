#include "services/tokenizer/encode_request_utf8.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "awqserve/v1/tokenizer.pb.h"
#include "base/utf8.h"

namespace tokenizer_service {
namespace {

using google::protobuf::io::CodedInputStream;
using google::protobuf::internal::WireFormatLite;
namespace v1 = awqserve::v1;

// Calls fn(field_number, payload) for each length-delimited field of a message; false on malformed wire data.
template <typename Fn>
bool ForEachLengthDelimited(std::string_view wire, Fn fn) {
  CodedInputStream in(reinterpret_cast<const uint8_t*>(wire.data()), static_cast<int>(wire.size()));
  while (uint32_t tag = in.ReadTag()) {
    if (WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormatLite::SkipField(&in, tag)) return false;
      continue;
    }
    uint32_t size;
    std::string payload;
    if (!in.ReadVarint32(&size) || !in.ReadString(&payload, static_cast<int>(size))) return false;
    if (!fn(WireFormatLite::GetTagFieldNumber(tag), payload)) return false;
  }
  return in.ConsumedEntireMessage();
}

}  // namespace

absl::Status DiagnoseEncodeRequest(std::string_view wire) {
  absl::Status found;
  int input = 0;
  const bool well_formed = ForEachLengthDelimited(wire, [&](int field, const std::string& bytes) {
    if (field != v1::EncodeRequest::kInputsFieldNumber) return true;
    const int index = input++;
    int segment = 0;
    return ForEachLengthDelimited(bytes, [&](int input_field, const std::string& input_bytes) {
      std::string name;
      std::string_view text;
      if (input_field == v1::EncodeInput::kTextFieldNumber) {
        name = absl::StrCat("inputs[", index, "].text");
        text = input_bytes;
      } else if (input_field == v1::EncodeInput::kSegmentsFieldNumber) {
        const int seg = segment++;
        return ForEachLengthDelimited(input_bytes, [&](int seg_field, const std::string& seg_bytes) {
          if (seg_field != v1::PromptSegment::kTextFieldNumber || !found.ok()) return true;
          const size_t bad = base::FirstInvalidUtf8(seg_bytes);
          if (bad != std::string_view::npos) {
            found = absl::InvalidArgumentError(
                absl::StrCat("inputs[", index, "].segments[", seg, "].text: invalid UTF-8 at byte ", bad));
          }
          return true;
        });
      } else {
        return true;
      }
      const size_t bad = base::FirstInvalidUtf8(text);
      if (bad != std::string_view::npos && found.ok()) {
        found = absl::InvalidArgumentError(absl::StrCat(name, ": invalid UTF-8 at byte ", bad));
      }
      return true;
    });
  });
  if (!found.ok()) return found;
  if (!well_formed) return absl::InvalidArgumentError("request: malformed protobuf wire data");
  return absl::InvalidArgumentError("request: not a valid awqserve.v1.EncodeRequest");
}

}  // namespace tokenizer_service
