#include "services/template/wire_utf8.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/utf8.h"

namespace template_service {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

// Checks every string field of `wire` (a `d` message) and its nested messages; the first invalid one goes to
// *found. False when the wire data itself is malformed.
bool Walk(std::string_view wire, const Descriptor& d, const std::string& prefix, absl::Status* found) {
  CodedInputStream in(reinterpret_cast<const uint8_t*>(wire.data()), static_cast<int>(wire.size()));
  std::map<int, int> seen;  // field number -> occurrences, for repeated indices
  while (const uint32_t tag = in.ReadTag()) {
    const FieldDescriptor* f = d.FindFieldByNumber(WireFormatLite::GetTagFieldNumber(tag));
    const bool nested_or_string =
        f != nullptr && (f->type() == FieldDescriptor::TYPE_STRING || f->type() == FieldDescriptor::TYPE_MESSAGE);
    if (WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED || !nested_or_string) {
      if (!WireFormatLite::SkipField(&in, tag)) return false;
      continue;
    }
    uint32_t size;
    std::string payload;
    if (!in.ReadVarint32(&size) || !in.ReadString(&payload, static_cast<int>(size))) return false;
    std::string name = prefix + f->name();
    if (f->is_repeated()) absl::StrAppend(&name, "[", seen[f->number()]++, "]");
    if (f->type() == FieldDescriptor::TYPE_MESSAGE) {
      if (!Walk(payload, *f->message_type(), name + ".", found)) return false;
      continue;
    }
    const size_t bad = base::FirstInvalidUtf8(payload);
    if (bad != std::string::npos && found->ok())
      *found = absl::InvalidArgumentError(absl::StrCat(name, ": not valid UTF-8 (byte ", bad, ")"));
  }
  return in.ConsumedEntireMessage();
}

}  // namespace

absl::Status DiagnoseRequest(std::string_view wire, const Descriptor& descriptor) {
  absl::Status found;
  const bool well_formed = Walk(wire, descriptor, "", &found);
  if (!found.ok()) return found;
  if (!well_formed) return absl::InvalidArgumentError("request: malformed protobuf wire data");
  return absl::InvalidArgumentError(absl::StrCat("request: not a valid ", descriptor.full_name()));
}

}  // namespace template_service
