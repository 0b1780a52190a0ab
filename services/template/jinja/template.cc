#include "services/template/jinja/template.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "services/template/jinja/absl_compat.h"
#include "services/template/jinja/interpreter.h"
#include "services/template/jinja/parser.h"

namespace jinja {

Clock SystemClock() {
  return [] {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    localtime_r(&t, &tm);
    return tm;
  };
}

absl::StatusOr<Clock> FixedClock(std::string_view iso_time) {
  std::tm tm{};
  int y, mo, d, h, mi, s;
  char tail;
  const std::string text(iso_time);
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &s, &tail) != 6 || mo < 1 ||
      mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 || h < 0 || mi < 0 || s < 0)
    return absl::InvalidArgumentError(absl::StrCat("time '", Sv(iso_time), "' is not of the form YYYY-MM-DDTHH:MM:SS"));
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  tm.tm_isdst = -1;
  std::tm normalized = tm;
  timegm(&normalized);  // fills tm_wday and tm_yday without a time zone
  tm.tm_wday = normalized.tm_wday;
  tm.tm_yday = normalized.tm_yday;
  tm.tm_isdst = 0;
  return Clock([tm] { return tm; });
}

void Context::Set(std::string name, Value value) {
  for (auto& [k, v] : vars_) {
    if (k == name) {
      v = std::move(value);
      return;
    }
  }
  vars_.emplace_back(std::move(name), std::move(value));
}

absl::StatusOr<Template> Template::Parse(std::string_view source, const Limits& limits) {
  if (source.size() > limits.max_template_bytes)
    return absl::InvalidArgumentError(
        absl::StrCat("template is ", source.size(), " bytes, over the limit of ", limits.max_template_bytes, " bytes"));
  ASSIGN_OR_RETURN(std::unique_ptr<Program> program, jinja::Parse(source, limits.max_depth));
  return Template(std::shared_ptr<const Program>(std::move(program)), limits);
}

absl::StatusOr<RenderResult> Template::Render(const Context& context) const {
  const Clock clock = context.clock() ? context.clock() : SystemClock();
  Interpreter interpreter(limits_, clock);
  ASSIGN_OR_RETURN(PString out, interpreter.Run(*program_, context));
  RenderResult result;
  result.segments = out.Segments();
  result.text = out.text();
  return result;
}

}  // namespace jinja
