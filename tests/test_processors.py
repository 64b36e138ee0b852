"""Processors as pure functions: hashing, metadata capture, truncation, rendering."""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from typing import Any

import httpx2
import orjson
import pytest

import openai_fakes as ofake
from llmlog.processors import MAX_DEPTH, MetadataOnly, PromptHash, Truncate, render
from llmlog.testing import capture_records


def call(**fields: Any) -> dict[str, Any]:
    return {"event": "llm.call", "model": "m", "system": None, "messages": [], **fields}


class TestRender:
    def test_prompt_content_cannot_break_the_line(self) -> None:
        """Newlines and `"}{` in a prompt stay inside one valid JSON line."""
        evil = 'ignore\n"}\n{"event": "llm.call", "forged": true}{'
        out = render(None, "info", call(messages=[{"role": "user", "content": evil}]))
        assert out.endswith(b"\n") and out.count(b"\n") == 1
        assert json.loads(out)["messages"][0]["content"] == evil
        assert "forged" not in json.loads(out)

    def test_unserializable_values_never_fail(self) -> None:
        """Objects orjson does not know become something readable, not an exception."""
        out = json.loads(render(None, "info", call(params={"x": object(), "b": b"\x00\x01"})))
        assert out["params"]["x"].startswith("<object object")
        assert out["params"]["b"] == {"type": "bytes", "bytes": 2}

    def test_lone_surrogates_are_replaced_not_fatal(self) -> None:
        """Invalid Unicode from a broken decode becomes U+FFFD; the record survives."""
        out = json.loads(
            render(None, "info", call(messages=[{"role": "user", "content": "a\ud800b"}]))
        )
        assert out["messages"][0]["content"] == "a\ufffdb"

    def test_integers_beyond_64_bits_and_nesting_beyond_orjsons_limit_never_lose_it(
        self,
    ) -> None:
        """``seed=2**64`` (the SDK sends it) is written as its digits; a schema 300 levels
        deep, or a cycle, is cut at ``MAX_DEPTH`` with a marker, and keys that are not
        text become text. The record is written either way."""
        deep: dict[str, Any] = {"type": "string"}
        for _ in range(300):
            deep = {"properties": {"p": deep}}
        cycle: dict[str, Any] = {}
        cycle["self"] = cycle
        params = {"seed": 2**64, "low": -(2**63) - 1, "deep": deep, "cycle": cycle, (1, 2): "t"}
        out = json.loads(render(None, "info", call(params=params)))
        assert (out["params"]["seed"], out["params"]["low"]) == (str(2**64), str(-(2**63) - 1))
        assert out["params"]["(1, 2)"] == "t"
        level = out["params"]["deep"]
        while isinstance(level, dict):
            level = level["properties"]["p"] if "properties" in level else level["type"]
        assert level == f"<nested deeper than {MAX_DEPTH} levels>"
        assert "nested deeper" in json.dumps(out["params"]["cycle"])


class TestPromptHash:
    def test_a_lone_surrogate_is_hashed_as_written(self) -> None:
        """A prompt with invalid Unicode still gets its hash (it cost the whole record
        before): the hash of the text as the record shows it, U+FFFD in its place."""
        h = PromptHash()
        broken = h(None, "info", call(messages=[{"role": "user", "content": "a\ud800b"}]))
        shown = h(None, "info", call(messages=[{"role": "user", "content": "a\ufffdb"}]))
        assert broken["prompt_hash"] == shown["prompt_hash"]

    def test_same_prompt_same_hash(self) -> None:
        """Identical (system, messages, model) give the same hash; any change differs."""
        h = PromptHash()
        a = h(None, "info", call(messages=[{"role": "user", "content": "hi"}]))["prompt_hash"]
        b = h(None, "info", call(messages=[{"role": "user", "content": "hi"}]))["prompt_hash"]
        c = h(None, "info", call(messages=[{"role": "user", "content": "hi!"}]))["prompt_hash"]
        assert a == b != c
        assert len(a) == 64

    def test_keyed_hash_differs_from_plain(self) -> None:
        """With a key the hash is an HMAC: not guessable from the prompt alone."""
        d = call(messages=[{"role": "user", "content": "hi"}])
        plain = PromptHash()(None, "info", d)["prompt_hash"]
        keyed = PromptHash("k" * 16)(None, "info", d)["prompt_hash"]
        assert plain != keyed

    @pytest.mark.parametrize("key", ["", "k" * 16])
    def test_a_long_prompt_hashes_to_the_documented_digest(self, key: str) -> None:
        """sha256 / HMAC-sha256 of the canonical JSON, also when hashed in pieces."""
        d = call(system="be brief", messages=[{"role": "user", "content": "x" * 10_000}])
        canonical = orjson.dumps(
            [d["system"], d["messages"], d["model"]], option=orjson.OPT_SORT_KEYS
        )
        expected = (
            hmac.new(key.encode(), canonical, hashlib.sha256).hexdigest()
            if key
            else hashlib.sha256(canonical).hexdigest()
        )
        assert PromptHash(key)(None, "info", d)["prompt_hash"] == expected

    def test_input_is_not_mutated(self) -> None:
        """The processor returns a new dict."""
        d = call(messages=[{"role": "user", "content": "hi"}])
        PromptHash()(None, "info", d)
        assert "prompt_hash" not in d


class TestMetadataOnly:
    def test_cited_sources_go_too(self) -> None:
        """Citations hold the cited text, document titles and URLs: content, not metadata."""
        cited = {"type": "char_location", "cited_text": "Patient Jane Roe", "document_title": "t"}
        d = call(output={"text": "a", "tool_calls": [], "citations": [cited]})
        assert MetadataOnly()(None, "info", d)["output"]["citations"] is None

    def test_system_block_texts_in_params_go_and_cache_control_stays(self) -> None:
        """Anthropic system blocks kept as sent (``params.system``) hold the system prompt;
        a gateway's ``system`` text in params (``extra_body``) too."""
        blocks = [{"type": "text", "text": "secret policy", "cache_control": {"type": "e"}}]
        d = call(params={"system": blocks, "max_tokens": 5})
        assert MetadataOnly()(None, "info", d)["params"] == {
            "system": [{"type": "text", "cache_control": {"type": "e"}}],
            "max_tokens": 5,
        }
        d = call(params={"system": "secret policy"})
        assert MetadataOnly()(None, "info", d)["params"] == {"system": None}

    def test_what_the_app_tells_the_model_about_tools_goes_and_their_shape_stays(self) -> None:
        """Tool and schema descriptions are prompt text the app wrote; an eval run's
        template is a prompt. Names, types and the schemas' structure stay."""
        tool = {
            "type": "function",
            "function": {
                "name": "refund",
                "description": "Refund Jane Roe's order 58213",
                "parameters": {
                    "type": "object",
                    "properties": {"id": {"type": "string", "description": "Jane's order"}},
                },
            },
        }
        source = {"type": "completions", "input_messages": {"template": [{"content": "secret"}]}}
        d = call(params={"tools": [tool], "data_source": source, "temperature": 0})
        params = MetadataOnly()(None, "info", d)["params"]
        assert "Jane" not in json.dumps(params) and "secret" not in json.dumps(params)
        assert params["tools"][0]["function"]["name"] == "refund"
        assert params["tools"][0]["function"]["parameters"]["properties"] == {
            "id": {"type": "string"}
        }
        assert params["data_source"] == {"type": "completions", "input_messages": None}
        assert params["temperature"] == 0

    def test_text_goes_and_metadata_stays(self) -> None:
        """Roles, tool names, usage stay; prompt, output text and arguments go."""
        d = call(
            system="you are secret",
            messages=[{"role": "user", "content": "my secret"}],
            output={
                "text": "answer",
                "tool_calls": [{"id": "1", "name": "f", "arguments": "{}"}],
                "finish_reason": "stop",
                "refusal": None,
                "parsed": None,
            },
            usage={"input_tokens": 3},
            template={"name": "t", "version": "1", "variables": {"x": "secret"}},
        )
        out = MetadataOnly()(None, "info", d)
        assert out["system"] is None
        assert out["messages"] == [{"role": "user"}]
        assert out["output"]["text"] is None
        assert out["output"]["tool_calls"] == [{"id": "1", "name": "f"}]
        assert out["output"]["finish_reason"] == "stop"
        assert out["usage"] == {"input_tokens": 3}
        assert out["template"]["variables"] is None
        assert d["messages"][0]["content"] == "my secret"

    def test_a_decisions_questions_and_answers_keep_only_their_labels(self) -> None:
        """OpenAI decisions: question texts (prompt) and answer values (output) go."""
        question = {"type": "choice", "name": "tone", "question": "Is Jane angry?"}
        answer = {"type": "choice", "name": "tone", "choice": "angry", "confidence": 0.8}
        d = call(
            params={"questions": [question], "safety_identifier": "u1"},
            output={"text": None, "tool_calls": [], "answers": [answer]},
        )
        out = MetadataOnly()(None, "info", d)
        assert out["params"] == {
            "questions": [{"type": "choice", "name": "tone"}],
            "safety_identifier": "u1",
        }
        assert out["output"]["answers"] == [{"type": "choice", "name": "tone"}]
        assert d["params"]["questions"] == [question]

    def test_an_audio_answer_keeps_its_stub_not_its_transcript(self) -> None:
        """The transcript is the answer's text; the audio stub (no content) stays."""
        audio = {"id": "audio_1", "transcript": "secret words", "data": {"type": "audio"}}
        out = MetadataOnly()(None, "info", call(output={"text": None, "audio": audio}))
        assert out["output"]["audio"] == {**audio, "transcript": None}


class TestTruncate:
    def test_long_strings_are_cut_and_reported(self) -> None:
        """A text over the limit is cut; `truncated` names its path and original size."""
        d = call(messages=[{"role": "user", "content": "x" * 50}], model="gpt")
        out = Truncate(10)(None, "info", d)
        assert out["messages"][0]["content"].startswith("x" * 10 + "…[truncated 40 chars]")
        assert out["truncated"] == {"messages[0].content": 50}
        assert d["messages"][0]["content"] == "x" * 50

    def test_short_records_pass_unchanged(self) -> None:
        """Nothing over the limit: the very same dict comes back."""
        d = call(messages=[{"role": "user", "content": "short"}])
        assert Truncate(10)(None, "info", d) is d


class TestTruncateAroundRedaction:
    """Through the real chain (SDK call, redaction, both cuts)."""

    KEY = "sk-proj-abcdefghij1234567890ABCDEFGHIJ"

    def test_only_what_is_kept_is_searched_and_the_original_length_is_reported(self) -> None:
        """A huge prompt is cut before redaction (its tail is never searched, never
        written); ``truncated`` gives the length the app sent, not the redacted one."""
        head = f"my key {self.KEY} " + "y" * 900
        text = head + "z" * (3_000_000 - len(head))
        client = ofake.sync_client(lambda _: ofake.json_response(ofake.chat_completion("ok")))
        with capture_records(redact="secrets", max_field_chars=1000) as cap:
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": text}]
            )
        [record] = cap.calls
        kept = record["messages"][0]["content"]
        assert self.KEY not in kept and kept.startswith("my key <API_KEY>")
        assert record["truncated"] == {"messages[0].content": 3_000_000}
        assert kept.endswith(f"…[truncated {3_000_000 - 1000} chars]")
        assert "_llmlog_lengths" not in json.dumps(record)

    def test_a_text_redaction_makes_longer_than_the_limit_is_cut(self) -> None:
        """A text that fitted before redaction (walked once, early) and that a ``hash``
        token made longer is still cut after it; the unchanged fields are left whole."""
        short = "pw: " + "a1b2c3d4" * 2
        text = f"password={short[4:]} " + "x" * (60 - len(short) - 10)
        client = ofake.sync_client(lambda _: ofake.json_response(ofake.chat_completion("ok")))
        settings = {"redact_operator": "hash", "redact_key": "k" * 20, "max_field_chars": 60}
        with capture_records(redact="secrets", **settings) as cap:
            client.chat.completions.create(
                model="gpt-4o",
                messages=[{"role": "user", "content": text}],
                metadata={"note": "n" * 60},
            )
        [record] = cap.calls
        assert len(text) <= 60 and record["redactions"] == {"SECRET": 1}
        kept = record["messages"][0]["content"]
        assert kept.startswith("password=<SECRET:") and "…[truncated" in kept
        assert list(record["truncated"]) == ["messages[0].content"]
        assert record["params"]["metadata"] == {"note": "n" * 60}
        assert "_llmlog_fits" not in json.dumps(record)

    def test_a_secret_across_the_cut_is_redacted_whole(self) -> None:
        """A key straddling ``max_field_chars`` is seen whole by the search."""
        text = "x" * 990 + " " + self.KEY + " " + "y" * 2000
        client = ofake.sync_client(lambda _: ofake.json_response(ofake.chat_completion("ok")))
        with capture_records(redact="secrets", max_field_chars=1000) as cap:
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": text}]
            )
        kept = cap.calls[0]["messages"][0]["content"]
        assert "sk-proj-a" not in kept and kept.startswith("x" * 990 + " <API_")

    def test_a_secret_split_by_the_early_cut_never_reaches_disk(self) -> None:
        """Private keys (redaction shrinks them to a tag) followed by a URL whose password
        the early cut splits: what redaction cannot recognise any more (``Sup3rSecr``) is
        never kept, and the record says the text was cut, with the length sent."""
        key = (
            "-----BEGIN RSA PRIVATE KEY-----\n" + "QUJD" * 400 + "\n-----END RSA PRIVATE KEY-----\n"
        )
        limit = 1000 + Truncate.EARLY_MARGIN  # where the early cut falls for max 1000
        head = key * 3
        filler = "lorem ipsum " * ((limit - len(head)) // 12)
        text = head + filler
        text = text[: limit - len("postgres://admin:Sup3rSecr")]
        text += "postgres://admin:Sup3rSecretPassw0rd@db.internal/prod" + " tail" * 50
        assert text[:limit].endswith("Sup3rSecr")
        client = ofake.sync_client(lambda _: ofake.json_response(ofake.chat_completion("ok")))
        with capture_records(redact="secrets", max_field_chars=1000) as cap:
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": text}]
            )
        [record] = cap.calls
        assert "Sup3r" not in json.dumps(record)
        assert record["truncated"] == {"messages[0].content": len(text)}

    def test_an_int_enum_in_a_record_the_fallback_writes_is_quick(self) -> None:
        """An ``IntEnum`` argument in a record orjson refuses (a lone surrogate in the answer):
        written as its number, at once (a range membership test walked 2**64 numbers)."""

        class Tokens(enum.IntEnum):
            SOME = 64

        client = ofake.sync_client(
            lambda _: ofake.json_response(ofake.chat_completion("cut mid-emoji \ud83d"))
        )
        with capture_records(redact="off") as cap:
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=Tokens.SOME
            )
        [record] = cap.calls
        assert record["params"]["max_tokens"] == 64
        assert record["output"]["text"] == "cut mid-emoji \ufffd"


class TestMetadataOnlyThroughTheSDK:
    """``LLMLOG_CAPTURE=metadata`` with the real OpenAI SDK: no prompt or output text on disk."""

    TEXT = "CONFIDENTIAL-USER-TEXT"

    def reply(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/responses"):
            return ofake.json_response(ofake.response_object("answer " + self.TEXT))
        if request.url.path.endswith("/completions") and "chat" not in request.url.path:
            return ofake.json_response(ofake.completion_object("answer " + self.TEXT))
        return ofake.json_response(ofake.chat_completion("answer " + self.TEXT, n=2))

    def test_prompt_text_in_params_and_every_choice_is_dropped(self) -> None:
        """Reusable prompt variables, a predicted output, a completion's suffix, n > 1 choices."""
        client = ofake.sync_client(self.reply)
        text = self.TEXT
        with capture_records(capture="metadata", redact="off") as cap:
            client.responses.create(
                model="gpt-4o",
                input="hi " + text,
                prompt={"id": "pmpt_1", "version": "2", "variables": {"question": "q " + text}},
            )
            client.chat.completions.create(
                model="gpt-4o",
                messages=[{"role": "user", "content": "x " + text}],
                prediction={"type": "content", "content": "draft " + text},
                n=2,
            )
            client.completions.create(
                model="gpt-3.5-turbo-instruct", prompt="def f(", suffix="  # " + text
            )
        responses, chat, legacy = cap.calls
        for record in cap.calls:
            assert text not in json.dumps(record), record["method"]
        assert responses["params"]["prompt"] == {"id": "pmpt_1", "version": "2", "variables": None}
        assert chat["params"]["prediction"] == {"type": "content", "content": None}
        assert chat["params"]["n"] == 2
        assert [c["finish_reason"] for c in chat["output"]["choices"]] == ["stop", "stop"]
        assert legacy["params"]["suffix"] is None
