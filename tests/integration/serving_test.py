"""The serving path end to end: the four services as real processes on loopback (serving_stack.py), driven by a
grpcio client. Model: ../shared/assets/tiny-stories-awq on the CPU backend, checked against its reference.json
(an independent numpy forward). Every check is against the reference, the model's limits or the services' own
metrics; nothing here is timing-dependent beyond generous polls."""
import json
import os
import subprocess
import threading
import time
import unittest

import grpc

import serving_stack
from serving_stack import awq_harness

SHARED = os.environ.get("AWQSERVE_SHARED_DIR", os.path.join(serving_stack.awq_harness.SOURCE_DIR, "..", "shared"))
TINY = os.path.join(SHARED, "assets", "tiny-stories-awq")
REFERENCE = json.load(open(os.path.join(TINY, "reference.json")))
CONTEXT = 512  # tiny-stories-awq's max_position_embeddings

serving_stack.awq_harness.stubs()
from awqserve.v1 import common_pb2, gateway_pb2, generation_pb2  # noqa: E402


def metric(values, name, **labels):
    """Sum of the series of `name` whose labels include `labels`."""
    total, found = 0.0, False
    for key, v in values.items():
        base, _, rest = key.partition("{")
        if base == name and all(f'{k}="{val}"' in rest for k, val in labels.items()):
            total += v
            found = True
    if not found:
        raise KeyError(f"{name}{labels} not exported")
    return total


def complete_request(prompt, max_tokens=None, temperature=0.0, **options):
    r = gateway_pb2.CompleteRequest(prompt=prompt)
    r.options.sampling.temperature = temperature
    if max_tokens is not None:
        r.options.max_tokens = max_tokens
    for k, v in options.items():
        if k == "stop":
            r.options.stop.extend(v)
        else:
            setattr(r.options, k, v)
    return r


class ServingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = serving_stack.ServingStack(TINY).__enter__()
        cls.gw = cls.stack.gateway_stub()

    @classmethod
    def tearDownClass(cls):
        cls.stack.__exit__(None, None, None)
        assert all(code == 0 for code in cls.stack.exit_codes.values()), cls.stack.exit_codes

    def gen_metrics(self):
        return self.stack.metrics("generation")

    def finished(self, values, reason):
        return metric(values, "awqserve_request_success_total", finished_reason=reason)

    def assert_cancelled_and_freed(self, before, timeout_s=15):
        """Waits until generation has retired one more request as cancelled and reports its KV cache empty (its
        gauges are refreshed every 50 ms, so both are polled); then checks exactly that."""
        deadline = time.monotonic() + timeout_s
        while True:
            m = self.gen_metrics()
            cancelled = self.finished(m, "cancelled") - self.finished(before, "cancelled")
            busy = (metric(m, "awqserve_num_requests_running") + metric(m, "awqserve_num_requests_waiting") +
                    metric(m, "awqserve_kv_cache_usage_perc"))
            if (cancelled >= 1 and busy == 0) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(cancelled, 1)
        self.assertEqual(metric(m, "awqserve_kv_cache_usage_perc"), 0.0)
        self.assertEqual(metric(m, "awqserve_num_requests_running"), 0.0)
        for reason in ("stop", "length", "error"):
            self.assertEqual(self.finished(m, reason), self.finished(before, reason), reason)

    def assert_kv_free(self, timeout_s=15):
        deadline = time.monotonic() + timeout_s
        while True:
            m = self.gen_metrics()
            if metric(m, "awqserve_kv_cache_usage_perc") == 0 and metric(m, "awqserve_num_requests_running") == 0:
                return m
            self.assertLess(time.monotonic(), deadline, "KV blocks still in use")
            time.sleep(0.05)

    # -- reference text ------------------------------------------------------------------------------------------

    def test_greedy_complete_reproduces_reference(self):
        for case in REFERENCE["cases"]:
            with self.subTest(prompt=case["prompt"]):
                req = complete_request(case["prompt"], max_tokens=len(case["greedy_ids"]), return_token_ids=True)
                msgs = list(self.gw.Complete(req, timeout=60))
                self.assertGreater(len(msgs), 1, "the text arrives as a stream")
                self.assertEqual("".join(m.text for m in msgs), case["greedy_text"])
                self.assertEqual([i for m in msgs for i in m.token_ids], case["greedy_ids"])
                self.assertEqual(list(msgs[0].prompt_token_ids), case["prompt_ids"])
                last = msgs[-1]
                self.assertEqual(last.finish_reason, common_pb2.FINISH_REASON_LENGTH)
                self.assertEqual(last.usage.prompt_tokens, len(case["prompt_ids"]))
                self.assertEqual(last.usage.completion_tokens, len(case["greedy_ids"]))
                self.assertEqual(last.usage.total_tokens, len(case["prompt_ids"]) + len(case["greedy_ids"]))
                for m in msgs[:-1]:
                    self.assertEqual(m.finish_reason, common_pb2.FINISH_REASON_UNSPECIFIED)
                unary = self.gw.CompleteUnary(req, timeout=60)
                self.assertEqual(unary.text, case["greedy_text"])
                self.assertEqual(list(unary.token_ids), case["greedy_ids"])
                self.assertEqual(unary.usage, last.usage)

    def test_model_stop_token_ends_with_its_id(self):
        # Past 64 tokens the story goes on; within the context it ends by emitting BOS (id 1), a stop id.
        msgs = list(self.gw.Complete(complete_request("Once upon a time", max_tokens=CONTEXT - 5), timeout=60))
        last = msgs[-1]
        if last.finish_reason == common_pb2.FINISH_REASON_STOP:
            self.assertIn(last.stop_reason.token_id, REFERENCE["stop_ids"])
        else:
            self.assertEqual(last.finish_reason, common_pb2.FINISH_REASON_LENGTH)
            self.assertEqual(last.usage.completion_tokens, CONTEXT - 5)
        self.assertTrue("".join(m.text for m in msgs).startswith(REFERENCE["cases"][1]["greedy_text"]))

    # -- stop strings ----------------------------------------------------------------------------------------------

    def test_stop_string_split_across_tokens_never_reaches_the_client(self):
        case = REFERENCE["cases"][1]  # ", there was a little girl named Lily." : "▁little", "▁g", "ir", "l"
        before = self.gen_metrics()
        stop = "tle gir"
        req = complete_request(case["prompt"], max_tokens=64, stop=["never there", stop], return_token_ids=True)
        msgs = list(self.gw.Complete(req, timeout=60))
        text = "".join(m.text for m in msgs)
        self.assertEqual(text, case["greedy_text"][:case["greedy_text"].index(stop)])
        self.assertEqual(text, ", there was a lit")
        last = msgs[-1]
        self.assertEqual(last.finish_reason, common_pb2.FINISH_REASON_STOP)
        self.assertEqual(last.stop_reason.stop_string, stop)
        # Tokens up to "ir", where the stop string completed: 0 ",", 1 " there", 2 " was", 3 " a", 4 " little",
        # 5 " g", 6 "ir".
        self.assertEqual(last.usage.completion_tokens, 7)
        # The ids sent are those whose text was sent (" little" partly was).
        self.assertEqual([i for m in msgs for i in m.token_ids], case["greedy_ids"][:5])
        # Generation was cancelled downstream and its KV blocks freed.
        self.assert_cancelled_and_freed(before)

    def test_stop_strings_are_exact_under_load(self):
        # 24 streams at once: the gateway falls behind and takes tokens in batches (generation_feed.h); the text,
        # the ids sent and the usage must not depend on that. The stop string lies late in the text (where the
        # backlog is largest) and spans "▁friend", "s", ".", "▁They".
        case = REFERENCE["cases"][1]
        ids, text, stop = case["greedy_ids"], case["greedy_text"], "nds. Th"
        before = text[:text.index(stop)]
        tok = self.stack.tokenizer_stub()
        from awqserve.v1 import tokenizer_pb2
        prefix = [len(tok.Decode(tokenizer_pb2.DecodeRequest(ids=ids[:k], skip_special_tokens=True), timeout=10).text)
                  for k in range(len(ids) + 1)]
        completed = next(k for k in range(len(ids) + 1) if prefix[k] >= len(before) + len(stop))
        started = sum(1 for k in range(len(ids)) if prefix[k] < len(before))  # tokens whose text was sent
        self.assertGreater(completed - started, 1, "the stop string spans several tokens")
        req = complete_request(case["prompt"], max_tokens=64, stop=[stop], return_token_ids=True)
        results = [None] * 24

        def run(i):
            msgs = list(self.gw.Complete(req, timeout=120))
            results[i] = ("".join(m.text for m in msgs), [t for m in msgs for t in m.token_ids],
                          msgs[-1].usage.completion_tokens, msgs[-1].stop_reason.stop_string)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(results))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for r in results:
            self.assertEqual(r, (before, ids[:started], completed, stop))
        self.assert_kv_free()

    def test_stop_string_that_never_completes_is_released_at_the_end(self):
        case = REFERENCE["cases"][1]
        # "big bushes" never appears; its prefix "big bush" ends the reference text and is held, then released.
        req = complete_request(case["prompt"], max_tokens=64, stop=["big bushes"])
        msgs = list(self.gw.Complete(req, timeout=60))
        self.assertEqual("".join(m.text for m in msgs), case["greedy_text"])
        self.assertTrue(case["greedy_text"].endswith("big bush"))
        self.assertTrue(msgs[-1].text.endswith("big bush"), "held back until the end, then sent")
        self.assertEqual(msgs[-1].finish_reason, common_pb2.FINISH_REASON_LENGTH)

    # -- cancellation and deadlines --------------------------------------------------------------------------------

    def test_client_cancel_frees_kv_blocks(self):
        before = self.gen_metrics()
        call = self.gw.Complete(complete_request("Once upon a time", max_tokens=CONTEXT - 10, ignore_eos=True),
                                timeout=60)
        for _ in range(3):
            next(call)
        call.cancel()
        with self.assertRaises(grpc.RpcError) as e:
            for _ in call:
                pass
        self.assertEqual(e.exception.code(), grpc.StatusCode.CANCELLED)
        self.assert_cancelled_and_freed(before)

    def test_deadline_reaches_generation_and_frees_kv_blocks(self):
        before = self.gen_metrics()
        # ~500 tokens take ~0.5 s here; the deadline passes after the request reached the engine.
        req = complete_request("Once upon a time", max_tokens=CONTEXT - 10, ignore_eos=True)
        with self.assertRaises(grpc.RpcError) as e:
            list(self.gw.Complete(req, timeout=0.15))
        self.assertEqual(e.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assert_cancelled_and_freed(before)

    # -- concurrency -----------------------------------------------------------------------------------------------

    def test_64_concurrent_streams_all_complete_correctly(self):
        results = [None] * 64
        cases = REFERENCE["cases"]

        def run(i):
            case = cases[i % len(cases)]
            try:
                msgs = list(self.gw.Complete(complete_request(case["prompt"], max_tokens=64), timeout=120))
                results[i] = ("".join(m.text for m in msgs), msgs[-1].usage.completion_tokens)
            except grpc.RpcError as e:
                results[i] = (f"{e.code()}: {e.details()}", 0)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(64)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, (text, n) in enumerate(results):
            self.assertEqual(text, cases[i % len(cases)]["greedy_text"], f"stream {i}")
            self.assertEqual(n, 64)
        self.assert_kv_free()

    # -- the CLI ------------------------------------------------------------------------------------------------------

    def cli(self, *args, stdin=None):
        binary = os.environ.get("AWQSERVE_CLI_BIN") or os.path.join(
            os.path.dirname(serving_stack.binary("gateway")), "..", "cli", "awqserve")
        return subprocess.run([binary] + list(args), capture_output=True, text=True, timeout=120, input=stdin)

    def test_cli_complete_and_chat_stream_through_the_gateway(self):
        case = REFERENCE["cases"][1]
        r = self.cli("complete", "--server", self.stack.address("gateway"), "--temperature", "0", "--max-tokens", "64",
                     "--usage", case["prompt"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, case["greedy_text"] + "\n")
        self.assertIn("[FINISH_REASON_LENGTH; 5 prompt + 64 completion tokens]", r.stderr)
        r = self.cli("complete", "--server", self.stack.address("gateway"), "--temperature", "0", "--max-tokens", "64",
                     "--stop", "tle gir", case["prompt"])
        self.assertEqual(r.stdout, ", there was a lit\n")
        # tiny-stories has no chat template of its own: the template service falls back to Mistral v0.1's.
        r = self.cli("chat", "--server", self.stack.address("gateway"), "--temperature", "0", "--max-tokens", "16",
                     "--usage", "Tell me a story.")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"\[FINISH_REASON_(LENGTH|STOP)[^;]*; \d+ prompt \+ \d+ completion tokens\]")
        r = self.cli("complete", "--server", self.stack.address("gateway"), "--top-p", "0", "x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("INVALID_ARGUMENT: options.sampling.top_p: must be in (0, 1], got 0", r.stderr)

    # -- bad input -------------------------------------------------------------------------------------------------

    def assert_invalid(self, request, message_part, code=grpc.StatusCode.INVALID_ARGUMENT, method="Complete"):
        with self.assertRaises(grpc.RpcError) as e:
            list(getattr(self.gw, method)(request, timeout=30))
        self.assertEqual(e.exception.code(), code, e.exception.details())
        self.assertIn(message_part, e.exception.details())
        return e.exception.details()

    def test_bad_sampling_and_options(self):
        cases = [
            ({"temperature": -1.0}, "options.sampling.temperature: must be in [0, 100], got -1"),
            ({"top_p": 0.0}, "options.sampling.top_p: must be in (0, 1], got 0"),
            ({"top_p": 1.5}, "options.sampling.top_p: must be in (0, 1], got 1.5"),
            ({"top_k": -1}, "options.sampling.top_k: must be in [0, vocab size], got -1"),
            ({"min_p": 1.5}, "options.sampling.min_p: must be in [0, 1], got 1.5"),
            ({"min_p": -0.5}, "options.sampling.min_p: must be in [0, 1], got -0.5"),
            ({"repetition_penalty": 0.0}, "options.sampling.repetition_penalty: must be in (0, 2], got 0"),
            ({"repetition_penalty": 2.5}, "options.sampling.repetition_penalty: must be in (0, 2], got 2.5"),
            ({"presence_penalty": -3.0}, "options.sampling.presence_penalty: must be in [-2, 2], got -3"),
            ({"frequency_penalty": 2.5}, "options.sampling.frequency_penalty: must be in [-2, 2], got 2.5"),
        ]
        for fields, message in cases:
            with self.subTest(fields=fields):
                req = complete_request("Once upon a time", max_tokens=4)
                for k, v in fields.items():
                    setattr(req.options.sampling, k, v)
                self.assert_invalid(req, message)
        # top_k above the vocabulary: the generation service knows the vocabulary and names it.
        req = complete_request("Once upon a time", max_tokens=4)
        req.options.sampling.top_k = 513
        self.assert_invalid(req, "sampling.top_k: must be in [0, 512] (0 disables it), got 513")

    def test_bad_max_tokens_and_stops(self):
        self.assert_invalid(complete_request("x", max_tokens=0), "options.max_tokens: must be in [1, 4096], got 0")
        self.assert_invalid(complete_request("x", max_tokens=4097),
                            "options.max_tokens: must be in [1, 4096], got 4097")
        self.assert_invalid(complete_request("x", max_tokens=4, stop=[f"s{i}" for i in range(17)]),
                            "options.stop: at most 16 stop strings, got 17")
        self.assert_invalid(complete_request("x", max_tokens=4, stop=["ok", "y" * 257]),
                            "options.stop[1]: must be 1 to 256 bytes long, got 257")
        self.assert_invalid(complete_request("x", max_tokens=4, stop=[""]),
                            "options.stop[0]: must be 1 to 256 bytes long, got 0")
        req = complete_request("x", max_tokens=4)
        req.options.stop_token_ids.extend(range(65))
        self.assert_invalid(req, "options.stop_token_ids: at most 64 ids, got 65")
        req = complete_request("x", max_tokens=4)
        req.options.logprobs.enabled = True
        req.options.logprobs.top_n = 21
        self.assert_invalid(req, "options.logprobs.top_n: must be in [0, 20], got 21")

    def test_prompt_over_the_context(self):
        # Every word below is one token in this vocabulary: BOS + 600 tokens.
        long_prompt = " ".join(["the"] * 600)
        details = self.assert_invalid(complete_request(long_prompt), "prompt: 601 tokens")
        self.assertIn("context length of 512", details)
        details = self.assert_invalid(complete_request(" ".join(["the"] * 99), max_tokens=500),
                                      "options.max_tokens: the prompt's 100 tokens + max_tokens 500")
        self.assertIn("context length of 512", details)

    def test_request_over_the_grpc_size_limit(self):
        details = self.assert_invalid(complete_request("a" * (17 << 20), max_tokens=4), "",
                                      code=grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertIn("larger than max", details)

    def test_no_messages(self):
        self.assert_invalid(gateway_pb2.ChatRequest(), "messages: at least one message is required", method="Chat")
        self.assert_invalid(gateway_pb2.ChatRequest(), "messages: at least one message is required",
                            method="ChatUnary")

    def test_invalid_utf8_prompt(self):
        # grpcio will not put invalid UTF-8 into a string field, so the request is written by hand:
        # CompleteRequest { prompt (1): "ok \xff" }.
        raw = self.stack.channel("gateway").unary_stream(
            "/awqserve.v1.TextGeneration/Complete", request_serializer=lambda b: b,
            response_deserializer=gateway_pb2.TextGenerationResponse.FromString)
        with self.assertRaises(grpc.RpcError) as e:
            list(raw(b"\x0a\x04ok \xff", timeout=30))
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT, e.exception.details())
        self.assertIn("prompt", e.exception.details())
        self.assertIn("UTF-8", e.exception.details())

    def test_generation_info_and_metrics(self):
        info = self.stack.generation_stub().Info(generation_pb2.GenerationInfoRequest(), timeout=10)
        self.assertEqual(info.model, "tiny-stories-awq")
        self.assertEqual(info.architecture, "MistralForCausalLM")
        self.assertEqual(info.context_length, CONTEXT)
        self.assertEqual(info.sliding_window, 0)
        self.assertEqual(info.vocab_size, 512)
        self.assertEqual(info.quantization, "awq-gemm-4bit-g64")
        self.assertEqual(info.backend, "cpu")
        self.assertEqual(list(info.eos_token_ids), [2, 1])
        self.assertEqual(info.kv_capacity_tokens, info.kv_block_count * info.kv_block_size)
        self.assertGreater(info.kv_block_count, 0)
        self.assertEqual(info.max_tokens_cap, 4096)
        before = self.gen_metrics()
        usages = []
        for case in REFERENCE["cases"][:3]:
            usages.append(list(self.gw.Complete(complete_request(case["prompt"], max_tokens=8), timeout=60))[-1].usage)
        g = self.assert_kv_free()
        # docs/metrics.md: after N finished requests the counters add up to their usage.
        delta = {name: metric(g, name) - metric(before, name)
                 for name in ("awqserve_prompt_tokens_total", "awqserve_generation_tokens_total")}
        self.assertEqual(delta["awqserve_prompt_tokens_total"], sum(u.prompt_tokens for u in usages))
        self.assertEqual(delta["awqserve_generation_tokens_total"], sum(u.completion_tokens for u in usages))
        self.assertEqual(self.finished(g, "length") - self.finished(before, "length"), 3)
        for name in ("awqserve_time_to_first_token_seconds_count", "awqserve_inter_token_latency_seconds_count",
                     "awqserve_e2e_request_latency_seconds_count", "awqserve_request_queue_time_seconds_count",
                     "awqserve_batch_size_count", "awqserve_engine_step_duration_seconds_count",
                     "awqserve_prompt_tokens_total", "awqserve_generation_tokens_total"):
            self.assertGreater(metric(g, name, model_name="tiny-stories-awq"), 0, name)
        gw = self.stack.metrics("gateway")
        self.assertGreater(metric(gw, "awqserve_gateway_time_to_first_token_seconds_count",
                                  model_name="tiny-stories-awq", grpc_method="Complete"), 0)
        self.assertGreater(metric(gw, "awqserve_gateway_inter_token_latency_seconds_count",
                                  model_name="tiny-stories-awq", grpc_method="Complete"), 0)


class QueueLimitTest(unittest.TestCase):
    """--max_running=1 --max_queued_requests=1: one request runs, one waits, the next is refused."""

    def queue_one_behind_one(self, s, long_request):
        """Starts a request and a second one behind it; returns both once the second is seen waiting, or None when the
        first finished before that (it is short for a fast machine: the tiny model on the CPU backend)."""
        def gauges():
            m = s.metrics("generation")
            return (metric(m, "awqserve_num_requests_running"), metric(m, "awqserve_num_requests_waiting"),
                    metric(m, "awqserve_request_success_total", finished_reason="length"))
        gw = s.gateway_stub()
        finished_before = gauges()[2]
        running = gw.Complete(long_request, timeout=60)
        next(running)
        waiting = gw.Complete(long_request, timeout=60)
        deadline = time.monotonic() + 15
        while gauges()[1] < 1:
            if gauges()[2] > finished_before:  # the first is done: the second runs instead of waiting
                running.cancel()
                waiting.cancel()
                while sum(gauges()[:2]) > 0:
                    self.assertLess(time.monotonic(), deadline, "cancelled requests still scheduled")
                    time.sleep(0.02)
                return None
            self.assertLess(time.monotonic(), deadline, "the second request was never seen queued or run")
            time.sleep(0.02)
        return running, waiting

    def test_too_many_queued_requests_is_resource_exhausted(self):
        with serving_stack.ServingStack(TINY, generation_args=["--max_running=1", "--max_queued_requests=1"]) as s:
            gw = s.gateway_stub()
            long_request = complete_request("Once upon a time", max_tokens=CONTEXT - 10, ignore_eos=True)
            for _ in range(5):
                pair = self.queue_one_behind_one(s, long_request)
                if pair:
                    break
            self.assertIsNotNone(pair, "in 5 tries the second request was never seen queued behind the first")
            running, waiting = pair
            with self.assertRaises(grpc.RpcError) as e:
                list(gw.Complete(complete_request("The little dog", max_tokens=4), timeout=30))
            self.assertEqual(e.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED, e.exception.details())
            self.assertIn("generation", e.exception.details())
            running.cancel()
            # The waiting request is admitted once the running one is gone, and completes.
            msgs = list(waiting)
            self.assertEqual(msgs[-1].usage.completion_tokens, CONTEXT - 10)
        self.assertEqual(s.exit_codes["gateway"], 0)


class DownstreamFailureTest(unittest.TestCase):
    """A service behind the gateway dies: calls that need it fail with UNAVAILABLE naming it; the others go on."""

    def test_failures_name_the_service_and_other_streams_go_on(self):
        with serving_stack.ServingStack(TINY) as s:
            gw = s.gateway_stub()
            case = REFERENCE["cases"][1]
            ongoing = gw.Complete(complete_request(case["prompt"], max_tokens=64), timeout=60)
            first = next(ongoing)

            s.servers["template"].process.kill()
            s.servers["template"].process.wait()
            chat = gateway_pb2.ChatRequest()
            chat.messages.add(role="user", content="Hello!")
            with self.assertRaises(grpc.RpcError) as e:
                list(gw.Chat(chat, timeout=30))
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
            self.assertIn("template service unavailable", e.exception.details())
            self.assertIn(s.address("template"), e.exception.details())
            # The stream that needs no template finished correctly meanwhile.
            self.assertEqual(first.text + "".join(m.text for m in ongoing), case["greedy_text"])

            # Generation dies in the middle of a stream.
            streaming = gw.Complete(complete_request(case["prompt"], max_tokens=CONTEXT - 10, ignore_eos=True),
                                    timeout=60)
            next(streaming)
            s.servers["generation"].process.kill()
            s.servers["generation"].process.wait()
            with self.assertRaises(grpc.RpcError) as e:
                list(streaming)
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE, e.exception.details())
            self.assertIn("generation service unavailable", e.exception.details())

            s.servers["tokenizer"].process.kill()
            s.servers["tokenizer"].process.wait()
            with self.assertRaises(grpc.RpcError) as e:
                list(gw.Complete(complete_request("x", max_tokens=4), timeout=30))
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
            self.assertIn("tokenizer service unavailable", e.exception.details())
            # The gateway itself is alive and answers.
            self.assertEqual(awq_harness.health_check(s.address("gateway"), ""), "SERVING")
        self.assertEqual(s.exit_codes["gateway"], 0)


if __name__ == "__main__":
    unittest.main()
