"""Both official SDKs against the gateway, each routed to each upstream dialect (OpenAI,
Anthropic, Gemini at the mock), plain and streaming, with text and with a tool call. The SDKs'
own parsers must accept every response and event."""

import json
import unittest

import anthropic
from openai import OpenAI

from harness import start_stack

UPSTREAMS = ["mock-openai", "mock-anthropic", "mock-gemini"]
TEXT = "t0 t1 t2 t3"

OPENAI_TOOL = {"type": "function", "function": {
    "name": "lookup", "description": "Look something up",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}}
ANTHROPIC_TOOL = {"name": "lookup", "description": "Look something up",
                  "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}


class Dialects(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock, cls.gw, base = start_stack(["--tokens", "4"])
        cls.oai = OpenAI(base_url=base, api_key="client-key", max_retries=0, timeout=20)
        cls.ant = anthropic.Anthropic(base_url=base[:-len("/v1")], api_key="client-key", max_retries=0, timeout=20)

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()
        cls.mock.stop()

    def test_openai_sdk_plain(self):
        for up in UPSTREAMS:
            with self.subTest(upstream=up):
                raw = self.oai.chat.completions.with_raw_response.create(
                    model=up, messages=[{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}])
                self.assertEqual(raw.headers["x-switchyard-model"], up)
                r = raw.parse()
                self.assertEqual(r.choices[0].message.content, TEXT)
                self.assertEqual(r.choices[0].finish_reason, "stop")
                self.assertEqual(r.usage.completion_tokens, 4)
                self.assertGreater(r.usage.prompt_tokens, 0)

    def test_openai_sdk_stream(self):
        for up in UPSTREAMS:
            with self.subTest(upstream=up):
                text, finish, usage = "", None, None
                for ch in self.oai.chat.completions.create(
                        model=up, stream=True, stream_options={"include_usage": True},
                        messages=[{"role": "user", "content": "hi"}]):
                    if ch.choices:
                        text += ch.choices[0].delta.content or ""
                        finish = ch.choices[0].finish_reason or finish
                    else:
                        usage = ch.usage
                self.assertEqual(text, TEXT)
                self.assertEqual(finish, "stop")
                self.assertEqual(usage.completion_tokens, 4)
                with self.oai.chat.completions.stream(model=up, messages=[{"role": "user", "content": "hi"}]) as s:
                    self.assertEqual(s.get_final_completion().choices[0].message.content, TEXT)

    def test_openai_sdk_tool_call(self):
        for up in UPSTREAMS:
            for stream in (False, True):
                with self.subTest(upstream=up, stream=stream):
                    args = dict(model=up, tools=[OPENAI_TOOL], messages=[{"role": "user", "content": "look up t0"}])
                    if stream:
                        with self.oai.chat.completions.stream(**args) as s:
                            final = s.get_final_completion()
                    else:
                        final = self.oai.chat.completions.create(**args)
                    self.assertEqual(final.choices[0].finish_reason, "tool_calls")
                    call = final.choices[0].message.tool_calls[0]
                    self.assertEqual(call.function.name, "lookup")
                    self.assertEqual(json.loads(call.function.arguments), {"query": "t0"})
                    self.assertTrue(call.id)
                    # The tool result goes back; the model then answers in text.
                    follow = self.oai.chat.completions.create(model=up, tools=[OPENAI_TOOL], messages=[
                        {"role": "user", "content": "look up t0"},
                        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
                        {"role": "tool", "tool_call_id": call.id, "content": "found it"}])
                    self.assertEqual(follow.choices[0].message.content, TEXT)

    def test_anthropic_sdk_plain(self):
        for up in UPSTREAMS:
            with self.subTest(upstream=up):
                raw = self.ant.messages.with_raw_response.create(
                    model=up, max_tokens=64, system="Be terse.", messages=[{"role": "user", "content": "hi"}])
                self.assertEqual(raw.headers["x-switchyard-model"], up)
                m = raw.parse()
                self.assertEqual(m.content[0].text, TEXT)
                self.assertEqual(m.stop_reason, "end_turn")
                self.assertEqual(m.usage.output_tokens, 4)

    def test_anthropic_sdk_stream(self):
        for up in UPSTREAMS:
            with self.subTest(upstream=up):
                with self.ant.messages.stream(model=up, max_tokens=64, messages=[{"role": "user", "content": "hi"}]) as s:
                    text = "".join(s.text_stream)
                    final = s.get_final_message()
                self.assertEqual(text, TEXT)
                self.assertEqual(final.stop_reason, "end_turn")
                self.assertEqual(final.usage.output_tokens, 4)

    def test_anthropic_sdk_tool_call(self):
        for up in UPSTREAMS:
            for stream in (False, True):
                with self.subTest(upstream=up, stream=stream):
                    args = dict(model=up, max_tokens=64, tools=[ANTHROPIC_TOOL],
                                messages=[{"role": "user", "content": "look up t0"}])
                    if stream:
                        with self.ant.messages.stream(**args) as s:
                            m = s.get_final_message()
                    else:
                        m = self.ant.messages.create(**args)
                    self.assertEqual(m.stop_reason, "tool_use")
                    use = [b for b in m.content if b.type == "tool_use"][0]
                    self.assertEqual(use.name, "lookup")
                    self.assertEqual(use.input, {"query": "t0"})
                    follow = self.ant.messages.create(model=up, max_tokens=64, tools=[ANTHROPIC_TOOL], messages=[
                        {"role": "user", "content": "look up t0"},
                        {"role": "assistant", "content": [use.model_dump()]},
                        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "found it"}]}])
                    self.assertEqual(follow.content[0].text, TEXT)

    def test_anthropic_sdk_errors(self):
        with self.assertRaises(anthropic.NotFoundError):
            self.ant.messages.create(model="nope", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
        with self.assertRaises(anthropic.BadRequestError):
            self.ant.messages.create(model="mock-openai", max_tokens=8, messages="not a list")

    def test_anthropic_sdk_models(self):
        page = self.ant.models.list()
        ids = [m.id for m in page.data]
        self.assertIn("mock-openai", ids)
        self.assertFalse(page.has_more)
        m = self.ant.models.retrieve("mock-openai")
        self.assertEqual((m.id, m.type), ("mock-openai", "model"))
        with self.assertRaises(anthropic.NotFoundError) as cm:
            self.ant.models.retrieve("nope")
        self.assertEqual(cm.exception.body["error"]["type"], "not_found_error")


class UpstreamErrors(unittest.TestCase):
    def test_overloaded_maps_per_client_dialect(self):
        mock, gw, base = start_stack(["--fail-status", "529", "--fail-rate", "1"])
        try:
            ant = anthropic.Anthropic(base_url=base[:-3], api_key="k", max_retries=0)
            oai = OpenAI(base_url=base, api_key="k", max_retries=0)
            # Every provider answers 529 (overloaded): an Anthropic client sees 529 overloaded_error ...
            with self.assertRaises(anthropic.APIStatusError) as cm:
                ant.messages.create(model="mock-anthropic", max_tokens=8, messages=[{"role": "user", "content": "x"}])
            self.assertEqual(cm.exception.status_code, 529)
            # ... and an OpenAI client as 503.
            with self.assertRaises(Exception) as cm:
                oai.chat.completions.create(model="mock-anthropic", messages=[{"role": "user", "content": "x"}])
            self.assertEqual(cm.exception.status_code, 503)
        finally:
            gw.stop()
            mock.stop()

    def test_rate_limit_with_retry_after_in_anthropic_shape(self):
        mock, gw, base = start_stack(["--fail-status", "429", "--fail-rate", "1"])
        try:
            ant = anthropic.Anthropic(base_url=base[:-3], api_key="k", max_retries=0)
            with self.assertRaises(anthropic.RateLimitError) as cm:
                ant.messages.create(model="mock-gemini", max_tokens=8, messages=[{"role": "user", "content": "x"}])
            self.assertEqual(cm.exception.response.headers.get("retry-after"), "1")
        finally:
            gw.stop()
            mock.stop()


if __name__ == "__main__":
    unittest.main()
