// Readers for the Mistral v0.1 golden files in ../shared/assets (read in place, never copied), for tests only.
// Plain structs; every reader aborts the test binary's expectations with a clear message when a file is missing.
//
//   std::vector<testing_golden::TextRow> rows = testing_golden::ReadTokenizerGolden();
#pragma once

#include <string>
#include <vector>

#include "base/file.h"
#include "base/json.h"

namespace testing_golden {

inline std::string MistralDir() { return std::string(AWQSERVE_SHARED_DIR) + "/assets/mistral-7b-instruct-v0.1"; }

// tokenizer_golden.jsonl: ids = [BOS] + SentencePiece(text); decoded = SentencePiece's decode of ids.
struct TextRow {
  std::string text;
  std::vector<int> ids;
  std::string decoded;
};

// chat_golden_hf.jsonl rows that have ids (the error rows are skipped).
struct ChatRow {
  base::Json messages;
  std::string text;
  std::vector<int> ids;
  std::vector<int> safe_ids;  // only the row whose user text holds special-token strings
};

inline std::vector<int> IdsOf(const base::Json& array) {
  std::vector<int> ids;
  for (const base::Json& v : array.items()) ids.push_back(static_cast<int>(v.AsInt()));
  return ids;
}

inline std::vector<base::Json> ReadJsonLines(const std::string& path) {
  std::vector<base::Json> out;
  absl::StatusOr<std::string> text = base::ReadFile(path);
  if (!text.ok()) return out;
  size_t start = 0;
  while (start < text->size()) {
    size_t end = text->find('\n', start);
    if (end == std::string::npos) end = text->size();
    if (end > start) {
      absl::StatusOr<base::Json> row = base::Json::Parse(std::string_view(*text).substr(start, end - start));
      if (row.ok()) out.push_back(*std::move(row));
    }
    start = end + 1;
  }
  return out;
}

inline std::vector<TextRow> ReadTokenizerGolden() {
  std::vector<TextRow> rows;
  for (const base::Json& j : ReadJsonLines(MistralDir() + "/tokenizer_golden.jsonl")) {
    rows.push_back({j.Get("text").AsString(), IdsOf(j.Get("ids")), j.Get("decoded").AsString()});
  }
  return rows;
}

inline std::vector<ChatRow> ReadChatGolden() {
  std::vector<ChatRow> rows;
  for (const base::Json& j : ReadJsonLines(MistralDir() + "/chat_golden_hf.jsonl")) {
    if (!j.Has("ids")) continue;
    rows.push_back({j.Get("messages"), j.Get("text").AsString(), IdsOf(j.Get("ids")), IdsOf(j.Get("safe_ids"))});
  }
  return rows;
}

// Sizes the files are known to have, so a truncated read cannot pass as "all rows checked".
inline constexpr size_t kTokenizerGoldenRows = 153;
inline constexpr size_t kChatGoldenRowsWithIds = 12;

}  // namespace testing_golden
