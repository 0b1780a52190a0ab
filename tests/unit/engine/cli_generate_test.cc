// `awqserve generate` end to end: the real binary on tiny-stories-awq, prompt text in, reference.json's greedy ids
// and text out (--json); bad flags fail with the field named.
#include <cstdio>
#include <string>
#include <vector>
#include <sys/wait.h>

#include "base/file.h"
#include "gtest/gtest.h"

namespace {

const std::string kModel = std::string(AWQSERVE_SHARED_DIR) + "/assets/tiny-stories-awq";
const std::string kCli = std::string(AWQSERVE_BINARY_DIR) + "/services/cli/awqserve";

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct CliRun {
  int exit_code = -1;
  std::string out;  // stdout and stderr
};

CliRun RunCli(const std::string& args) {
  CliRun r;
  FILE* p = popen((kCli + " " + args + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(CliGenerate, TinyStoriesReferenceGreedyTextFromPromptText) {
  absl::StatusOr<base::Json> ref = base::ReadJsonFile(kModel + "/reference.json");
  ASSERT_TRUE(ref.ok()) << ref.status();
  for (const base::Json& c : ref->Get("cases").items()) {
    const std::string prompt = c.Get("prompt").AsString();
    const size_t max_tokens = c.Get("greedy_ids").size();
    CliRun r = RunCli("generate --model " + Quote(kModel) + " --prompt " + Quote(prompt) + " --max-tokens " +
                   std::to_string(max_tokens) + " --temperature 0 --threads 2 --json");
    ASSERT_EQ(r.exit_code, 0) << r.out;
    absl::StatusOr<base::Json> got = base::Json::Parse(r.out);
    ASSERT_TRUE(got.ok()) << got.status() << "\n" << r.out;
    EXPECT_EQ(got->Get("ids"), c.Get("greedy_ids")) << prompt;
    EXPECT_EQ(got->Get("text").AsString(), c.Get("greedy_text").AsString()) << prompt;
    EXPECT_EQ(got->Get("finish_reason").AsString(), "length") << prompt;
    EXPECT_EQ(got->Get("usage").Get("prompt_tokens").AsInt(), static_cast<int64_t>(c.Get("prompt_ids").size()));
  }
}

TEST(CliGenerate, PromptIdsAndLogprobs) {
  CliRun r = RunCli("generate --model " + Quote(kModel) + " --prompt-ids 1 --max-tokens 3 --temperature 0 --logprobs 2 "
                 "--threads 2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  absl::StatusOr<base::Json> got = base::Json::Parse(r.out);
  ASSERT_TRUE(got.ok()) << got.status();
  const base::Json& logprobs = got->Get("logprobs");
  ASSERT_EQ(logprobs.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const base::Json& lp = logprobs.items()[i];
    EXPECT_EQ(lp.Get("id"), got->Get("ids").items()[i]);
    ASSERT_EQ(lp.Get("top").size(), 2u);
    // Greedy: the chosen token is the most likely one, a log-probability below 0.
    EXPECT_EQ(lp.Get("top").items()[0].Get("id"), lp.Get("id"));
    EXPECT_LT(lp.Get("logprob").AsDouble(), 0.0);
    EXPECT_LE(lp.Get("top").items()[1].Get("logprob").AsDouble(), lp.Get("logprob").AsDouble());
  }
}

TEST(CliGenerate, StopIdsEndGenerationWithoutBeingPrinted) {
  // Greedy from BOS begins 403, 407, 261 ("Once upon a"); stopping at 261 leaves two tokens.
  CliRun r = RunCli("generate --model " + Quote(kModel) + " --prompt-ids 1 --max-tokens 10 --temperature 0 "
                    "--stop-ids 261 --threads 2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  absl::StatusOr<base::Json> got = base::Json::Parse(r.out);
  ASSERT_TRUE(got.ok()) << got.status() << r.out;
  EXPECT_EQ(got->Get("ids"), base::Json::ArrayOf(std::vector<int>{403, 407}));
  EXPECT_EQ(got->Get("finish_reason").AsString(), "stop");
  EXPECT_EQ(got->Get("stop_token_id").AsInt(), 261);
  EXPECT_EQ(got->Get("usage").Get("completion_tokens").AsInt(), 3);
}

TEST(CliGenerate, BadInputNamesTheFieldAndLimit) {
  CliRun over = RunCli("generate --model " + Quote(kModel) + " --prompt-ids 1,5 --max-tokens 511");
  EXPECT_EQ(over.exit_code, 1);
  EXPECT_NE(over.out.find("prompt (2 tokens) + max_tokens (511) = 513 exceeds the model's context of 512"),
            std::string::npos)
      << over.out;
  CliRun temp = RunCli("generate --model " + Quote(kModel) + " --prompt-ids 1 --max-tokens 2 --temperature 101");
  EXPECT_EQ(temp.exit_code, 1);
  EXPECT_NE(temp.out.find("sampling.temperature = 101 is out of range [0, 100]"), std::string::npos) << temp.out;
  CliRun both = RunCli("generate --model " + Quote(kModel) + " --prompt-ids 1 --prompt hi --max-tokens 2");
  EXPECT_EQ(both.exit_code, 1);
  EXPECT_NE(both.out.find("exactly one of --prompt"), std::string::npos) << both.out;
  CliRun ids = RunCli("generate --model " + Quote(kModel) + " --prompt-ids 1,x --max-tokens 2");
  EXPECT_NE(ids.out.find("--prompt-ids: 'x' is not an integer"), std::string::npos) << ids.out;
}

}  // namespace
