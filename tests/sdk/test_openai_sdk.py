"""The official openai Python SDK talks to the gateway like it talks to OpenAI."""

import unittest

import openai
from openai import OpenAI

from harness import start_stack


class OpenAISdkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock, cls.gw, base = start_stack(["--tokens", "6", "--token-interval-ms", "20"])
        cls.client = OpenAI(base_url=base, api_key="client-key", max_retries=0, timeout=20)

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()
        cls.mock.stop()

    def test_normal_call(self):
        r = self.client.chat.completions.create(
            model="mock-openai", messages=[{"role": "user", "content": "hi"}])
        self.assertEqual(r.choices[0].message.content, "t0 t1 t2 t3 t4 t5")
        self.assertEqual(r.choices[0].finish_reason, "stop")
        self.assertEqual(r.usage.completion_tokens, 6)

    def test_raw_response_headers(self):
        raw = self.client.chat.completions.with_raw_response.create(
            model="mock-openai", messages=[{"role": "user", "content": "hi"}])
        self.assertEqual(raw.headers["x-switchyard-model"], "mock-openai")
        self.assertEqual(raw.headers["x-switchyard-provider"], "mock-openai")
        self.assertEqual(raw.headers["x-switchyard-route"], "direct")
        self.assertTrue(raw.headers["x-switchyard-request-id"])

    def test_streaming_call(self):
        parts, usage = [], None
        stream = self.client.chat.completions.create(
            model="mock-openai", stream=True, stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "hi"}])
        for chunk in stream:
            if chunk.choices:
                parts.append(chunk.choices[0].delta.content or "")
            else:
                usage = chunk.usage
        self.assertEqual("".join(parts), "t0 t1 t2 t3 t4 t5")
        self.assertIsNotNone(usage)
        self.assertEqual(usage.completion_tokens, 6)

    def test_stream_helper(self):
        with self.client.chat.completions.stream(
                model="mock-openai", messages=[{"role": "user", "content": "hi"}]) as s:
            final = s.get_final_completion()
        self.assertEqual(final.choices[0].message.content, "t0 t1 t2 t3 t4 t5")

    def test_route_picks_a_model(self):
        raw = self.client.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": "fix this:\n```\nfn main() {}\n```"}])
        self.assertEqual(raw.headers["x-switchyard-route"], "auto")
        self.assertEqual(raw.headers["x-switchyard-model"], "mock-anthropic")  # the `code` rule
        self.assertEqual(raw.parse().model, "claude-sonnet-4-5")
        r = self.client.chat.completions.create(
            model="auto", stream=True, messages=[{"role": "user", "content": "hello there"}])
        self.assertEqual("".join(c.choices[0].delta.content or "" for c in r if c.choices), "t0 t1 t2 t3 t4 t5")

    def test_cache_replays_a_stored_answer_as_a_stream_the_sdk_parses(self):
        q = [{"role": "user", "content": "what is the capital of France?"}]
        first = self.client.chat.completions.with_raw_response.create(model="auto", messages=q, max_tokens=20)
        self.assertEqual(first.headers["x-switchyard-cache"], "miss")
        text = first.parse().choices[0].message.content
        raw = self.client.chat.completions.with_raw_response.create(
            model="auto", messages=q, max_tokens=20, stream=True, stream_options={"include_usage": True})
        self.assertEqual(raw.headers["x-switchyard-cache"], "hit")
        parts, usage = [], None
        for chunk in raw.parse():
            if chunk.choices:
                parts.append(chunk.choices[0].delta.content or "")
            else:
                usage = chunk.usage
        self.assertEqual("".join(parts), text)
        self.assertIsNotNone(usage)
        with self.client.chat.completions.stream(model="auto", messages=q, max_tokens=20) as s:
            self.assertEqual(s.get_final_completion().choices[0].message.content, text)

    def test_cascade_and_consensus_routes(self):
        raw = self.client.chat.completions.with_raw_response.create(
            model="cascade", messages=[{"role": "user", "content": "hi"}])
        self.assertEqual(raw.headers["x-switchyard-model"], "mock-gemini")  # the cheap tier passes its checks
        self.assertEqual(raw.parse().choices[0].message.content, "t0 t1 t2 t3 t4 t5")
        stream = self.client.chat.completions.create(
            model="consensus", stream=True, messages=[{"role": "user", "content": "hi"}])
        self.assertEqual("".join(c.choices[0].delta.content or "" for c in stream if c.choices), "t0 t1 t2 t3 t4 t5")
        raw = self.client.chat.completions.with_raw_response.create(
            model="consensus", messages=[{"role": "user", "content": "hi"}])
        self.assertEqual(sorted(raw.headers["x-switchyard-consensus"].split(",")),
                         ["mock-anthropic", "mock-gemini", "mock-openai"])

    def test_models_list(self):
        ids = [m.id for m in self.client.models.list()]
        self.assertIn("mock-openai", ids)
        self.assertIn("auto", ids)

    def test_models_retrieve(self):
        m = self.client.models.retrieve("mock-openai")
        self.assertEqual((m.id, m.owned_by), ("mock-openai", "mock-openai"))
        self.assertEqual(self.client.models.retrieve("auto").owned_by, "switchyard")
        with self.assertRaises(openai.NotFoundError) as cm:
            self.client.models.retrieve("nope")
        self.assertEqual(cm.exception.code, "model_not_found")

    def test_unknown_model_raises_not_found(self):
        with self.assertRaises(openai.NotFoundError) as cm:
            self.client.chat.completions.create(
                model="nope", messages=[{"role": "user", "content": "hi"}])
        self.assertEqual(cm.exception.status_code, 404)
        self.assertEqual(cm.exception.code, "model_not_found")

    def test_bad_request_raises(self):
        with self.assertRaises(openai.BadRequestError):
            self.client.chat.completions.create(model="mock-openai", messages="not-a-list")


class OpenAISdkUpstreamErrorTest(unittest.TestCase):
    def test_rate_limit_passes_through(self):
        mock, gw, base = start_stack(["--fail-status", "429", "--fail-rate", "1"])
        try:
            c = OpenAI(base_url=base, api_key="k", max_retries=0)
            with self.assertRaises(openai.RateLimitError) as cm:
                c.chat.completions.create(model="mock-openai", messages=[{"role": "user", "content": "x"}])
            self.assertEqual(cm.exception.response.headers.get("retry-after"), "1")
        finally:
            gw.stop()
            mock.stop()


if __name__ == "__main__":
    unittest.main()
