// `awqserve render` as a user runs it: a conversation on stdin, the prompt on stdout exactly (no newline added),
// template errors with exit status 2 and the template's message on stderr. In process (--template, --model) for
// every case of three corpus templates (tools, documents, date_string, strftime_now, raise_exception), and through
// a real awqserve-template process (--server).
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "base/file.h"
#include "tests/integration/server_process.h"
#include "tests/unit/jinja/golden_util.h"

namespace {

struct CliResult {
  int exit_code = -1;
  std::string out, err;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `awqserve render ARGS < stdin_text`; arguments are single-quoted for the shell.
CliResult RunRender(const std::vector<std::string>& args, const std::string& stdin_text) {
  const std::string base = "/tmp/awq_render_cli_" + std::to_string(getpid());
  std::ofstream(base + ".in", std::ios::binary) << stdin_text;
  std::string cmd = std::string("'") + AWQSERVE_CLI_BIN + "' render";
  for (const std::string& a : args) cmd += " '" + a + "'";
  cmd += " < '" + base + ".in' > '" + base + ".out' 2> '" + base + ".err'";
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadAll(base + ".out");
  r.err = ReadAll(base + ".err");
  return r;
}

std::string MistralDir() { return jinja_test::SharedPath("assets/mistral-7b-instruct-v0.1"); }

// The stdin object for a corpus conversation: messages, tools/documents when present, extra variables.
std::string StdinFor(const base::Json& conv) {
  base::Json in = base::Json::MakeObject();
  in.Set("messages", conv.Get("messages"));
  if (conv.Has("tools")) in.Set("tools", conv.Get("tools"));
  if (conv.Has("documents")) in.Set("documents", conv.Get("documents"));
  for (const auto& [k, v] : conv.Get("extra_vars").members()) in.Set(k, v);
  return in.Dump();
}

TEST(RenderCli, CorpusTemplatesInProcess) {
  const jinja_test::Corpus corpus = jinja_test::LoadCorpus();
  const std::string dir = jinja_test::SharedPath("assets/chat-templates/templates/");
  int checked = 0;
  for (const jinja_test::GoldenCase& g : corpus.cases) {
    if (g.template_name != "llama-3.2-3b-instruct" && g.template_name != "command-a-03-2025" &&
        g.template_name != "mistral-7b-instruct-v0.1")
      continue;
    const base::Json& entry = corpus.index.Get(g.template_name);
    std::vector<std::string> args = {"--template", dir + g.template_name + ".jinja", "--now", "2025-03-09T08:05:03"};
    if (entry.Get("bos_token").is_string()) args.insert(args.end(), {"--bos", entry.Get("bos_token").AsString()});
    if (entry.Get("eos_token").is_string()) args.insert(args.end(), {"--eos", entry.Get("eos_token").AsString()});
    if (g.add_generation_prompt) args.push_back("--add-generation-prompt");
    const CliResult r = RunRender(args, StdinFor(corpus.conversations.at(g.conversation)));
    ++checked;
    if (g.is_error) {
      EXPECT_EQ(r.exit_code, 2) << g.Name() << ": " << r.err;
      EXPECT_TRUE(r.out.empty()) << g.Name();
      if (g.raised_by_template) {
        EXPECT_EQ(r.err, g.error_message + "\n") << g.Name();
      }
      continue;
    }
    EXPECT_EQ(r.exit_code, 0) << g.Name() << ": " << r.err;
    EXPECT_EQ(r.out, g.output) << g.Name();
  }
  EXPECT_EQ(checked, 3 * 48);
}

TEST(RenderCli, ModelFolderAndUndefinedTokens) {
  const std::string conv = R"({"messages": [{"role": "user", "content": "Hello!"}]})";
  CliResult r = RunRender({"--model", MistralDir()}, conv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<s>[INST] Hello! [/INST]");
  // --template without --bos: bos_token is undefined and prints as nothing.
  r = RunRender({"--template", MistralDir() + "/chat_template.jinja"}, conv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[INST] Hello! [/INST]");
  r = RunRender({"--template", MistralDir() + "/chat_template.jinja", "--bos", "B"}, conv);
  EXPECT_EQ(r.out, "B[INST] Hello! [/INST]");
  // An undefined eos_token added to a string is an error of the template: exit 2.
  r = RunRender({"--template", MistralDir() + "/chat_template.jinja"},
                R"({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]})");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("'eos_token' is undefined"), std::string::npos) << r.err;
}

TEST(RenderCli, UsageAndInputErrorsExitOne) {
  const std::string conv = R"({"messages": [{"role": "user", "content": "x"}]})";
  CliResult r = RunRender({}, conv);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("give exactly one of --template FILE, --model DIR or --server HOST:PORT"), std::string::npos);
  r = RunRender({"--model", MistralDir()}, "{\"messages\": ");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("stdin: JSON:"), std::string::npos) << r.err;
  r = RunRender({"--model", MistralDir()}, "[]");
  EXPECT_EQ(r.exit_code, 1);
  r = RunRender({"--template", "/nonexistent.jinja"}, conv);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--template:"), std::string::npos);
  r = RunRender({"--model", MistralDir(), "--now", "noon"}, conv);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--now:"), std::string::npos);
}

TEST(RenderCli, ThroughTheServer) {
  testing_process::ServerProcess server;
  ASSERT_TRUE(server.Start(AWQSERVE_TEMPLATE_BIN,
                           {"--model_dir", MistralDir(), "--listen", "127.0.0.1:0", "--metrics_listen", "none"}))
      << server.stderr_text();
  CliResult r = RunRender({"--server", server.address()},
                          R"({"messages": [{"role": "user", "content": "Text with <s> inside"}]})");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<s>[INST] Text with <s> inside [/INST]");
  r = RunRender({"--server", server.address()}, R"({"messages": [{"role": "assistant", "content": "I speak first"}]})");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "Conversation roles must alternate user/assistant/user/assistant/...\n");
  r = RunRender({"--server", server.address()}, R"({"messages": [{"role": "user", "content": 5}]})");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("messages[0].content: must be a string or a list of parts"), std::string::npos) << r.err;
  r = RunRender({"--server", server.address()}, R"({"messages": []})");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "messages: at least one message is required\n");
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

}  // namespace
