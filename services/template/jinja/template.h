// A Jinja2 template engine for Hugging Face chat templates: parse once, render many times with Python jinja2's
// semantics as transformers configures it (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loop
// controls, `{% generation %}`, raise_exception, strftime_now). The output keeps each character's provenance:
// template literals are trusted, context data is not (see ARCHITECTURE.md, "Request data never becomes a control
// token").
//
//   ASSIGN_OR_RETURN(jinja::Template t, jinja::Template::Parse(source));
//   jinja::Context ctx;
//   ctx.Set("messages", jinja::Value::FromJson(messages_json, /*trusted=*/false));
//   ctx.Set("bos_token", jinja::Value::String("<s>", /*trusted=*/true));
//   ASSIGN_OR_RETURN(jinja::RenderResult r, t.Render(ctx));   // r.text, r.segments
//
// A Template is immutable after Parse: Render is const and thread-safe; copies share the parsed program.
// Errors: syntax errors are INVALID_ARGUMENT naming line and column; raise_exception(msg) is INVALID_ARGUMENT with
// exactly `msg` (IsRaisedByTemplate() is true); other runtime errors are INVALID_ARGUMENT naming the line;
// exceeding a limit is RESOURCE_EXHAUSTED naming the limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "services/template/jinja/pstring.h"
#include "services/template/jinja/value.h"

namespace jinja {

struct Limits {
  // The largest template source accepted (RenderRequest.template_override documents the same 256 KiB).
  size_t max_template_bytes = 256 * 1024;
  // Nesting of blocks and expressions in the source (an expression level costs 2-3). Real chat templates nest
  // under 10 levels.
  int max_depth = 64;
  // Macro calls in progress at once (recursion). Real templates call macros 1-2 deep. Each level may hold a
  // whole max_depth tree of C++ frames (~30 KiB without sanitizers), so 32 levels stay near 1 MiB.
  int max_call_depth = 32;
  // C++ stack a render may use, measured from its entry: a last guard, below the 8 MiB of a thread's stack
  // (sanitizer builds use ~4x the frames of a release build, so the limits above normally trip first).
  size_t max_stack_bytes = 4 << 20;
  // Loop iterations plus macro calls over one render: ~100 per message in the largest corpus templates, so one
  // million allows 10,000 messages while bounding a hostile template's run time to well under a second.
  int64_t max_iterations = 1'000'000;
  // The rendered prompt and any string built on the way. 4 MiB is ~1M tokens, far beyond the model's context.
  size_t max_output_bytes = 4 * 1024 * 1024;
};

// The broken-down local time strftime_now formats; the default reads the system clock.
using Clock = std::function<std::tm()>;
Clock SystemClock();
// A clock frozen at the given time ("2025-03-09T08:05:03").
absl::StatusOr<Clock> FixedClock(std::string_view iso_time);

// Template variables. Later Set() calls of the same name replace earlier ones.
class Context {
 public:
  void Set(std::string name, Value value);
  const std::vector<std::pair<std::string, Value>>& vars() const { return vars_; }
  void set_clock(Clock clock) { clock_ = std::move(clock); }
  const Clock& clock() const { return clock_; }

 private:
  std::vector<std::pair<std::string, Value>> vars_;
  Clock clock_;
};

struct RenderResult {
  std::string text;
  std::vector<Segment> segments;  // concatenated, equal to text
};

struct Program;

class Template {
 public:
  [[nodiscard]] static absl::StatusOr<Template> Parse(std::string_view source, const Limits& limits = Limits());
  [[nodiscard]] absl::StatusOr<RenderResult> Render(const Context& context) const;
  const Limits& limits() const { return limits_; }

 private:
  Template(std::shared_ptr<const Program> program, const Limits& limits)
      : program_(std::move(program)), limits_(limits) {}
  std::shared_ptr<const Program> program_;
  Limits limits_;
};

// True for the status of a template's own raise_exception(msg) (its message is exactly msg).
bool IsRaisedByTemplate(const absl::Status& status);

}  // namespace jinja
