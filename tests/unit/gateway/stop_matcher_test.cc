#include "services/gateway/stop_matcher.h"

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/utf8.h"
#include "gtest/gtest.h"

namespace gateway {
namespace {

struct Outcome {
  std::string text;
  std::optional<std::string> matched;
};

// Feeds the deltas one by one, checking each emitted piece, and returns what a client would have received.
Outcome Feed(const std::vector<std::string>& stops, const std::vector<std::string>& deltas) {
  StopMatcher m(stops);
  Outcome out;
  for (const std::string& d : deltas) {
    StopMatcher::Step s = m.Push(d);
    EXPECT_TRUE(base::IsValidUtf8(s.emit)) << s.emit;
    out.text += s.emit;
    if (s.matched) {
      EXPECT_FALSE(out.matched.has_value());
      out.matched = s.matched;
    }
    EXPECT_EQ(m.emitted_bytes(), out.text.size());
  }
  if (!out.matched) out.text += m.Finish();
  return out;
}

// Brute force: the first prefix of the text that ends with a stop string decides; among stop strings ending
// there, the longest (it starts first).
Outcome Reference(const std::vector<std::string>& stops, const std::string& text) {
  for (size_t end = 1; end <= text.size(); ++end) {
    const std::string* best = nullptr;
    for (const std::string& s : stops) {
      if (s.size() <= end && text.compare(end - s.size(), s.size(), s) == 0 &&
          (best == nullptr || s.size() > best->size())) {
        best = &s;
      }
    }
    if (best != nullptr) return Outcome{text.substr(0, end - best->size()), *best};
  }
  return Outcome{text, std::nullopt};
}

TEST(StopMatcher, NoStopsPassesEverythingThrough) {
  StopMatcher m({});
  EXPECT_EQ(m.Push("Hello").emit, "Hello");
  EXPECT_EQ(m.Push(" world").emit, " world");
  EXPECT_EQ(m.Finish(), "");
}

TEST(StopMatcher, HoldsBackAPossibleStartAndReleasesIt) {
  StopMatcher m({"User:"});
  StopMatcher::Step s = m.Push("Hi Us");
  EXPECT_EQ(s.emit, "Hi ");
  EXPECT_FALSE(s.matched);
  s = m.Push("ually");
  EXPECT_EQ(s.emit, "Usually");
  EXPECT_FALSE(m.done());
}

TEST(StopMatcher, MatchSplitAcrossDeltasIsNeverSent) {
  Outcome o = Feed({"\n\n"}, {"One", " line.\n", "\nTwo"});
  EXPECT_EQ(o.text, "One line.");
  EXPECT_EQ(o.matched, "\n\n");
}

TEST(StopMatcher, StopsAfterAMatch) {
  StopMatcher m({"END"});
  StopMatcher::Step s = m.Push("abcENDdef");
  EXPECT_EQ(s.emit, "abc");
  EXPECT_EQ(s.matched, "END");
  EXPECT_TRUE(m.done());
  EXPECT_EQ(m.Push("more").emit, "");
  EXPECT_EQ(m.Finish(), "");
  EXPECT_EQ(m.received_bytes(), 9u);
}

TEST(StopMatcher, EarliestCompletedMatchWins) {
  // "bc" completes before "abcd" would; a later-listed stop string may win.
  Outcome o = Feed({"abcd", "bc"}, {"xabcd"});
  EXPECT_EQ(o.text, "xa");
  EXPECT_EQ(o.matched, "bc");
  // Completed at the same byte: the one that starts first.
  o = Feed({"c", "abc"}, {"xab", "c"});
  EXPECT_EQ(o.text, "x");
  EXPECT_EQ(o.matched, "abc");
}

TEST(StopMatcher, OverlappingPrefixesHoldTheLongestCandidate) {
  StopMatcher m({"aab"});
  EXPECT_EQ(m.Push("xaa").emit, "x");
  StopMatcher::Step s = m.Push("ab");  // "aaab": the match starts one byte later than the held tail
  EXPECT_EQ(s.emit, "a");
  EXPECT_EQ(s.matched, "aab");
}

TEST(StopMatcher, FinishReleasesAnUnfinishedCandidate) {
  StopMatcher m({"</answer>"});
  EXPECT_EQ(m.Push("42</ans").emit, "42");
  EXPECT_EQ(m.Finish(), "</ans");
  EXPECT_EQ(m.emitted_bytes(), 7u);
}

TEST(StopMatcher, MultiByteStopStringsKeepCharactersWhole) {
  Outcome o = Feed({"東京", "🌊!"}, {"日本", "の東", "西", "🌊", "🌊", "!"});
  EXPECT_EQ(o.text, "日本の東西🌊");
  EXPECT_EQ(o.matched, "🌊!");
  StopMatcher m({"é!"});
  EXPECT_EQ(m.Push("café").emit, "caf");
  EXPECT_EQ(m.Push("s").emit, "és");
}

TEST(StopMatcher, AnySplitOfTheTextGivesTheReferenceResult) {
  const std::vector<std::string> alphabet = {"a", "b", "c", " ", "é", "\n"};
  const std::vector<std::vector<std::string>> stop_sets = {
      {"ab"}, {"bca", "cc"}, {"é b", "\n\n", "aaa"}, {"abcabc", "ca"}, {"é"}, {}};
  std::mt19937 rng(7);
  for (const auto& stops : stop_sets) {
    for (int trial = 0; trial < 400; ++trial) {
      std::vector<std::string> chars;
      int n = 1 + static_cast<int>(rng() % 20);
      for (int i = 0; i < n; ++i) chars.push_back(alphabet[rng() % alphabet.size()]);
      std::string text;
      for (const std::string& c : chars) text += c;
      std::vector<std::string> deltas;
      for (size_t i = 0; i < chars.size();) {
        size_t len = rng() % 4;  // empty deltas happen too (an unfinished character upstream)
        std::string d;
        for (size_t k = 0; k < len && i < chars.size(); ++k) d += chars[i++];
        deltas.push_back(d);
      }
      Outcome want = Reference(stops, text);
      Outcome got = Feed(stops, deltas);
      ASSERT_EQ(got.text, want.text) << "text '" << text << "'";
      ASSERT_EQ(got.matched, want.matched) << "text '" << text << "'";
    }
  }
}

}  // namespace
}  // namespace gateway
