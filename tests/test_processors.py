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

import anthropic_fakes as afake
import llmlog
import openai_fakes as ofake
from llmlog.processors import MAX_DEPTH, MetadataOnly, PromptHash, Truncate, render
from llmlog.testing import capture_records

CYCLE = "<cycle>"  # what a back-reference is written as


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
        deep is cut at ``MAX_DEPTH`` with a marker, a cycle where it closes, and keys that
        are not text become text. The record is written either way."""
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
        assert out["params"]["cycle"] == {"self": CYCLE}


class TestCycles:
    """A cyclic argument never stops the writer (it did, and every later record was lost)."""

    @pytest.mark.timeout(60)
    def test_two_back_references_a_level_are_closed_at_once(self) -> None:
        """Two messages that each link to their conversation: the SDK refuses them at once,
        the record says so with each back-reference written as ``<cycle>`` (the walk of the
        tree the cycle unfolds into took 2**200 steps), and the next call is recorded."""
        conversation: list[Any] = []
        conversation.append({"role": "user", "content": "hi", "conversation": conversation})
        conversation.append({"role": "user", "content": "again", "conversation": conversation})
        client = ofake.sync_client(lambda _: ofake.json_response(ofake.chat_completion("ok")))
        later = [{"role": "user", "content": "a later call"}]
        with capture_records(redact="secrets") as cap:
            with pytest.raises(ValueError, match="Circular reference"):
                client.chat.completions.create(model="gpt-4o", messages=conversation)
            client.chat.completions.create(model="gpt-4o", messages=later)
        failed, ok = cap.calls
        assert failed["status"] == "error"
        assert [m["conversation"] for m in failed["messages"]] == [CYCLE, CYCLE]
        assert ok["messages"] == later

    @pytest.mark.timeout(60)
    @pytest.mark.parametrize("max_field_chars", [None, 0], ids=["truncated", "never-truncated"])
    def test_a_cycle_in_the_context_is_closed_too(self, max_field_chars: int | None) -> None:
        """Tags and template variables reach the record as the app gave them (no SDK looks
        at them): a cycle there kept the truncation's walk going for ever, and with no
        truncation (``max_field_chars=0``) redaction's walk hit the recursion limit and the
        record was lost."""
        limit = {} if max_field_chars is None else {"max_field_chars": max_field_chars}
        node: dict[str, Any] = {"name": "n"}
        node["up"] = node
        node["again"] = node
        client = ofake.sync_client(lambda _: ofake.json_response(ofake.chat_completion("ok")))
        template = {"name": "t", "variables": {"node": node}}
        with (
            capture_records(redact="secrets", **limit) as cap,
            llmlog.context(tags={"node": node}, template=template),
        ):
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
            )
        [record] = cap.calls
        closed = {"name": "n", "up": CYCLE, "again": CYCLE}
        assert record["tags"] == {"node": closed}
        assert record["template"]["variables"] == {"node": closed}


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
        """Citations hold the cited text, document titles and URLs: content, not metadata.
        Their types stay, as a tool call's do: the record says the answer cited sources
        (and stays an array, as the schema says)."""
        cited = {"type": "char_location", "cited_text": "Patient Jane Roe", "document_title": "t"}
        d = call(output={"text": "a", "tool_calls": [], "citations": [cited]})
        assert MetadataOnly()(None, "info", d)["output"]["citations"] == [{"type": "char_location"}]

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

    def test_examples_of_tools_and_formats_go_like_their_descriptions(self) -> None:
        """Anthropic's ``input_examples`` and JSON Schema's ``examples`` are sample prompts
        the app wrote; the schema's shape stays."""
        schema = {"type": "object", "properties": {"q": {"type": "string", "examples": ["Jane"]}}}
        tool = {"name": "lookup", "input_schema": schema, "input_examples": [{"q": "Jane Roe"}]}
        fmt = {"type": "json_schema", "json_schema": {"name": "f", "schema": schema}}
        d = call(params={"tools": [tool], "response_format": fmt})
        params = MetadataOnly()(None, "info", d)["params"]
        assert "Jane" not in json.dumps(params)
        shape = {"type": "object", "properties": {"q": {"type": "string"}}}
        assert params["tools"] == [{"name": "lookup", "input_schema": shape}]
        assert params["response_format"]["json_schema"] == {"name": "f", "schema": shape}

    def test_a_field_named_description_is_no_description(self) -> None:
        """``properties`` (``$defs``...) is keyed by field names: a field called
        ``description`` (or ``examples``) stays, with its type; its own description goes."""
        field = {"type": "string", "description": "what went wrong"}
        schema = {
            "type": "object",
            "properties": {"description": field, "examples": {"type": "array"}},
            "$defs": {"description": {"type": "string"}},
            "required": ["description"],
        }
        d = call(params={"tools": [{"type": "function", "function": {"parameters": schema}}]})
        params = MetadataOnly()(None, "info", d)["params"]
        assert params["tools"][0]["function"]["parameters"] == {
            "type": "object",
            "properties": {"description": {"type": "string"}, "examples": {"type": "array"}},
            "$defs": {"description": {"type": "string"}},
            "required": ["description"],
        }

    def test_model_output_an_error_message_quotes_goes(self) -> None:
        """Anthropic's stream helper quotes the tool input it could not parse (the model's
        output) after ``JSON:``; what went wrong stays."""
        message = (
            "Unable to parse tool parameter JSON from model. Please retry your request or "
            'adjust your prompt. Error: EOF at line 1 column 20. JSON: {"note": "Jane Roe'
        )
        error = {"type": "ValueError", "message": message, "status_code": None, "body": None}
        out = MetadataOnly()(None, "info", call(error=error))
        assert out["error"]["message"] == (
            message.partition(" JSON: ")[0] + " JSON: <model output not logged>"
        )
        assert error["message"] == message


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
        assert "_llmlog_early" not in json.dumps(record)

    def test_a_text_that_fitted_is_not_cut_for_the_token_redaction_put_in(self) -> None:
        """A text that fitted before redaction and that a ``hash`` token made longer than
        the limit is left whole: the limit is on what the app sent."""
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
        assert kept.startswith("password=<SECRET:") and kept.endswith(" " + "x" * 30)
        assert len(kept) > 60 and record["truncated"] is None
        assert record["params"]["metadata"] == {"note": "n" * 60}
        assert "_llmlog_early" not in json.dumps(record)

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

    def test_a_text_cut_early_under_a_key_redaction_renames_keeps_its_guard(self) -> None:
        """``metadata={"owner bob@example.com": text}``: the early cut splits a token, and
        redaction shrinks the private keys before it and renames the key. The text is still
        cut before its end (the token's head never reaches disk), and says so, with the
        length sent, under the key as written."""
        key = (
            "-----BEGIN RSA PRIVATE KEY-----\n" + "QUJD" * 400 + "\n-----END RSA PRIVATE KEY-----\n"
        )
        token = "ghp_" + "A1b2C3d4E5" * 3 + "F6g7H8"
        limit = 1000 + Truncate.EARLY_MARGIN  # where the early cut falls for max 1000
        text = key * 3
        text += "lorem ipsum " * ((limit - 30 - len(text)) // 12)
        text = text.ljust(limit - 30) + token + " " + "y" * 20_000
        assert text[:limit].endswith(token[:30])
        client = ofake.sync_client(lambda _: ofake.json_response(ofake.chat_completion("ok")))
        with capture_records(redact="pii", max_field_chars=1000) as cap:
            client.chat.completions.create(
                model="gpt-4o",
                messages=[{"role": "user", "content": "hi"}],
                metadata={"owner bob@example.com": text},
            )
        [record] = cap.calls
        assert token[:12] not in json.dumps(record)
        path = "params.metadata.owner <EMAIL_ADDRESS>"
        assert record["truncated"] == {path: len(text)}
        kept = record["params"]["metadata"]["owner <EMAIL_ADDRESS>"]
        assert kept.endswith(f"…[truncated {len(text)} chars]")

    def test_truncated_gives_the_length_sent_and_a_cut_never_splits_a_tag(self) -> None:
        """A key that redaction shortens to ``<API_KEY>`` right where the limit falls: the
        text is cut before the tag, not inside it, and ``truncated`` has the length the app
        sent, not the redacted one."""
        text = "Please use this: " + "x" * 30 + " api key " + self.KEY + " thanks " + "y" * 70
        client = ofake.sync_client(lambda _: ofake.json_response(ofake.chat_completion("ok")))
        with capture_records(redact="secrets", max_field_chars=60) as cap:
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": text}]
            )
        [record] = cap.calls
        kept = record["messages"][0]["content"]
        head = "Please use this: " + "x" * 30 + " api key "
        assert kept == head + f"…[truncated {len(text) - len(head)} chars]"
        assert record["truncated"] == {"messages[0].content": len(text)}

    def test_a_text_that_fitted_is_not_cut_for_the_tags_redaction_put_in(self) -> None:
        """Eight short addresses (55 characters, the limit 60): the tags make it 127, and it
        stays whole: what the app sent fitted."""
        text = " ".join(["a@b.io"] * 8)
        client = ofake.sync_client(lambda _: ofake.json_response(ofake.chat_completion("ok")))
        with capture_records(redact="pii", max_field_chars=60) as cap:
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": text}]
            )
        [record] = cap.calls
        assert record["messages"][0]["content"] == " ".join(["<EMAIL_ADDRESS>"] * 8)
        assert record["truncated"] is None

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

    def test_a_tool_input_the_stream_helper_cannot_parse_is_not_in_the_error(self) -> None:
        """The helper's ValueError quotes the model's broken tool input: not on disk."""
        events = afake.stream_events(["ok"], tool_json=['{"note": "Jane Roe", 12'])
        client = afake.sync_client(afake.sse_handler(events))
        with (
            capture_records(capture="metadata", redact="off") as cap,
            pytest.raises(ValueError, match="Jane Roe"),
            client.messages.stream(
                model="claude-haiku-4-5", max_tokens=10, messages=afake.user()
            ) as stream,
        ):
            stream.get_final_message()
        [record] = cap.calls
        assert "Jane" not in json.dumps(record)
        assert record["error"]["message"].startswith("Unable to parse tool parameter JSON")

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
