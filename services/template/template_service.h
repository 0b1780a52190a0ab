// The PromptTemplate gRPC service (awqserve.v1.PromptTemplate, callback API): renders a conversation with the
// model's chat template (or the request's override) and returns the prompt and its provenance segments.
// Bad requests are INVALID_ARGUMENT naming the field; a template's own error (raise_exception, a runtime error)
// is INVALID_ARGUMENT carrying the template's message; a template exceeding a limit is RESOURCE_EXHAUSTED.
//
// Ownership: owns the parsed model template; borrows the metrics registry, which must outlive the service.
// Thread-safety: Render and Info run concurrently; the service holds no per-call state and the override cache is
// guarded by a mutex.
//
//   TemplateService svc(model_template, TemplateOptions{}, &host.metrics().registry());
//   RETURN_IF_ERROR(svc.Init());
//   host.AddService(&svc, awqserve::v1::PromptTemplate::service_full_name());
#pragma once

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <list>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "awqserve/v1/template.grpc.pb.h"
#include "services/template/jinja/template.h"
#include "services/template/model_template.h"

namespace template_service {

struct TemplateOptions {
  jinja::Limits limits;
  // strftime_now's clock; empty: the system clock. Tests and reproducible renders freeze it (--now).
  jinja::Clock clock;
  // Parsed template_override sources kept for reuse (clients tend to send the same override every time).
  size_t override_cache_entries = 16;
};

// Render takes raw bytes so that a string with invalid UTF-8 (which protobuf refuses to parse) still gets an
// INVALID_ARGUMENT naming the field (wire_utf8.h); Info uses the generated types.
class TemplateService
    : public awqserve::v1::PromptTemplate::WithRawCallbackMethod_Render<awqserve::v1::PromptTemplate::CallbackService> {
 public:
  TemplateService(ModelTemplate model, TemplateOptions options, prometheus::Registry* registry);

  // Parses the model's template; an error names its source.
  [[nodiscard]] absl::Status Init();

  grpc::ServerUnaryReactor* Render(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* context, const awqserve::v1::TemplateInfoRequest* request,
                                 awqserve::v1::TemplateInfo* response) override;

  // The handler's logic without gRPC, for direct tests and benchmarks.
  [[nodiscard]] absl::Status DoRender(const awqserve::v1::RenderRequest& request,
                                      awqserve::v1::RenderResponse* response);
  void DoInfo(awqserve::v1::TemplateInfo* response) const;

 private:
  absl::StatusOr<jinja::Template> OverrideTemplate(const std::string& source);

  const ModelTemplate model_;
  const TemplateOptions options_;
  std::optional<jinja::Template> template_;
  absl::Mutex cache_mu_;
  std::list<std::pair<std::string, jinja::Template>> cache_ ABSL_GUARDED_BY(cache_mu_);  // most recent first
  prometheus::Family<prometheus::Counter>* renders_;  // awqserve_template_renders_total{result}
  prometheus::Counter* ok_;
  prometheus::Counter* bad_request_;
  prometheus::Counter* template_error_;
  prometheus::Counter* prompt_bytes_;  // awqserve_template_prompt_bytes_total
};

}  // namespace template_service
