#include "services/gateway/stop_matcher.h"

#include <algorithm>
#include <utility>

#include "base/utf8.h"

namespace gateway {

StopMatcher::StopMatcher(std::vector<std::string> stops) {
  for (std::string& s : stops) {
    if (!s.empty()) stops_.push_back(std::move(s));
  }
}

StopMatcher::Step StopMatcher::Push(std::string_view delta) {
  Step step;
  if (done_) return step;
  received_bytes_ += delta.size();
  held_.append(delta);

  // Any occurrence starts inside held_: text before it was emitted only when no stop string could start there.
  size_t best_end = std::string::npos;
  size_t best_pos = std::string::npos;
  const std::string* best = nullptr;
  for (const std::string& s : stops_) {
    size_t pos = held_.find(s);
    if (pos == std::string::npos) continue;
    size_t end = pos + s.size();
    if (end < best_end || (end == best_end && pos < best_pos)) {
      best_end = end;
      best_pos = pos;
      best = &s;
    }
  }
  if (best != nullptr) {
    step.emit = held_.substr(0, best_pos);
    step.matched = *best;
    emitted_bytes_ += step.emit.size();
    held_.clear();
    done_ = true;
    return step;
  }

  size_t keep = HeldTailLength();
  size_t n = held_.size() - keep;
  n = base::CompleteUtf8Prefix(std::string_view(held_).substr(0, n));
  step.emit = held_.substr(0, n);
  held_.erase(0, n);
  emitted_bytes_ += n;
  return step;
}

std::string StopMatcher::Finish() {
  if (done_) return std::string();
  done_ = true;
  std::string out = std::move(held_);
  held_.clear();
  emitted_bytes_ += out.size();
  return out;
}

size_t StopMatcher::HeldTailLength() const {
  size_t longest = 0;
  std::string_view text(held_);
  for (const std::string& s : stops_) {
    size_t max_len = std::min(s.size() - 1, text.size());
    for (size_t k = max_len; k > longest; --k) {
      if (text.substr(text.size() - k) == std::string_view(s).substr(0, k)) {
        longest = k;
        break;
      }
    }
  }
  return longest;
}

}  // namespace gateway
