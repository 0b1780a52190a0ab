"""The tokenizer sidecar called from Python's grpcio: golden Encode, Decode and DecodeStream, TokenTexts against
SentencePiece's own decoder, bad requests."""
import os
import signal
import unittest

import grpc

import awq_harness

MISTRAL = "assets/mistral-7b-instruct-v0.1"
TOKENIZER_GOLDEN_ROWS = 153
CHAT_ROWS_WITH_IDS = 12


class TokenizerSidecarTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        awq_harness.stubs()
        from awqserve.v1 import tokenizer_pb2, tokenizer_pb2_grpc
        cls.pb = tokenizer_pb2
        cls.server = awq_harness.Server(os.environ["AWQSERVE_TOKENIZER_BIN"],
                                        ["--model_dir", os.path.join(awq_harness.SHARED_DIR, MISTRAL)]).start()
        cls.channel = grpc.insecure_channel(cls.server.address)
        cls.stub = tokenizer_pb2_grpc.TokenizerStub(cls.channel)
        cls.rows = awq_harness.golden(MISTRAL + "/tokenizer_golden.jsonl")
        assert len(cls.rows) == TOKENIZER_GOLDEN_ROWS

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        code = cls.server.stop(signal.SIGTERM)
        assert code == 0, "sidecar exited with %s: %s" % (code, cls.server.stderr())

    def test_encode_every_golden_row(self):
        request = self.pb.EncodeRequest(inputs=[self.pb.EncodeInput(text=r["text"]) for r in self.rows])
        response = self.stub.Encode(request, timeout=60)
        self.assertEqual(len(response.results), len(self.rows))
        for i, (row, result) in enumerate(zip(self.rows, response.results)):
            self.assertEqual(list(result.ids), row["ids"], "row %d" % i)

    def test_encode_chat_prompts_with_parse_special(self):
        rows = [r for r in awq_harness.golden(MISTRAL + "/chat_golden_hf.jsonl") if "ids" in r]
        self.assertEqual(len(rows), CHAT_ROWS_WITH_IDS)
        request = self.pb.EncodeRequest(inputs=[self.pb.EncodeInput(text=r["text"]) for r in rows],
                                        add_bos=False, parse_special=True)
        response = self.stub.Encode(request, timeout=60)
        for row, result in zip(rows, response.results):
            self.assertEqual(list(result.ids), row["ids"])

    def test_decode_every_golden_row(self):
        for i, row in enumerate(self.rows):
            response = self.stub.Decode(self.pb.DecodeRequest(ids=row["ids"], skip_special_tokens=True), timeout=30)
            self.assertEqual(response.text, row["decoded"], "row %d" % i)

    def test_decode_stream_every_golden_row_one_id_per_message(self):
        for i, row in enumerate(self.rows):
            requests = [self.pb.DecodeStreamRequest(ids=[token], skip_special_tokens=(k == 0))
                        for k, token in enumerate(row["ids"])]
            responses = list(self.stub.DecodeStream(iter(requests), timeout=30))
            # One reply per message, plus at most one for what the end of the stream settles.
            self.assertIn(len(responses) - len(requests), (0, 1), "row %d" % i)
            self.assertEqual("".join(r.text for r in responses), row["decoded"], "row %d" % i)

    def test_out_of_range_id_is_invalid_argument_and_the_server_keeps_serving(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.stub.Decode(self.pb.DecodeRequest(ids=[1, 32000]), timeout=30)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(caught.exception.details(), "ids[1]: 32000 is out of range [0, 32000)")
        self.assertEqual(self.stub.Decode(self.pb.DecodeRequest(ids=[1, 22557]), timeout=30).text, "<s>Hello")

    def test_token_texts_of_the_whole_vocabulary_match_sentencepiece(self):
        reference = awq_harness.token_text_reference(os.path.join(awq_harness.SHARED_DIR, MISTRAL))
        response = self.stub.TokenTexts(self.pb.TokenTextsRequest(ids=range(32000)), timeout=60)
        self.assertEqual(len(response.texts), 32000)
        self.assertEqual([i for i, t in enumerate(response.texts) if t != reference(i)], [])
        self.assertEqual(list(response.texts[:3]), ["<unk>", "<s>", "</s>"])
        # <0x0A> is a whole character alone; <0xF0> starts a four-byte one.
        self.assertEqual((response.texts[3 + 0x0A], response.texts[3 + 0xF0]), ("\n", "\ufffd"))
        self.assertEqual(response.texts[22557], " Hello")

    def test_token_texts_bad_requests_name_the_field_and_the_limit(self):
        for ids, details in (([5, 32000], "ids[1]: 32000 is out of range [0, 32000)"),
                             ([-1], "ids[0]: -1 is out of range [0, 32000)"),
                             ([0] * 65537, "ids: 65537 ids, the limit is 65536")):
            with self.assertRaises(grpc.RpcError) as caught:
                self.stub.TokenTexts(self.pb.TokenTextsRequest(ids=ids), timeout=30)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            self.assertEqual(caught.exception.details(), details)
        self.assertEqual(list(self.stub.TokenTexts(self.pb.TokenTextsRequest(ids=[1, 22557]), timeout=30).texts),
                         ["<s>", " Hello"])

    def test_health_and_info(self):
        self.assertEqual(awq_harness.health_check(self.server.address, "readiness"), "SERVING")
        info = self.stub.Info(self.pb.TokenizerInfoRequest(), timeout=30)
        self.assertEqual((info.vocab_size, info.bos_id, info.eos_id, info.unk_id, info.pad_id), (32000, 1, 2, 0, -1))


if __name__ == "__main__":
    unittest.main()
