#include "services/gateway/text_pipeline.h"

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "services/gateway/generation_feed.h"
#include "services/gateway/stop_matcher.h"

namespace gateway {
namespace {

using awqserve::v1::TextGenerationResponse;

// A generated token waiting to be sent with the text it produced: its text lies in [start, end) of the decoded
// stream.
struct PendingToken {
  int32_t id;
  std::optional<awqserve::v1::TokenLogprobs> logprobs;
  size_t start, end;
};

void SetDeadline(grpc::ClientContext* ctx, std::chrono::system_clock::time_point deadline) {
  if (deadline != std::chrono::system_clock::time_point::max()) ctx->set_deadline(deadline);
}

// The prompt as generation will see it, from Render + Encode (chat) or Encode (complete).
absl::StatusOr<std::vector<int32_t>> EncodePrompt(const Downstream& d, const PipelineInput& in,
                                                  CallControl* control) {
  awqserve::v1::EncodeRequest enc;
  if (in.chat != nullptr) {
    const awqserve::v1::ChatRequest& chat = *in.chat;
    awqserve::v1::RenderRequest render;
    *render.mutable_messages() = chat.messages();
    render.set_add_generation_prompt(chat.has_add_generation_prompt() ? chat.add_generation_prompt() : true);
    render.set_tools_json(chat.tools_json());
    render.set_extra_context_json(chat.extra_context_json());
    awqserve::v1::RenderResponse rendered;
    grpc::ClientContext ctx;
    SetDeadline(&ctx, in.deadline);
    CallControl::Scope scope(control, &ctx);
    grpc::Status s = d.prompt_template->Render(&ctx, render, &rendered);
    if (!s.ok()) return DownstreamError(Service::kTemplate, d.template_addr, s);
    // The template writes BOS itself ("<s>" in a trusted segment); request data never becomes a control token.
    *enc.add_inputs()->mutable_segments() = rendered.segments();
    enc.set_add_bos(false);
    enc.set_parse_special(true);
  } else {
    enc.add_inputs()->set_text(in.complete->prompt());
    enc.set_add_bos(in.complete->has_add_bos() ? in.complete->add_bos() : true);
    enc.set_parse_special(false);
  }
  awqserve::v1::EncodeResponse encoded;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, in.deadline);
  CallControl::Scope scope(control, &ctx);
  grpc::Status s = d.tokenizer->Encode(&ctx, enc, &encoded);
  if (!s.ok()) return DownstreamError(Service::kTokenizer, d.tokenizer_addr, s);
  if (encoded.results_size() != 1) {
    return absl::InternalError(absl::StrCat("tokenizer service (", d.tokenizer_addr, ") returned ",
                                            encoded.results_size(), " results for 1 input"));
  }
  std::vector<int32_t> ids(encoded.results(0).ids().begin(), encoded.results(0).ids().end());
  if (ids.empty()) return absl::InvalidArgumentError("prompt: encodes to no tokens (set add_bos or give text)");
  return ids;
}

// Collects decoded text through the stop matcher and turns it into client messages.
class Emitter {
 public:
  Emitter(const awqserve::v1::GenerationOptions& options, std::vector<int32_t> prompt_ids,
          const std::vector<std::string>& token_texts, const SendFn& send)
      : matcher_({options.stop().begin(), options.stop().end()}),
        token_texts_(token_texts),
        with_ids_(options.return_token_ids()),
        prompt_ids_(std::move(prompt_ids)),
        send_(send) {}

  // Records token `index` of `g`, whose text is the next `text_bytes` bytes of the decoded stream.
  void AddToken(const awqserve::v1::GenerateResponse& g, int index, size_t text_bytes) {
    PendingToken t{g.ids(index), std::nullopt, received_, received_ + text_bytes};
    if (index < g.logprobs_size()) {
      t.logprobs = g.logprobs(index);
      NameToken(t.logprobs->mutable_chosen());
      for (awqserve::v1::TokenLogprob& alt : *t.logprobs->mutable_top()) NameToken(&alt);
    }
    pending_.push_back(std::move(t));
    received_ += text_bytes;
  }

  // Feeds decoded text; returns true when a stop string matched (nothing more is sent but the last message).
  bool Push(const std::string& text) {
    StopMatcher::Step step = matcher_.Push(text);
    if (step.matched) {
      stop_string_ = *step.matched;
      tail_ = std::move(step.emit);
      return true;
    }
    if (!step.emit.empty()) {
      pending_message_.mutable_text()->append(step.emit);
      TakeTokens(&pending_message_, /*all_started=*/false);
    }
    return false;
  }

  // Sends what Push collected since the last Flush as one message (one per batch of tokens).
  void Flush() {
    if (pending_message_.text().empty()) return;
    Send(std::move(pending_message_));
    pending_message_.Clear();
  }

  const std::optional<std::string>& stop_string() const { return stop_string_; }

  // The last message: what is still held back (or the text before a matched stop string) and the end.
  void Finish(TextGenerationResponse last) {
    if (!stop_string_) tail_ = matcher_.Finish();
    pending_message_.mutable_text()->append(tail_);
    last.set_text(std::move(*pending_message_.mutable_text()));
    last.mutable_token_ids()->MergeFrom(pending_message_.token_ids());
    last.mutable_logprobs()->MergeFrom(pending_message_.logprobs());
    pending_message_.Clear();
    TakeTokens(&last, /*all_started=*/true);
    Send(std::move(last));
  }

 private:
  void NameToken(awqserve::v1::TokenLogprob* lp) const {
    if (lp->id() >= 0 && static_cast<size_t>(lp->id()) < token_texts_.size()) lp->set_text(token_texts_[lp->id()]);
  }

  // Moves the tokens whose text has been emitted (ends inside it; at the end: starts inside it) to the message.
  void TakeTokens(TextGenerationResponse* m, bool all_started) {
    const size_t emitted = matcher_.emitted_bytes();
    while (!pending_.empty()) {
      const PendingToken& t = pending_.front();
      bool sent = all_started ? (!stop_string_ || t.start < emitted || t.end <= emitted) : t.end <= emitted;
      if (!sent) break;
      if (with_ids_) m->add_token_ids(t.id);
      if (t.logprobs) *m->add_logprobs() = *t.logprobs;
      pending_.pop_front();
    }
  }

  void Send(TextGenerationResponse&& m) {
    if (first_ && with_ids_) *m.mutable_prompt_token_ids() = {prompt_ids_.begin(), prompt_ids_.end()};
    first_ = false;
    send_(std::move(m));
  }

  StopMatcher matcher_;
  const std::vector<std::string>& token_texts_;  // ModelInfo's, which outlives the call
  bool with_ids_;
  std::vector<int32_t> prompt_ids_;
  const SendFn& send_;
  std::deque<PendingToken> pending_;
  size_t received_ = 0;
  bool first_ = true;
  std::optional<std::string> stop_string_;
  std::string tail_;
  TextGenerationResponse pending_message_;  // text and tokens collected by Push, not yet sent
};

}  // namespace

absl::Status RunPipeline(const Downstream& d, const ModelInfo& info, const PipelineInput& in, CallControl* control,
                         const SendFn& send) {
  const awqserve::v1::GenerationOptions& options = in.chat != nullptr ? in.chat->options() : in.complete->options();
  RETURN_IF_ERROR(in.chat != nullptr ? ValidateChatRequest(*in.chat, info.limits)
                                     : ValidateCompleteRequest(*in.complete, info.limits));
  ASSIGN_OR_RETURN(std::vector<int32_t> prompt_ids, EncodePrompt(d, in, control));
  ASSIGN_OR_RETURN(uint32_t max_tokens, ResolveMaxTokens(options, prompt_ids.size(), info.context_length,
                                                         info.limits));

  awqserve::v1::GenerateRequest gen;
  *gen.mutable_prompt_ids() = {prompt_ids.begin(), prompt_ids.end()};
  *gen.mutable_sampling() = options.sampling();
  gen.set_max_tokens(max_tokens);
  *gen.mutable_stop_token_ids() = options.stop_token_ids();
  gen.set_ignore_eos(options.ignore_eos());
  *gen.mutable_logprobs() = options.logprobs();

  grpc::ClientContext gen_ctx, dec_ctx;
  SetDeadline(&gen_ctx, in.deadline);
  SetDeadline(&dec_ctx, in.deadline);
  CallControl::Scope gen_scope(control, &gen_ctx), dec_scope(control, &dec_ctx);
  GenerationFeed feed(d.generation.get(), &gen_ctx, gen);
  std::unique_ptr<grpc::ClientReaderWriter<awqserve::v1::DecodeStreamRequest, awqserve::v1::DecodeStreamResponse>>
      decoder = d.tokenizer->DecodeStream(&dec_ctx);
  // Ends the decode stream after a failure or a stop string (the feed's destructor ends the Generate call).
  auto abandon_decoder = [&] {
    dec_ctx.TryCancel();
    (void)decoder->Finish();
  };
  auto tokenizer_failure = [&] {
    feed.Cancel();
    grpc::Status s = decoder->Finish();
    if (s.ok()) s = grpc::Status(grpc::StatusCode::INTERNAL, "DecodeStream ended early");
    return DownstreamError(Service::kTokenizer, d.tokenizer_addr, s);
  };

  Emitter emitter(options, prompt_ids, info.token_texts, send);
  std::optional<awqserve::v1::GenerateResponse> last;
  uint32_t generated = 0;
  bool first_decode = true;
  bool stopped = false;
  awqserve::v1::GenerateResponse g;
  // The tokens that arrived meanwhile (generation_feed.h) go to DecodeStream one per message but all written
  // before the first delta is read: one round trip per batch, and each token's own text, so a stop string ends the
  // text at the very token that completed it whatever the batching.
  while (!stopped && feed.Take(&g)) {
    for (int i = 0; i < g.ids_size(); ++i) {
      awqserve::v1::DecodeStreamRequest dr;
      dr.add_ids(g.ids(i));
      if (first_decode) dr.set_skip_special_tokens(true);
      first_decode = false;
      if (!decoder->Write(dr)) return tokenizer_failure();
    }
    for (int i = 0; i < g.ids_size() && !stopped; ++i) {
      awqserve::v1::DecodeStreamResponse delta;
      if (!decoder->Read(&delta)) return tokenizer_failure();
      ++generated;
      emitter.AddToken(g, i, delta.text().size());
      stopped = emitter.Push(delta.text());
    }
    if (!stopped) emitter.Flush();
    if (g.finish_reason() != awqserve::v1::FINISH_REASON_UNSPECIFIED) last = g;
  }

  TextGenerationResponse end;
  if (stopped) {
    feed.Cancel();
    abandon_decoder();
    end.set_finish_reason(awqserve::v1::FINISH_REASON_STOP);
    end.mutable_stop_reason()->set_stop_string(*emitter.stop_string());
    end.mutable_usage()->set_prompt_tokens(prompt_ids.size());
    end.mutable_usage()->set_completion_tokens(generated);
    end.mutable_usage()->set_total_tokens(prompt_ids.size() + generated);
    emitter.Finish(std::move(end));
    return absl::OkStatus();
  }

  grpc::Status gs = feed.status();
  if (!gs.ok()) {
    abandon_decoder();
    return DownstreamError(Service::kGeneration, d.generation_addr, gs);
  }
  if (!last) {
    abandon_decoder();
    return absl::InternalError(absl::StrCat("generation service (", d.generation_addr,
                                            ") ended its stream without a finish_reason"));
  }
  // The decoder flushes an unfinished character (as Decode would) once it sees the end of the ids.
  if (!decoder->WritesDone()) return tokenizer_failure();
  awqserve::v1::DecodeStreamResponse delta;
  while (!stopped && decoder->Read(&delta)) stopped = emitter.Push(delta.text());
  if (!stopped) emitter.Flush();
  if (stopped) {
    abandon_decoder();
    end.set_finish_reason(awqserve::v1::FINISH_REASON_STOP);
    end.mutable_stop_reason()->set_stop_string(*emitter.stop_string());
  } else {
    grpc::Status ds = decoder->Finish();
    if (!ds.ok()) return DownstreamError(Service::kTokenizer, d.tokenizer_addr, ds);
    end.set_finish_reason(last->finish_reason());
    *end.mutable_stop_reason() = last->stop_reason();
  }
  *end.mutable_usage() = last->usage();
  emitter.Finish(std::move(end));
  return absl::OkStatus();
}

}  // namespace gateway
