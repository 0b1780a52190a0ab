// Stop strings over a stream of text deltas: passes on only text that can no longer become part of a stop string.
//
// The matcher holds back the longest tail of the text seen so far that is a prefix of some stop string; once a stop
// string is complete it returns the text before it and reports the match, and accepts nothing more. The match is
// the occurrence that is completed first in the text (ties: the one starting first), so the result does not depend
// on how the text was cut into deltas. Emitted text never ends inside a UTF-8 character.
//
// Thread-safety: none; one matcher per stream, used by one thread at a time. Plain value type.
//
//   StopMatcher m({"\n\n", "User:"});
//   StopMatcher::Step s = m.Push("Hello\n");   // s.emit == "Hello", "\n" held back
//   s = m.Push("\nUser");                      // s.matched == "\n\n", s.emit == ""; m.done() is true
//   std::string tail = m.Finish();             // at the end of the stream without a match: the held-back text
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gateway {

class StopMatcher {
 public:
  struct Step {
    std::string emit;                    // text that is final: send it
    std::optional<std::string> matched;  // the stop string that ended the text, when one did
  };

  explicit StopMatcher(std::vector<std::string> stops);

  // Feeds the next delta. After a match (done()), further deltas are ignored and return an empty Step.
  Step Push(std::string_view delta);
  // The stream ended without a match: returns the held-back text (no stop string can complete any more).
  std::string Finish();

  bool done() const { return done_; }
  // Bytes emitted so far (Push and Finish results together): callers align token ids with emitted text by it.
  size_t emitted_bytes() const { return emitted_bytes_; }
  // Bytes received so far, including held-back and discarded ones.
  size_t received_bytes() const { return received_bytes_; }

 private:
  // Length of the longest suffix of held_ that is a proper prefix of some stop string.
  size_t HeldTailLength() const;

  std::vector<std::string> stops_;
  std::string held_;
  bool done_ = false;
  size_t emitted_bytes_ = 0;
  size_t received_bytes_ = 0;
};

}  // namespace gateway
