#include "services/gateway/wire_diagnosis.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "base/utf8.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace gateway {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::internal::WireFormatLite;

// Nesting deeper than this is not a request of ours (protobuf's own default recursion limit).
constexpr int kMaxDepth = 100;

// Returns true and sets *found when a string field with invalid UTF-8 is in `wire` (a `type` message).
bool FindBadString(const google::protobuf::Descriptor& type, const std::string& wire, const std::string& path,
                   int depth, absl::Status* found) {
  if (depth > kMaxDepth) return false;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(wire.data()),
                                            static_cast<int>(wire.size()));
  std::map<int, int> seen;  // field number -> occurrences so far (the index of a repeated field)
  while (uint32_t tag = in.ReadTag()) {
    const int number = WireFormatLite::GetTagFieldNumber(tag);
    const FieldDescriptor* field = type.FindFieldByNumber(number);
    const int index = seen[number]++;
    switch (WireFormatLite::GetTagWireType(tag)) {
      case WireFormatLite::WIRETYPE_VARINT: {
        uint64_t v;
        if (!in.ReadVarint64(&v)) return false;
        break;
      }
      case WireFormatLite::WIRETYPE_FIXED64: {
        uint64_t v;
        if (!in.ReadLittleEndian64(&v)) return false;
        break;
      }
      case WireFormatLite::WIRETYPE_FIXED32: {
        uint32_t v;
        if (!in.ReadLittleEndian32(&v)) return false;
        break;
      }
      case WireFormatLite::WIRETYPE_LENGTH_DELIMITED: {
        uint32_t length;
        std::string bytes;
        if (!in.ReadVarint32(&length) || !in.ReadString(&bytes, static_cast<int>(length))) return false;
        if (field == nullptr) break;
        std::string name = path.empty() ? field->name() : absl::StrCat(path, ".", field->name());
        if (field->is_repeated()) absl::StrAppend(&name, "[", index, "]");
        if (field->type() == FieldDescriptor::TYPE_STRING) {
          const size_t bad = base::FirstInvalidUtf8(bytes);
          if (bad != std::string::npos) {
            *found = absl::InvalidArgumentError(
                absl::StrCat(name, ": not valid UTF-8 (bad byte at offset ", bad, ")"));
            return true;
          }
        } else if (field->type() == FieldDescriptor::TYPE_MESSAGE &&
                   FindBadString(*field->message_type(), bytes, name, depth + 1, found)) {
          return true;
        }
        break;
      }
      default:
        return false;  // groups are not used by our protos
    }
  }
  return false;
}

}  // namespace

absl::Status DiagnoseUnparsable(const google::protobuf::Descriptor& type, const std::string& wire) {
  absl::Status found;
  if (FindBadString(type, wire, "", 0, &found)) return found;
  return absl::InvalidArgumentError(absl::StrCat("request: not a valid ", type.full_name()));
}

}  // namespace gateway
