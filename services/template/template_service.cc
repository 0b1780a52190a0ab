#include "services/template/template_service.h"

#include <grpcpp/support/proto_buffer_reader.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "services/common/status.h"
#include "services/template/render_request.h"
#include "services/template/wire_utf8.h"

namespace template_service {

namespace v1 = awqserve::v1;

TemplateService::TemplateService(ModelTemplate model, TemplateOptions options, prometheus::Registry* registry)
    : model_(std::move(model)), options_(std::move(options)) {
  renders_ = &prometheus::BuildCounter()
                  .Name("awqserve_template_renders_total")
                  .Help(
                      "Render calls by result: ok, bad_request (a malformed request) or template_error (the "
                      "template raised, failed or exceeded a limit)")
                  .Register(*registry);
  ok_ = &renders_->Add({{"result", "ok"}});
  bad_request_ = &renders_->Add({{"result", "bad_request"}});
  template_error_ = &renders_->Add({{"result", "template_error"}});
  prompt_bytes_ = &prometheus::BuildCounter()
                       .Name("awqserve_template_prompt_bytes_total")
                       .Help("Bytes of prompt text rendered")
                       .Register(*registry)
                       .Add({});
}

absl::Status TemplateService::Init() {
  absl::StatusOr<jinja::Template> t = jinja::Template::Parse(model_.chat_template, options_.limits);
  if (!t.ok()) return absl::Status(t.status().code(), absl::StrCat(model_.source, ": ", t.status().message()));
  template_ = std::move(*t);
  return absl::OkStatus();
}

absl::StatusOr<jinja::Template> TemplateService::OverrideTemplate(const std::string& source) {
  {
    absl::MutexLock lock(&cache_mu_);
    for (auto it = cache_.begin(); it != cache_.end(); ++it) {
      if (it->first != source) continue;
      cache_.splice(cache_.begin(), cache_, it);
      return cache_.front().second;
    }
  }
  absl::StatusOr<jinja::Template> t = jinja::Template::Parse(source, options_.limits);
  if (!t.ok()) return absl::Status(t.status().code(), absl::StrCat("template_override: ", t.status().message()));
  absl::MutexLock lock(&cache_mu_);
  cache_.emplace_front(source, *t);
  while (cache_.size() > options_.override_cache_entries) cache_.pop_back();
  return t;
}

absl::Status TemplateService::DoRender(const v1::RenderRequest& request, v1::RenderResponse* response) {
  absl::StatusOr<jinja::Context> ctx = ContextFromRequest(request, model_);
  if (!ctx.ok()) {
    bad_request_->Increment();
    return ctx.status();
  }
  if (options_.clock) ctx->set_clock(options_.clock);
  std::optional<jinja::Template> override_template;
  if (request.has_template_override()) {
    absl::StatusOr<jinja::Template> t = OverrideTemplate(request.template_override());
    if (!t.ok()) {
      bad_request_->Increment();
      return t.status();
    }
    override_template = std::move(*t);
  }
  const jinja::Template& t = override_template ? *override_template : *template_;
  absl::StatusOr<jinja::RenderResult> result = t.Render(*ctx);
  if (!result.ok()) {
    template_error_->Increment();
    return result.status();
  }
  ok_->Increment();
  prompt_bytes_->Increment(static_cast<double>(result->text.size()));
  response->set_text(std::move(result->text));
  for (jinja::Segment& s : result->segments) {
    v1::PromptSegment* seg = response->add_segments();
    seg->set_text(std::move(s.text));
    seg->set_trusted(s.trusted);
  }
  return absl::OkStatus();
}

void TemplateService::DoInfo(v1::TemplateInfo* response) const {
  response->set_chat_template(model_.chat_template);
  response->set_source(model_.source);
  response->set_bos_token(model_.bos_token.value_or(""));
  response->set_eos_token(model_.eos_token.value_or(""));
}

grpc::ServerUnaryReactor* TemplateService::Render(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                                  grpc::ByteBuffer* response) {
  v1::RenderRequest parsed;
  grpc::ProtoBufferReader reader(const_cast<grpc::ByteBuffer*>(request));
  if (!parsed.ParseFromZeroCopyStream(&reader)) {
    bad_request_->Increment();
    std::vector<grpc::Slice> slices;
    std::string wire;
    if (request->Dump(&slices).ok()) {
      for (const grpc::Slice& s : slices) wire.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    return services::FinishUnary(context, DiagnoseRequest(wire, *v1::RenderRequest::descriptor()));
  }
  v1::RenderResponse reply;
  absl::Status status = DoRender(parsed, &reply);
  if (status.ok()) {
    bool own_buffer;
    const grpc::Status s = grpc::SerializationTraits<v1::RenderResponse>::Serialize(reply, response, &own_buffer);
    if (!s.ok()) status = absl::InternalError(absl::StrCat("Render: cannot serialize the reply: ", s.error_message()));
  }
  return services::FinishUnary(context, status);
}

grpc::ServerUnaryReactor* TemplateService::Info(grpc::CallbackServerContext* context,
                                                const v1::TemplateInfoRequest* request, v1::TemplateInfo* response) {
  DoInfo(response);
  return services::FinishUnary(context, absl::OkStatus());
}

}  // namespace template_service
