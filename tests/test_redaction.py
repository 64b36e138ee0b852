"""The redaction processor: what it removes, what it leaves, and how it fails."""

from __future__ import annotations

import copy
import gc
import json
import math
import tracemalloc
from typing import Any

import httpx2
import numpy
import openai
import pytest

import openai_fakes as ofake
from data.redaction_corpus import LOOK_ALIKES, PII, SECRETS
from llmlog import _guard
from llmlog._config import Settings
from llmlog._redact_memo import ENTRY_COST, LONGEST_REMEMBERED, SPAN_COST, SpanMemo
from llmlog.redaction import FAILED_MARKER, Redact, add_recognizer, remove_recognizer, validate

KEY = "0123456789abcdef-test-key"


def redact(text: str, **settings: Any) -> str:
    """Redact one user message with the given settings; return its new content."""
    record = {"messages": [{"role": "user", "content": text}]}
    out = Redact(Settings(**settings))(None, "info", record)
    content: str = out["messages"][0]["content"]
    return content


def full_record() -> dict[str, Any]:
    """A record with planted values in every free-text field and in fields never to touch."""
    email = "jane.doe@example.com"
    return {
        "event": "llm.call",
        "id": "01JD0000000000000000000000",
        "ts": "2026-11-22T20:51:55.123456Z",
        "request_id": "req_" + email,  # not free text: must stay even when it looks like PII
        "response_id": "chatcmpl-AbC123",
        "model": "gpt-4o-2024-08-06",
        "system": f"You help {email}.",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": f"I am {email}"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": f'{{"email": "{email}"}}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": f"found {email}"},
        ],
        "output": {
            "text": f"Hello {email}",
            "tool_calls": [{"id": "call_2", "arguments": {"to": email}}],
            "finish_reason": "stop",
            "refusal": None,
            "parsed": {"contact": email, "age": 42},
            "thinking": f"user is {email}",
        },
        "error": {
            "type": "APIError",
            "message": f"bad {email}",
            "status_code": 400,
            "body": {"m": email},
        },
        "template": {"name": "greet", "version": "3", "variables": {"who": email}},
        "params": {"temperature": 0.2, "user": email, "metadata": {"id": email}, "stop": ("END",)},
        "tags": [email, "prod"],
        "usage": {"input_tokens": 12, "output_tokens": 5, "raw": {"note": email}},
        "latency_ms": 123.4,
    }


class TestFields:
    def test_every_free_text_field_is_redacted(self) -> None:
        """Each field named in TEXT_FIELDS, at any depth and in every part, loses the value."""
        out = Redact(Settings(redact="pii"))(None, "info", full_record())
        for name in ("system", "messages", "output", "error", "template", "params", "tags"):
            assert "jane.doe@example.com" not in repr(out[name]), name
        assert out["messages"][1]["tool_calls"][0]["function"]["arguments"] == (
            '{"email": "<EMAIL_ADDRESS>"}'
        )
        assert out["params"]["metadata"] == {"id": "<EMAIL_ADDRESS>"}
        assert out["redactions"] == {"EMAIL_ADDRESS": 14}

    def test_ids_models_timestamps_and_numbers_are_left_alone(self) -> None:
        """Fields the record defines keep their exact values, even when they look like PII."""
        before = full_record()
        out = Redact(Settings(redact="pii"))(None, "info", full_record())
        for name in ("id", "ts", "request_id", "response_id", "model", "usage", "latency_ms"):
            assert out[name] == before[name], name
        assert out["messages"][1]["tool_calls"][0]["id"] == "call_1"
        assert out["messages"][2]["tool_call_id"] == "call_1"
        assert out["output"]["parsed"]["age"] == 42
        assert out["params"]["temperature"] == 0.2
        assert out["params"]["stop"] == ("END",)
        assert out["error"]["status_code"] == 400

    def test_pii_sent_as_json_numbers_is_found(self) -> None:
        """A tool input or metadata holding a phone or card as a number (a model's
        ``{"phone": 4155550132}`` sent back in the next turn) is searched as its digits;
        other numbers stay numbers."""
        record = {
            "messages": [
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "tool_use",
                            "id": "toolu_1",
                            "name": "pay",
                            "input": {"card": 5425233430109903, "phone": 4155550132, "n": 3},
                        }
                    ],
                }
            ],
            "params": {"metadata": {"caller": 4155550132, "year": 2026, "big": 10**12}},
        }
        out = Redact(Settings(redact="pii"))(None, "info", record)
        tool_input = out["messages"][0]["content"][0]["input"]
        assert tool_input == {"card": "<CREDIT_CARD>", "phone": "<PHONE_NUMBER>", "n": 3}
        assert out["params"]["metadata"] == {
            "caller": "<PHONE_NUMBER>",
            "year": 2026,
            "big": 10**12,
        }

    def test_pii_sent_as_whole_floats_is_found(self) -> None:
        """A phone or card in a float column (pandas' float64: ``4155550132.0``) is searched
        as its digits and replaced as an int would be; other floats stay as they are."""
        record = {
            "template": {
                "name": "t",
                "variables": {"phone": 4155550132.0, "card": numpy.float64(4111111111111111)},
            },
            "params": {
                "temperature": 0.2,
                "metadata": {
                    "calls": [4155550132.0, 3.0],
                    "big": 1e12,
                    "ratio": 4155550132.5,
                    "nan": math.nan,
                    "inf": math.inf,
                },
            },
        }
        out = Redact(Settings(redact="pii"))(None, "info", record)
        assert out["template"]["variables"] == {"phone": "<PHONE_NUMBER>", "card": "<CREDIT_CARD>"}
        metadata = out["params"]["metadata"]
        assert metadata["calls"] == ["<PHONE_NUMBER>", 3.0]
        assert metadata["big"] == 1e12 and metadata["ratio"] == 4155550132.5
        assert math.isnan(metadata["nan"]) and metadata["inf"] == math.inf
        assert out["params"]["temperature"] == 0.2
        assert out["redactions"] == {"PHONE_NUMBER": 2, "CREDIT_CARD": 1}

    @pytest.mark.parametrize("level", ["secrets", "pii"])
    def test_numbers_and_named_headers_under_credential_keys(self, level: str) -> None:
        """``{"password": 12345678}`` goes like a text would; headers named as keys
        (Azure Functions' ``x-functions-key``, Cloudflare's ``X-Auth-Key``) too."""
        record = {
            "params": {
                "extra_body": {"password": 12345678, "pin_retries": 3},
                "extra_headers": {"x-functions-key": "abc", "X-Auth-Key": "def", "X-Id": "1"},
            }
        }
        out = Redact(Settings(redact=level))(None, "info", record)
        assert out["params"]["extra_body"] == {"password": "<SECRET>", "pin_retries": 3}
        assert out["params"]["extra_headers"] == {
            "x-functions-key": "<SECRET>",
            "X-Auth-Key": "<SECRET>",
            "X-Id": "1",
        }

    def test_input_containers_are_never_mutated(self) -> None:
        """The event dict and everything in it may be the app's own objects: all stay as given."""
        record = full_record()
        snapshot = copy.deepcopy(record)
        out = Redact(Settings(redact="pii"))(None, "info", record)
        assert record == snapshot
        assert out is not record
        assert out["messages"] is not record["messages"]
        assert out["messages"][0]["content"] is not record["messages"][0]["content"]

    def test_a_record_without_findings_says_so(self) -> None:
        """``redactions`` is an empty dict when nothing was found; the text is unchanged."""
        out = Redact(Settings(redact="pii"))(None, "info", {"messages": ["hello there"]})
        assert out == {"messages": ["hello there"], "redactions": {}}

    def test_level_off_returns_the_record_untouched(self) -> None:
        """``off`` leaves a record without credentials in its params as it is."""
        record = full_record()
        assert Redact(Settings(redact="off"))(None, "info", record) is record

    def test_text_that_is_not_valid_unicode_is_still_redacted(self) -> None:
        """A lone surrogate (possible in decoded JSON) does not stop the email being found."""
        out = Redact(Settings(redact="pii"))(None, "info", {"messages": ["\ud800 a@example.com"]})
        assert out["messages"] == ["\ud800 <EMAIL_ADDRESS>"]

    def test_objects_are_redacted_through_their_text(self) -> None:
        """A value that is not JSON data is written as its ``repr``, so that is redacted."""

        class Note:
            def __repr__(self) -> str:
                return "write to jane.doe@example.com"

        out = Redact(Settings(redact="pii"))(None, "info", {"params": {"note": Note()}})
        assert out["params"]["note"] == "write to <EMAIL_ADDRESS>"

    def test_fields_without_findings_are_passed_on_as_they_are(self) -> None:
        """Only a field where something was found is rebuilt; the others are the same objects."""
        record = {
            "messages": [{"role": "user", "content": "mail jane.doe@example.com"}],
            "output": {"text": "done", "tool_calls": []},
            "params": {"temperature": 0.2},
        }
        out = Redact(Settings(redact="pii"))(None, "info", record)
        assert out["messages"] == [{"role": "user", "content": "mail <EMAIL_ADDRESS>"}]
        assert out["output"] is record["output"]
        assert out["params"] is record["params"]

    def test_values_written_as_text_or_lists_are_converted_even_without_findings(self) -> None:
        """A set becomes a list and an object its repr, whether or not anything was found."""

        class Note:
            def __repr__(self) -> str:
                return "nothing secret"

        record = {"tags": {"beta"}, "params": {"note": Note(), "stop": ("END",)}}
        out = Redact(Settings(redact="secrets"))(None, "info", record)
        assert out["tags"] == ["beta"]
        assert out["params"] == {"note": "nothing secret", "stop": ("END",)}


class TestAccuracy:
    """The planted corpus (tests/data/redaction_corpus.py): full recall, no false positives."""

    @pytest.mark.parametrize(("entity", "template", "value"), SECRETS + PII)
    def test_pii_level_catches_every_planted_value(
        self, entity: str, template: str, value: str
    ) -> None:
        """At ``pii`` the whole value is replaced by its tag and nothing around it changes."""
        text = template.format(v=value)
        assert redact(text, redact="pii") == template.format(v=f"<{entity}>")

    @pytest.mark.parametrize(("entity", "template", "value"), SECRETS)
    def test_secrets_level_catches_every_planted_secret(
        self, entity: str, template: str, value: str
    ) -> None:
        """At ``secrets`` every key, token and assigned password is replaced."""
        text = template.format(v=value)
        assert redact(text, redact="secrets") == template.format(v=f"<{entity}>")

    @pytest.mark.parametrize(("entity", "template", "value"), PII)
    def test_secrets_level_leaves_pii(self, entity: str, template: str, value: str) -> None:
        """``secrets`` is what it says: emails, phones and cards pass through."""
        text = template.format(v=value)
        assert redact(text, redact="secrets") == text

    @pytest.mark.parametrize("level", ["secrets", "pii"])
    @pytest.mark.parametrize("text", LOOK_ALIKES)
    def test_look_alikes_are_left_alone(self, level: str, text: str) -> None:
        """Bad-checksum cards/IBANs, versions, model names, timestamps, ids and code stay."""
        assert redact(text, redact=level) == text


class TestOperators:
    TEXT = "a@example.com, b@example.com, a@example.com"

    def test_tag_is_the_default(self) -> None:
        """Each value becomes ``<ENTITY_TYPE>``."""
        assert redact(self.TEXT) == "<EMAIL_ADDRESS>, <EMAIL_ADDRESS>, <EMAIL_ADDRESS>"

    def test_numbered_gives_one_number_per_value_within_a_record(self) -> None:
        """Same value, same number; numbering restarts with every record."""
        processor = Redact(Settings(redact="pii", redact_operator="numbered"))
        record = {"system": "b@example.com", "messages": [self.TEXT]}
        first = processor(None, "info", record)
        assert first["system"] == "<EMAIL_ADDRESS_1>"
        assert first["messages"] == ["<EMAIL_ADDRESS_2>, <EMAIL_ADDRESS_1>, <EMAIL_ADDRESS_2>"]
        second = processor(None, "info", {"messages": ["a@example.com"]})
        assert second["messages"] == ["<EMAIL_ADDRESS_1>"]

    def test_hash_is_stable_across_records_and_instances_and_keyed(self) -> None:
        """Same key and value give the same token everywhere; another key gives another."""
        one = redact(self.TEXT, redact_operator="hash", redact_key=KEY)
        two = redact("a@example.com", redact_operator="hash", redact_key=KEY)
        other_key = redact("a@example.com", redact_operator="hash", redact_key=KEY + "x")
        tokens = one.split(", ")
        assert tokens[0] == tokens[2] == two != tokens[1]
        assert two.startswith("<EMAIL_ADDRESS:") and two != other_key
        assert KEY not in one

    def test_counts_are_per_occurrence(self) -> None:
        """``redactions`` counts every replaced occurrence, never the values."""
        out = Redact(Settings(redact="pii"))(None, "info", {"messages": [self.TEXT, self.TEXT]})
        assert out["redactions"] == {"EMAIL_ADDRESS": 6}


class TestCustomDetection:
    def test_user_patterns_and_deny_terms_apply_at_every_level(self) -> None:
        """``redact_patterns`` and ``redact_deny`` work with ``secrets`` and ``pii`` alike."""
        for level in ("secrets", "pii"):
            out = redact(
                "EMP-123456 works on project falcon (not falconry)",
                redact=level,
                redact_patterns={"EMPLOYEE_ID": r"EMP-\d{6}"},
                redact_deny=("Project Falcon",),
            )
            assert out == "<EMPLOYEE_ID> works on <DENY_LIST> (not falconry)"

    def test_what_is_no_recognizer_is_refused_where_it_is_added(self) -> None:
        """Accepted, it would fail every record on the writer thread, as an llmlog bug."""
        with pytest.raises(TypeError, match="presidio recognizer"):
            add_recognizer("not a recognizer")

    def test_presidio_recognizers_from_the_app(self) -> None:
        """A recognizer passed to Redact or to add_recognizer is used; removal stops it."""
        from presidio_analyzer import Pattern, PatternRecognizer

        ticket = PatternRecognizer(
            supported_entity="TICKET", patterns=[Pattern("ticket", r"\bTCK-\d{4}\b", 0.9)]
        )
        record = {"messages": ["see TCK-1234"]}
        local = Redact(Settings(redact="secrets"), recognizers=[ticket])(None, "info", record)
        assert local["messages"] == ["see <TICKET>"]
        add_recognizer(ticket)
        try:
            assert redact("see TCK-1234", redact="pii") == "see <TICKET>"
        finally:
            remove_recognizer(ticket)
        assert redact("see TCK-1234", redact="pii") == "see TCK-1234"

    def test_app_recognizers_see_values_right_after_colour_codes(self) -> None:
        """The app's recognizers search the text with terminal escapes blanked, as the
        built-in ones do (``\\b`` holds after ``\\x1b[1m``)."""
        from presidio_analyzer import Pattern, PatternRecognizer

        ticket = PatternRecognizer(
            supported_entity="TICKET", patterns=[Pattern("ticket", r"\bTCK-\d{4}\b", 0.9)]
        )
        record = {"messages": ["see \x1b[1mTCK-1234\x1b[0m"]}
        out = Redact(Settings(redact="secrets"), recognizers=[ticket])(None, "info", record)
        assert out["messages"] == ["see \x1b[1m<TICKET>\x1b[0m"]


class TestMemo:
    """A text seen lately is not searched again, and the answer is the same."""

    class Counting:
        """A recognizer that counts the texts it was asked about and finds ``TCK-`` tickets."""

        supported_entities = ["TICKET"]

        def __init__(self) -> None:
            self.seen: list[str] = []

        def analyze(self, text: str, *args: Any) -> list[Any]:
            from presidio_analyzer import RecognizerResult

            self.seen.append(text)
            at = text.find("TCK-")
            return [] if at < 0 else [RecognizerResult("TICKET", at, at + 8, 0.9)]

    def test_a_resent_conversation_is_searched_once(self) -> None:
        """The second turn resends the first: only its new message is searched."""
        counting = self.Counting()
        processor = Redact(Settings(redact="secrets"), recognizers=[counting])
        system = "You help with TCK-1234 and key sk-proj-abcdefghij0123456789xyz."
        first = {"system": system, "messages": ["hi", "see TCK-5678"]}
        second = {"system": system, "messages": ["hi", "see TCK-5678", "ok", "and TCK-9999?"]}
        out1 = processor(None, "info", first)
        out2 = processor(None, "info", second)
        assert counting.seen == [system, "hi", "see TCK-5678", "ok", "and TCK-9999?"]
        assert out1["system"] == out2["system"] == "You help with <TICKET> and key <API_KEY>."
        assert out2["messages"] == ["hi", "see <TICKET>", "ok", "and <TICKET>?"]
        assert out1["redactions"] == {"TICKET": 2, "API_KEY": 1}
        assert out2["redactions"] == {"TICKET": 3, "API_KEY": 1}

    def test_a_recognizer_added_later_sees_remembered_texts(self) -> None:
        """What was remembered under the old recognizers is forgotten when the app adds one."""
        processor = Redact(Settings(redact="secrets"))
        record = {"messages": ["see TCK-1234"]}
        assert processor(None, "info", record)["messages"] == ["see TCK-1234"]
        counting = self.Counting()
        add_recognizer(counting)
        try:
            assert processor(None, "info", record)["messages"] == ["see <TICKET>"]
        finally:
            remove_recognizer(counting)
        assert processor(None, "info", record)["messages"] == ["see TCK-1234"]

    def test_the_memo_is_bounded_by_characters(self) -> None:
        """Past the budget the least recently used texts go; one used on every call stays."""
        memo = SpanMemo(budget=1_000)
        system = "s" * 100
        memo.remember(system, [])
        for n in range(100):
            memo.remember(f"{n:03d}" + "x" * 97, [])
            assert memo.get(system) == []
            assert len(memo) * 100 <= 1_000
        assert memo.get("099" + "x" * 97) == []
        assert memo.get("000" + "x" * 97) is None

    def test_many_short_texts_stay_within_the_budget_in_memory(self) -> None:
        """Counting characters only, 8-character texts took ~19x the budget: each entry
        costs its characters plus ENTRY_COST, close to what it really takes."""
        budget = 1_000_000
        gc.collect()
        tracemalloc.start()
        try:
            texts = [f"{n:08d}" for n in range(100_000)]  # traced: the memo keeps some
            memo = SpanMemo(budget=budget)
            for text in texts:
                memo.remember(text, [])
            texts.clear()  # only what the memo holds is left: its entries and their texts
            gc.collect()
            held = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        assert len(memo) * (8 + ENTRY_COST) <= budget
        assert held <= 1.5 * budget

    def test_spans_count_against_the_budget(self) -> None:
        """A text full of findings costs what its spans take, not only its characters."""
        spans = [(n, n + 5, "EMAIL") for n in range(0, 1_000, 10)]
        memo = SpanMemo(budget=3 * (1_000 + ENTRY_COST + SPAN_COST * len(spans)) - 1)
        for letter in "xyz":  # 3 * (1_000 + ENTRY_COST) characters alone would fit
            memo.remember(letter * 1_000, spans)
        assert memo.get("x" * 1_000) is None and memo.get("z" * 1_000) == spans

    def test_a_text_over_half_the_budget_is_not_kept(self) -> None:
        """It would push out everything at the next eviction, itself included."""
        memo = SpanMemo(budget=2 * (ENTRY_COST + 60) - 2)
        memo.remember("a" * 10, [])
        memo.remember("b" * 60, [])
        assert memo.get("b" * 60) is None and memo.get("a" * 10) == []

    def test_a_huge_text_is_not_kept(self) -> None:
        """One text over LONGEST_REMEMBERED would push out many others: it is searched each time."""
        memo = SpanMemo(budget=10 * LONGEST_REMEMBERED)
        memo.remember("y" * LONGEST_REMEMBERED, [])
        memo.remember("z" * (LONGEST_REMEMBERED + 1), [])
        assert memo.get("y" * LONGEST_REMEMBERED) == []
        assert memo.get("z" * (LONGEST_REMEMBERED + 1)) is None


class TestFailures:
    @pytest.fixture
    def reported(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Internal errors reported as in production (once on stderr), not raised."""
        monkeypatch.delenv("_LLMLOG_RAISE_INTERNAL_ERRORS")
        _guard._reset_for_tests()

    @pytest.mark.usefixtures("reported")
    def test_a_failing_detector_writes_markers_and_reports_once(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Text fields become the marker (never the raw text); the failure is printed once."""

        class Broken:
            supported_entities = ["X"]

            def analyze(self, *args: Any) -> list[Any]:
                raise RuntimeError("recognizer bug")

        processor = Redact(Settings(redact="secrets"), recognizers=[Broken()])
        for _ in range(2):
            out = processor(None, "info", full_record())
            assert out["system"] == out["messages"] == out["output"] == FAILED_MARKER
            assert out["model"] == "gpt-4o-2024-08-06"
        assert capsys.readouterr().err.count("internal error in redaction") == 1
        assert _guard.counts["bug:redaction"] == 2


class TestValidate:
    def test_hash_needs_a_key(self) -> None:
        """``hash`` without ``redact_key`` is refused, naming the variable to set."""
        with pytest.raises(ValueError, match="LLMLOG_REDACT_KEY"):
            validate(Settings(redact_operator="hash"))

    def test_short_keys_are_refused_without_showing_them(self) -> None:
        """A key under 16 bytes is refused; the message gives its length, not its value."""
        with pytest.raises(ValueError, match=r"too short \(6 bytes\)") as info:
            validate(Settings(redact_key="hunter"))
        assert "hunter" not in str(info.value)

    def test_invalid_patterns_are_named(self) -> None:
        """A bad regex in ``redact_patterns`` is refused with the entity it belongs to."""
        with pytest.raises(ValueError, match="ORDER"):
            validate(Settings(redact_patterns={"ORDER": "ORD-(\\d+"}))

    def test_ner_without_an_installed_model_fails_clearly(self) -> None:
        """``ner`` with a model that is not installed says what to install; nothing is fetched."""
        with pytest.raises(ValueError, match="not installed") as info:
            validate(Settings(redact="ner", ner_model="en_core_web_sm"))
        assert "en_core_web_sm" in str(info.value)
        assert "never downloads" in str(info.value)

    def test_valid_settings_pass(self) -> None:
        """The defaults and a proper hash set-up are accepted."""
        validate(Settings())
        validate(Settings(redact_operator="hash", redact_key=KEY))

    def test_off_says_once_that_prompts_are_logged_unredacted(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Turning redaction off is explicit: one line on stderr per process."""
        _guard._reset_for_tests()
        validate(Settings(redact="off"))
        Redact(Settings(redact="off"))
        assert capsys.readouterr().err.count("logged unredacted") == 1


def chat_reply(request: httpx2.Request) -> httpx2.Response:
    """The provider's answer: a completion that itself contains a phone number."""
    return httpx2.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-2024-08-06",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Noted, +1 415-555-0132."},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
        },
    )


class TestThroughTheSDK:
    """Real OpenAI clients over MockTransport, instrumented through the real pipeline."""

    MESSAGES = [{"role": "user", "content": "I am jane.doe@example.com, call +1 415-555-0132"}]

    def check(self, messages: list[dict[str, str]], records: list[dict[str, Any]]) -> None:
        assert messages == self.MESSAGES
        assert len(records) == 1
        record = records[0]
        assert "jane.doe" not in repr(record["messages"])
        assert "<EMAIL_ADDRESS>" in repr(record["messages"])
        assert record["output"]["text"] == "Noted, <PHONE_NUMBER>."
        assert record["redactions"] == {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 2}
        assert record["model"] == "gpt-4o-2024-08-06"

    def test_app_messages_stay_intact_while_the_record_is_redacted(self) -> None:
        """The app's messages list is unchanged after the call; the written record is redacted."""
        from llmlog.testing import capture_records

        transport = httpx2.MockTransport(chat_reply)
        sdk = openai.OpenAI(api_key="x", http_client=httpx2.Client(transport=transport))
        messages = copy.deepcopy(self.MESSAGES)
        with capture_records(redact="pii") as cap:
            sdk.chat.completions.create(model="gpt-4o-2024-08-06", messages=messages)  # type: ignore[arg-type]
            self.check(messages, cap.calls)

    async def test_async_client_too(self) -> None:
        """The same through ``AsyncOpenAI``."""
        from llmlog.testing import capture_records

        transport = httpx2.MockTransport(chat_reply)
        sdk = openai.AsyncOpenAI(api_key="x", http_client=httpx2.AsyncClient(transport=transport))
        messages = copy.deepcopy(self.MESSAGES)
        with capture_records(redact="pii") as cap:
            await sdk.chat.completions.create(model="gpt-4o-2024-08-06", messages=messages)  # type: ignore[arg-type]
            self.check(messages, cap.calls)


class TestToolArgumentsThroughTheSDK:
    @pytest.mark.parametrize("password", ['Tr0ub4dor"horse', 'ab"Xy9#kLm2!', "plainPassw0rd"])
    def test_a_password_with_a_quote_in_json_arguments(self, password: str) -> None:
        """Tool call arguments as the SDK sends them (JSON text): a quote inside the password
        is escaped there, and none of the password reaches the record; the JSON stays valid."""
        from llmlog.testing import capture_records

        client = ofake.sync_client(lambda _: ofake.json_response(ofake.chat_completion("ok")))
        call = {
            "id": "call_1",
            "type": "function",
            "function": {
                "name": "login",
                "arguments": json.dumps({"user": "bob", "password": password}),
            },
        }
        with capture_records(redact="secrets") as cap:
            client.chat.completions.create(
                model="gpt-4o",
                messages=[
                    {"role": "user", "content": "log in"},
                    {"role": "assistant", "content": None, "tool_calls": [call]},  # type: ignore[list-item]
                    {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
                ],
            )
        (record,) = cap.calls
        logged = record["messages"][1]["tool_calls"][0]["function"]["arguments"]
        assert json.loads(logged) == {"user": "bob", "password": "<SECRET>"}
        assert record["redactions"] == {"SECRET": 1}


def test_whole_floats_through_the_sdk() -> None:
    """A phone and a card from a float column, as template variables and a body field of a
    real OpenAI call, are redacted like ints."""
    import llmlog
    from llmlog.testing import capture_records

    client = ofake.sync_client(lambda _: ofake.json_response(ofake.chat_completion("ok")))
    variables = {"phone": 4155550132.0, "card": 4111111111111111.0}
    with (
        capture_records(redact="pii") as cap,
        llmlog.context(template={"name": "t", "version": "1", "variables": variables}),
    ):
        client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "x"}],
            extra_body={"customer": {"phone": 4155550132.0, "score": 0.5}},
        )
    (record,) = cap.calls
    line = json.dumps(record)
    assert "4155550132" not in line and "4111111111111111" not in line
    assert record["template"]["variables"] == {"phone": "<PHONE_NUMBER>", "card": "<CREDIT_CARD>"}
    assert record["params"]["customer"] == {"phone": "<PHONE_NUMBER>", "score": 0.5}
    assert record["redactions"] == {"PHONE_NUMBER": 2, "CREDIT_CARD": 1}
