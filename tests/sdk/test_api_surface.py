"""What SDKs and agents call beyond chat completions, against every upstream dialect at the
mock: the Responses API (`client.responses.create`, plain, streamed, with a function tool and
a follow-up through `previous_response_id`), the OpenAI Agents SDK with its default model,
embeddings, Anthropic's `count_tokens` and a mid-conversation system turn, and a body over
the size limit answered 413 without a retry storm."""

import asyncio
import base64
import os
import struct
import unittest

import anthropic
import httpx2 as httpx
import openai
from openai import AsyncOpenAI, OpenAI

from harness import start_stack

UPSTREAMS = ["mock-openai", "mock-anthropic", "mock-gemini", "mock-responses"]
TEXT = "t0 t1 t2 t3"
TOOL = {"type": "function", "name": "lookup", "description": "Look something up",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}


class ApiSurface(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock, cls.gw, cls.base = start_stack(["--tokens", "4"])
        cls.oai = OpenAI(base_url=cls.base, api_key="client-key", max_retries=0, timeout=20)
        cls.ant = anthropic.Anthropic(base_url=cls.base[:-len("/v1")], api_key="client-key", max_retries=0, timeout=20)

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()
        cls.mock.stop()

    def test_responses_create_plain(self):
        for up in UPSTREAMS:
            with self.subTest(upstream=up):
                r = self.oai.responses.create(model=up, instructions="Be terse.", input="hi")
                self.assertEqual(r.output_text, TEXT)
                self.assertEqual(r.status, "completed")
                self.assertGreater(r.usage.output_tokens, 0)

    def test_responses_create_streamed(self):
        for up in UPSTREAMS:
            with self.subTest(upstream=up):
                # The SDK's stream helper accumulates the events and checks their order.
                with self.oai.responses.stream(model=up, input="hi") as stream:
                    deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
                    final = stream.get_final_response()
                self.assertEqual("".join(deltas), TEXT)
                self.assertEqual(final.output_text, TEXT)
                self.assertEqual(final.usage.output_tokens, 4)

    def test_responses_function_tool_and_follow_up(self):
        for up in UPSTREAMS:
            with self.subTest(upstream=up):
                first = self.oai.responses.create(model=up, input="look up t0", tools=[TOOL])
                calls = [o for o in first.output if o.type == "function_call"]
                self.assertEqual(len(calls), 1, first.output)
                self.assertEqual(calls[0].name, "lookup")
                self.assertEqual(calls[0].arguments, '{"query":"t0"}')
                follow = self.oai.responses.create(
                    model=up, previous_response_id=first.id, tools=[TOOL],
                    input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "found it"}])
                self.assertEqual(follow.output_text, TEXT)

    def test_agents_sdk_default_model(self):
        from agents import Agent, Runner, function_tool, set_default_openai_client, set_tracing_disabled

        set_tracing_disabled(True)
        set_default_openai_client(AsyncOpenAI(base_url=self.base, api_key="client-key", max_retries=0))
        os.environ["OPENAI_DEFAULT_MODEL"] = "auto"
        looked_up = []

        @function_tool
        def lookup(query: str) -> str:
            """Look something up."""
            looked_up.append(query)
            return "found it"

        # No model named: the SDK's default, its Responses model, asks for OPENAI_DEFAULT_MODEL.
        agent = Agent(name="helper", instructions="Answer briefly.", tools=[lookup])
        result = asyncio.run(Runner.run(agent, "look up t0"))
        self.assertEqual(looked_up, ["t0"])
        self.assertEqual(result.final_output, TEXT)

    def test_embeddings_create(self):
        got = {}
        for model in ["mock-embed", "mock-gemini-embed"]:
            with self.subTest(model=model):
                r = self.oai.embeddings.create(model=model, input=["a cat", "a dog"])
                self.assertEqual([d.index for d in r.data], [0, 1])
                self.assertGreater(r.usage.prompt_tokens, 0)
                got[model] = [d.embedding for d in r.data]
        # The same text gets the same vector, in order (to f32 precision: the SDK asks for
        # base64, which carries f32s).
        for a, b in zip(got["mock-embed"], got["mock-gemini-embed"], strict=True):
            for x, y in zip(a, b, strict=True):
                self.assertAlmostEqual(x, y, places=6)
        # Asked for explicitly, base64 reaches the caller as it is: little-endian f32s.
        r = self.oai.embeddings.create(model="mock-gemini-embed", input="a cat", encoding_format="base64")
        floats = struct.unpack("<8f", base64.b64decode(r.data[0].embedding))
        for x, y in zip(floats, got["mock-gemini-embed"][0], strict=True):
            self.assertAlmostEqual(x, y, places=6)

    def test_anthropic_count_tokens(self):
        n = self.ant.messages.count_tokens(model="mock-anthropic", messages=[{"role": "user", "content": "hello there"}])
        self.assertGreater(n.input_tokens, 0)
        raw = self.ant.messages.with_raw_response.count_tokens(
            model="mock-openai", system="Be terse.", messages=[{"role": "user", "content": "hello there"}])
        self.assertEqual(raw.headers["x-switchyard-token-count"], "estimate")
        self.assertGreater(raw.parse().input_tokens, 0)

    def test_anthropic_mid_conversation_system_turn(self):
        for up in ["mock-openai", "mock-anthropic", "mock-gemini", "auto"]:
            with self.subTest(upstream=up):
                m = self.ant.messages.create(
                    model=up, max_tokens=64,
                    messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                              {"role": "system", "content": "From now on, be terse."},
                              {"role": "user", "content": "again"}],
                    extra_headers={"anthropic-beta": "mid-conversation-system-2026-04-07"})
                self.assertEqual(m.content[0].text, TEXT)

    def test_body_over_the_limit_is_a_413_without_retries(self):
        sent = []
        http = httpx.Client(event_hooks={"request": [lambda r: sent.append(r.url.path)]}, timeout=60)
        # The SDK's default retries: it retries resets and 5xx, not a 413 it could read.
        client = OpenAI(base_url=self.base, api_key="client-key", http_client=http)
        big = "x" * (33 * 1024 * 1024)
        with self.assertRaises(openai.APIStatusError) as e:
            client.chat.completions.create(model="mock-openai", messages=[{"role": "user", "content": big}])
        self.assertEqual(e.exception.status_code, 413)
        self.assertEqual(sent, ["/v1/chat/completions"], "one upload, no retry storm")


if __name__ == "__main__":
    unittest.main()
