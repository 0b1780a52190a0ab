"""The template sidecar called from Python's grpcio: every chat-template golden case and every Mistral transformers
row over the wire, provenance segments, Info, health, and bad requests with their status and message."""
import json
import os
import signal
import unittest

import grpc

import awq_harness

MISTRAL = "assets/mistral-7b-instruct-v0.1"
CORPUS = "assets/chat-templates"
CORPUS_CASES = 1200
HF_ROWS = 16


def load_corpus():
    root = os.path.join(awq_harness.SHARED_DIR, CORPUS)
    with open(os.path.join(root, "index.json"), encoding="utf-8") as f:
        index = json.load(f)
    with open(os.path.join(root, "conversations.json"), encoding="utf-8") as f:
        conversations = {c["id"]: c for c in json.load(f)}
    templates = {}
    for name, entry in index.items():
        with open(os.path.join(root, entry["file"]), encoding="utf-8", newline="") as f:
            templates[name] = f.read()
    return index, conversations, templates, awq_harness.golden(CORPUS + "/golden.jsonl")


class TemplateServiceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        awq_harness.stubs()
        from awqserve.v1 import template_pb2, template_pb2_grpc
        cls.pb = template_pb2
        cls.server = awq_harness.Server(os.environ["AWQSERVE_TEMPLATE_BIN"],
                                        ["--model_dir", os.path.join(awq_harness.SHARED_DIR, MISTRAL),
                                         "--now", "2025-03-09T08:05:03"]).start()
        cls.channel = grpc.insecure_channel(cls.server.address)
        cls.stub = template_pb2_grpc.PromptTemplateStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        code = cls.server.stop(signal.SIGTERM)
        assert code == 0, "sidecar exited with %s: %s" % (code, cls.server.stderr())

    def request(self, conversation, add_generation_prompt=False, extra=None, template=None):
        pb = self.pb
        messages = []
        for m in conversation["messages"]:
            calls = []
            for tc in m.get("tool_calls", []):
                args = tc["function"]["arguments"]
                calls.append(pb.ToolCall(id=tc.get("id", ""), type=tc.get("type", ""), name=tc["function"]["name"],
                                         arguments_json=args if isinstance(args, str) else json.dumps(args),
                                         arguments_is_string=isinstance(args, str)))
            messages.append(pb.ChatMessage(role=m["role"], content=m["content"], name=m.get("name", ""),
                                           tool_call_id=m.get("tool_call_id", ""), tool_calls=calls))
        req = pb.RenderRequest(messages=messages, add_generation_prompt=add_generation_prompt)
        if "tools" in conversation:
            req.tools_json = json.dumps(conversation["tools"])
        if "documents" in conversation:
            req.documents_json = json.dumps(conversation["documents"])
        if extra:
            req.extra_context_json = json.dumps(extra)
        if template is not None:
            req.template_override = template
        return req

    def test_every_corpus_case(self):
        index, conversations, templates, cases = load_corpus()
        self.assertEqual(len(cases), CORPUS_CASES)
        for case in cases:
            entry, conv = index[case["template"]], conversations[case["conversation"]]
            extra = dict(conv.get("extra_vars", {}))
            for token in ("bos_token", "eos_token"):
                if entry[token] is not None:
                    extra[token] = entry[token]
            req = self.request(conv, case["add_generation_prompt"], extra, templates[case["template"]])
            name = "%s/%s/%s" % (case["template"], case["conversation"], case["add_generation_prompt"])
            if "error" in case:
                with self.assertRaises(grpc.RpcError, msg=name) as ctx:
                    self.stub.Render(req, timeout=30)
                self.assertEqual(ctx.exception.code(), grpc.StatusCode.INVALID_ARGUMENT, name)
                if case["error"]["raised_by_template"]:
                    self.assertEqual(ctx.exception.details(), case["error"]["message"], name)
                continue
            response = self.stub.Render(req, timeout=30)
            self.assertEqual(response.text, case["output"], name)
            self.assertEqual("".join(s.text for s in response.segments), response.text, name)

    def test_mistral_rows_with_the_models_template(self):
        rows = awq_harness.golden(MISTRAL + "/chat_golden_hf.jsonl")
        self.assertEqual(len(rows), HF_ROWS)
        for row in rows:
            req = self.request(row)
            if "error" in row:
                with self.assertRaises(grpc.RpcError) as ctx:
                    self.stub.Render(req, timeout=30)
                self.assertEqual(ctx.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
                self.assertEqual(ctx.exception.details(), row["error"])
                continue
            response = self.stub.Render(req, timeout=30)
            self.assertEqual(response.text, row["text"])
            untrusted = "".join(s.text for s in response.segments if not s.trusted)
            self.assertEqual(untrusted, "".join(m["content"] for m in row["messages"]))
            if row.get("user_content_has_special_strings"):
                for s in response.segments:
                    if s.trusted:
                        self.assertNotIn("</s>", s.text)
                        self.assertNotIn("<unk>", s.text)

    def test_info_and_health(self):
        info = self.stub.Info(self.pb.TemplateInfoRequest(), timeout=10)
        self.assertEqual(info.source, "chat_template.jinja")
        self.assertEqual((info.bos_token, info.eos_token), ("<s>", "</s>"))
        self.assertEqual(awq_harness.health_check(self.server.address, "awqserve.v1.PromptTemplate"), "SERVING")

    def test_bad_requests(self):
        pb = self.pb
        cases = [
            (pb.RenderRequest(), "messages: at least one message is required"),
            (pb.RenderRequest(messages=[pb.ChatMessage(content="x")]), "messages[0].role: required"),
            (pb.RenderRequest(messages=[pb.ChatMessage(role="user")]),
             "messages[0].content: required (or content_parts, or tool_calls for an assistant message)"),
            (pb.RenderRequest(messages=[pb.ChatMessage(role="user", content="x")], tools_json="{}"),
             "tools_json: must be a JSON array"),
            (pb.RenderRequest(messages=[pb.ChatMessage(role="user", content="x")], template_override="{{ raise_exception('no!') }}"),
             "no!"),
        ]
        for req, message in cases:
            with self.assertRaises(grpc.RpcError) as ctx:
                self.stub.Render(req, timeout=10)
            self.assertEqual(ctx.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            self.assertEqual(ctx.exception.details(), message)


if __name__ == "__main__":
    unittest.main()
