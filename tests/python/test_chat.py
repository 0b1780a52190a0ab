"""A Python grpcio client runs streaming Chats through the whole serving path (gateway → template → tokenizer →
generation → tokenizer) against ../shared/assets/awq-tiny-mistral (the real Mistral v0.1 tokenizer and chat
template; random AWQ weights, so its text is gibberish but exact).

Checked against chat_golden_hf.jsonl (Hugging Face's rendering + tokenization): the prompt ids the gateway sends to
generation are exactly the golden ids — `safe_ids` for the row whose user text contains "<s>", "</s>", "<unk>" —
and usage.prompt_tokens (counted by generation) agrees; the streamed text is the tokenizer's Decode of the
generated ids; the conversations the template rejects fail with INVALID_ARGUMENT carrying its own message.
"""
import os
import re
import subprocess
import sys
import unittest

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import awq_harness  # noqa: E402
import serving_stack  # noqa: E402

awq_harness.stubs()
from awqserve.v1 import common_pb2, gateway_pb2, template_pb2, tokenizer_pb2  # noqa: E402

MODEL = os.path.join(awq_harness.SHARED_DIR, "assets", "awq-tiny-mistral")
GOLDEN = awq_harness.golden("assets/mistral-7b-instruct-v0.1/chat_golden_hf.jsonl")
MAX_TOKENS = 12


def chat_request(messages, **options):
    r = gateway_pb2.ChatRequest(messages=[template_pb2.ChatMessage(role=m["role"], content=m["content"])
                                          for m in messages])
    r.options.sampling.temperature = 0
    r.options.max_tokens = MAX_TOKENS
    r.options.return_token_ids = True
    for k, v in options.items():
        setattr(r.options, k, v)
    return r


class ChatTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # 32768 positions: a small explicit KV pool instead of the automatic one sized for full contexts.
        cls.stack = serving_stack.ServingStack(MODEL, generation_args=["--kv_blocks=256"]).__enter__()
        cls.gw = cls.stack.gateway_stub()
        cls.tok = cls.stack.tokenizer_stub()

    @classmethod
    def tearDownClass(cls):
        cls.stack.__exit__(None, None, None)
        assert all(code == 0 for code in cls.stack.exit_codes.values()), cls.stack.exit_codes

    def test_streaming_chat_sends_the_golden_prompt_ids_and_returns_the_decode(self):
        rows = [r for r in GOLDEN if "ids" in r]
        self.assertGreaterEqual(len(rows), 10)
        self.assertTrue(any("safe_ids" in r for r in rows))
        for row in rows:
            with self.subTest(text=row["text"]):
                want_prompt = row.get("safe_ids", row["ids"])
                msgs = list(self.gw.Chat(chat_request(row["messages"], ignore_eos=True), timeout=60))
                self.assertEqual(list(msgs[0].prompt_token_ids), want_prompt)
                last = msgs[-1]
                self.assertEqual(last.usage.prompt_tokens, len(want_prompt))
                self.assertEqual(last.usage.completion_tokens, MAX_TOKENS)
                self.assertEqual(last.finish_reason, common_pb2.FINISH_REASON_LENGTH)
                ids = [i for m in msgs for i in m.token_ids]
                self.assertEqual(len(ids), MAX_TOKENS)
                decoded = self.tok.Decode(tokenizer_pb2.DecodeRequest(ids=ids, skip_special_tokens=True),
                                          timeout=10).text
                self.assertEqual("".join(m.text for m in msgs), decoded)

    def test_unary_chat_equals_the_stream(self):
        row = GOLDEN[0]
        streamed = list(self.gw.Chat(chat_request(row["messages"]), timeout=60))
        unary = self.gw.ChatUnary(chat_request(row["messages"]), timeout=60)
        self.assertEqual(unary.text, "".join(m.text for m in streamed))
        self.assertEqual(list(unary.token_ids), [i for m in streamed for i in m.token_ids])
        self.assertEqual(list(unary.prompt_token_ids), row["ids"])
        self.assertEqual(unary.usage, streamed[-1].usage)
        self.assertEqual(unary.finish_reason, streamed[-1].finish_reason)

    def test_role_orders_the_template_rejects(self):
        rows = [r for r in GOLDEN if "error" in r]
        self.assertGreaterEqual(len(rows), 4)
        for row in rows:
            with self.subTest(messages=row["messages"]):
                with self.assertRaises(grpc.RpcError) as e:
                    list(self.gw.Chat(chat_request(row["messages"]), timeout=30))
                self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
                self.assertIn(row["error"], e.exception.details())
                self.assertTrue(e.exception.details().startswith("messages: "), e.exception.details())

    def test_logprobs_are_passed_through_with_their_token_texts(self):
        req = chat_request(GOLDEN[0]["messages"])
        req.options.logprobs.enabled = True
        req.options.logprobs.top_n = 3
        msgs = list(self.gw.Chat(req, timeout=60))
        ids = [i for m in msgs for i in m.token_ids]
        lps = [lp for m in msgs for lp in m.logprobs]
        self.assertEqual([lp.chosen.id for lp in lps], ids)
        token_text = awq_harness.token_text_reference(MODEL)
        for lp in lps:
            self.assertEqual(len(lp.top), 3)
            self.assertLessEqual(lp.chosen.logprob, 0.0)
            # Greedy: the chosen token is the most likely one.
            self.assertEqual(lp.top[0].id, lp.chosen.id)
            # Each entry carries its token's text, as SentencePiece decodes it mid-text.
            self.assertEqual(lp.chosen.text, token_text(lp.chosen.id))
            self.assertEqual([t.text for t in lp.top], [token_text(t.id) for t in lp.top])


    def test_cli_interactive_chat_keeps_the_conversation(self):
        cli = os.environ.get("AWQSERVE_CLI_BIN") or os.path.join(
            os.path.dirname(serving_stack.binary("gateway")), "..", "cli", "awqserve")
        r = subprocess.run([cli, "chat", "--server", self.stack.address("gateway"), "--temperature", "0",
                            "--max-tokens", "8", "--ignore-eos", "--usage", "--interactive", "Hello!"],
                           input="And then?\n\n", capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        prompts = [int(n) for n in re.findall(r"; (\d+) prompt \+ 8 completion tokens", r.stderr)]
        self.assertEqual(len(prompts), 2, r.stderr)
        self.assertEqual(prompts[0], len(GOLDEN[0]["ids"]))  # "<s>[INST] Hello! [/INST]"
        # The second turn's prompt holds the first question, the answer the CLI printed and the new question.
        self.assertGreater(prompts[1], prompts[0] + 8)


if __name__ == "__main__":
    unittest.main()
