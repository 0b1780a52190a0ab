// The entry points of libawq_sentencepiece.so (sentencepiece_module.cc), looked up with dlsym by
// sentencepiece_model.cc. C linkage for stable names; the arguments are C++ types of the same libstdc++, shared by
// the process and the module. Internal to the tokenizer library: use SentencePieceModel instead.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "tokenizer/sentencepiece_model.h"

extern "C" {

// Parses a serialized model and fills *vocab. Returns an opaque handle, or null with *error set.
void* AwqSentencePieceLoad(const std::string* serialized, tokenizer::Vocabulary* vocab, std::string* error);
void AwqSentencePieceFree(void* handle);
// Appends SentencePiece's encoding of text[0, size) to *ids; false with *error set on failure.
bool AwqSentencePieceEncode(const void* handle, const char* text, size_t size, std::vector<int>* ids,
                            std::string* error);
// SentencePiece's own decoding of *ids (ids must be in range).
void AwqSentencePieceDecode(const void* handle, const std::vector<int>* ids, std::string* text);

}  // extern "C"
