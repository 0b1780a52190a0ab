#include "services/gateway/request_validation.h"

#include <algorithm>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/utf8.h"
#include "services/generation/sampling_proto.h"

namespace gateway {
namespace {

absl::Status CheckUtf8(const std::string& field, const std::string& text) {
  size_t bad = base::FirstInvalidUtf8(text);
  if (bad == std::string::npos) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, ": not valid UTF-8 (bad byte at offset ", bad, ")"));
}

absl::Status ValidateMessage(const awqserve::v1::ChatMessage& m, int index) {
  const std::string f = absl::StrCat("messages[", index, "]");
  if (m.role().empty()) return absl::InvalidArgumentError(absl::StrCat(f, ".role: required"));
  RETURN_IF_ERROR(CheckUtf8(f + ".role", m.role()));
  if (!m.has_content() && m.content_parts_size() == 0 && m.tool_calls_size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(f, ".content: required (or ", f, ".content_parts / ", f, ".tool_calls)"));
  }
  RETURN_IF_ERROR(CheckUtf8(f + ".content", m.content()));
  for (int i = 0; i < m.content_parts_size(); ++i) {
    RETURN_IF_ERROR(CheckUtf8(absl::StrCat(f, ".content_parts[", i, "].text"), m.content_parts(i).text()));
    RETURN_IF_ERROR(CheckUtf8(absl::StrCat(f, ".content_parts[", i, "].type"), m.content_parts(i).type()));
  }
  RETURN_IF_ERROR(CheckUtf8(f + ".name", m.name()));
  RETURN_IF_ERROR(CheckUtf8(f + ".tool_call_id", m.tool_call_id()));
  for (int i = 0; i < m.tool_calls_size(); ++i) {
    const auto& c = m.tool_calls(i);
    const std::string cf = absl::StrCat(f, ".tool_calls[", i, "]");
    RETURN_IF_ERROR(CheckUtf8(cf + ".id", c.id()));
    RETURN_IF_ERROR(CheckUtf8(cf + ".name", c.name()));
    RETURN_IF_ERROR(CheckUtf8(cf + ".arguments_json", c.arguments_json()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateOptions(const awqserve::v1::GenerationOptions& o, const Limits& limits) {
  RETURN_IF_ERROR(generation::SamplingFromProto(o.sampling(), o.logprobs(), "options.sampling", "options.logprobs",
                                                /*vocab_size=*/0)
                      .status());
  if (o.has_max_tokens() && (o.max_tokens() < 1 || o.max_tokens() > limits.max_tokens_cap)) {
    return absl::InvalidArgumentError(absl::StrCat("options.max_tokens: must be in [1, ", limits.max_tokens_cap,
                                                   "], got ", o.max_tokens()));
  }
  if (o.stop_size() > kMaxStopStrings) {
    return absl::InvalidArgumentError(
        absl::StrCat("options.stop: at most ", kMaxStopStrings, " stop strings, got ", o.stop_size()));
  }
  for (int i = 0; i < o.stop_size(); ++i) {
    const std::string f = absl::StrCat("options.stop[", i, "]");
    const std::string& s = o.stop(i);
    if (s.empty() || s.size() > kMaxStopStringBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(f, ": must be 1 to ", kMaxStopStringBytes, " bytes long, got ", s.size()));
    }
    RETURN_IF_ERROR(CheckUtf8(f, s));
  }
  if (o.stop_token_ids_size() > kMaxStopTokenIds) {
    return absl::InvalidArgumentError(absl::StrCat("options.stop_token_ids: at most ", kMaxStopTokenIds,
                                                   " ids, got ", o.stop_token_ids_size()));
  }
  for (int i = 0; i < o.stop_token_ids_size(); ++i) {
    if (o.stop_token_ids(i) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("options.stop_token_ids[", i, "]: must be >= 0, got ", o.stop_token_ids(i)));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateChatRequest(const awqserve::v1::ChatRequest& r, const Limits& limits) {
  if (r.messages_size() == 0) {
    return absl::InvalidArgumentError("messages: at least one message is required, got none");
  }
  if (r.messages_size() > kMaxMessages) {
    return absl::InvalidArgumentError(
        absl::StrCat("messages: at most ", kMaxMessages, " messages, got ", r.messages_size()));
  }
  for (int i = 0; i < r.messages_size(); ++i) RETURN_IF_ERROR(ValidateMessage(r.messages(i), i));
  RETURN_IF_ERROR(CheckUtf8("tools_json", r.tools_json()));
  RETURN_IF_ERROR(CheckUtf8("extra_context_json", r.extra_context_json()));
  return ValidateOptions(r.options(), limits);
}

absl::Status ValidateCompleteRequest(const awqserve::v1::CompleteRequest& r, const Limits& limits) {
  RETURN_IF_ERROR(CheckUtf8("prompt", r.prompt()));
  if (r.prompt().empty() && r.has_add_bos() && !r.add_bos()) {
    return absl::InvalidArgumentError("prompt: empty, and add_bos is false: the model needs at least one token");
  }
  return ValidateOptions(r.options(), limits);
}

absl::StatusOr<uint32_t> ResolveMaxTokens(const awqserve::v1::GenerationOptions& o, size_t prompt_tokens,
                                          uint32_t context_length, const Limits& limits) {
  if (prompt_tokens >= context_length) {
    return absl::InvalidArgumentError(absl::StrCat("prompt: ", prompt_tokens,
                                                   " tokens leave no room in the model's context length of ",
                                                   context_length, " tokens"));
  }
  const uint64_t room = context_length - prompt_tokens;
  if (o.has_max_tokens()) {
    if (o.max_tokens() > room) {
      return absl::InvalidArgumentError(absl::StrCat("options.max_tokens: the prompt's ", prompt_tokens,
                                                     " tokens + max_tokens ", o.max_tokens(),
                                                     " exceed the model's context length of ", context_length));
    }
    return o.max_tokens();
  }
  uint64_t chosen = std::min<uint64_t>({limits.default_max_tokens, limits.max_tokens_cap, room});
  return static_cast<uint32_t>(chosen);
}

}  // namespace gateway
