// RenderRequest (proto) to template variables, with validation. Every bad request is INVALID_ARGUMENT naming the
// field ("messages[2].role: required"); data from the request is untrusted, the model's bos/eos tokens trusted.
// Pure functions; thread-safe.
//
//   ASSIGN_OR_RETURN(jinja::Context ctx, template_service::ContextFromRequest(request, model_template));
//
// Variables, as transformers passes them: messages (plain dicts: role, tool_call_id, name, content, tool_calls —
// only the fields that are set), add_generation_prompt, tools and documents (the parsed JSON array, or none),
// bos_token / eos_token when the model has them, then every key of extra_context_json.
#pragma once

#include "absl/status/statusor.h"
#include "awqserve/v1/template.pb.h"
#include "services/template/jinja/template.h"
#include "services/template/model_template.h"

namespace template_service {

// The proto's documented limit on RenderRequest.messages.
inline constexpr int kMaxMessages = 4096;

[[nodiscard]] absl::StatusOr<jinja::Context> ContextFromRequest(const awqserve::v1::RenderRequest& request,
                                                                const ModelTemplate& model);

}  // namespace template_service
