"""A call's own capture (``llmlog.context(capture="metadata")``) and the process's context
defaults (``LLMLOG_TAGS``, ``LLMLOG_SESSION_ID``, ``LLMLOG_USER_ID``), through the SDKs."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import httpx2
import pytest

import anthropic_fakes as afake
import llmlog
import openai_fakes as ofake
from llmlog._config import Settings
from llmlog.launcher import child_environment
from llmlog.testing import capture_records

NOTE = "PATIENT-NOTE-TEXT"
"""Text of a sensitive flow: in no record made with ``capture="metadata"``."""


def reply(request: httpx2.Request) -> httpx2.Response:
    return ofake.json_response(ofake.chat_completion("answer about " + NOTE))


def ask(client: Any) -> None:
    client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "summarise " + NOTE}]
    )


def has_text(record: dict[str, Any]) -> bool:
    return NOTE in json.dumps(record)


class TestCapturePerCall:
    def test_a_context_keeps_its_calls_metadata_only_and_no_other(self) -> None:
        """Inside ``capture="metadata"``: roles, usage and the prompt hash stay, the text goes;
        the call made before it and the one after are logged in full."""
        client = ofake.sync_client(reply)
        with capture_records(redact="off") as cap:
            ask(client)
            with llmlog.context(capture="metadata", tags={"flow": "medical"}):
                ask(client)
            ask(client)
        before, medical, after = cap.calls
        assert has_text(before) and has_text(after)
        assert not has_text(medical)
        assert medical["messages"] == [{"role": "user"}]
        assert medical["output"]["text"] is None
        assert medical["usage"] == before["usage"] and medical["tags"] == {"flow": "medical"}
        assert medical["prompt_hash"] == before["prompt_hash"]  # taken from the full prompt
        assert list(medical) == list(before)  # no private mark written

    def test_a_calls_full_never_widens_the_process_setting(self) -> None:
        """``LLMLOG_CAPTURE=metadata`` for the process: ``capture="full"`` keeps it."""
        client = ofake.sync_client(reply)
        with (
            capture_records(capture="metadata", redact="off") as cap,
            llmlog.context(capture="full"),
        ):
            ask(client)
        [record] = cap.calls
        assert not has_text(record)

    def test_the_stricter_wins_when_contexts_nest_and_bind_narrows_until_unbind(self) -> None:
        """An inner ``capture="full"`` (a library's) stays metadata inside an outer
        ``"metadata"``; ``bind(capture="metadata")`` holds for the thread until ``unbind()``."""
        client = ofake.sync_client(reply)
        with capture_records(redact="off") as cap:
            with llmlog.context(capture="metadata"), llmlog.context(capture="full"):
                ask(client)
            llmlog.bind(capture="metadata")
            try:
                ask(client)
                llmlog.bind(capture="full")
                ask(client)
            finally:
                llmlog.unbind()
            ask(client)
        nested, bound, bound_again, unbound = cap.calls
        assert not any(has_text(r) for r in (nested, bound, bound_again))
        assert has_text(unbound)

    def test_the_capture_is_taken_when_the_call_starts(self) -> None:
        """A stream started inside the context and read after it is left: metadata only; an
        Anthropic call in a decorated function too."""
        events = afake.stream_events(["about ", NOTE])
        anthropic_client = afake.sync_client(afake.sse_handler(events))
        chunks = ofake.chat_chunks(["about ", NOTE])
        openai_client = ofake.sync_client(lambda r: ofake.sse_response(chunks))

        @llmlog.context(capture="metadata")
        def start_stream() -> Any:
            return anthropic_client.messages.create(
                model="claude-haiku-4-5", max_tokens=10, messages=afake.user(), stream=True
            )

        with capture_records(redact="off") as cap:
            stream = start_stream()
            text = "".join(e.delta.text for e in stream if e.type == "content_block_delta")
            with llmlog.context(capture="metadata"):
                chat = openai_client.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": NOTE}], stream=True
                )
            list(chat)
        assert NOTE in text  # the app got its answer
        assert [has_text(r) for r in cap.calls] == [False, False]
        assert [r["status"] for r in cap.calls] == ["ok", "ok"]

    def test_asyncio_tasks_keep_their_own_capture(self) -> None:
        """Two tasks at once, one inside ``capture="metadata"``: only its record lacks text."""
        client = ofake.async_client(reply)

        async def one(capture: Any, flow: str) -> None:
            with llmlog.context(capture=capture, tags={"flow": flow}):
                await client.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": NOTE}]
                )

        async def both() -> None:
            await asyncio.gather(one("metadata", "medical"), one(None, "other"))

        with capture_records(redact="off") as cap:
            asyncio.run(both())
        texts = {r["tags"]["flow"]: has_text(r) for r in cap.calls}
        assert texts == {"medical": False, "other": True}

    @pytest.mark.parametrize("value", ["meta", "METADATA", "", 1, ["metadata"]])
    def test_a_bad_value_is_refused_where_it_is_given(self, value: Any) -> None:
        """ValueError at ``context()`` / ``bind()``, naming the argument and its values."""
        for api in (llmlog.context, llmlog.bind):
            with pytest.raises(ValueError, match="capture must be one of 'full', 'metadata'"):
                api(capture=value)

    def test_its_values_are_the_settings(self) -> None:
        """``capture=`` takes what ``LLMLOG_CAPTURE`` takes."""
        from llmlog._context import CAPTURE_LEVELS

        [field] = [f for f in dataclasses.fields(Settings) if f.name == "capture"]
        assert field.metadata["choices"] == CAPTURE_LEVELS


class TestContextDefaults:
    def test_defaults_from_the_environment_under_the_calls_own(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Every record gets them; a context's session and user win, its tags merge over."""
        monkeypatch.setenv("LLMLOG_TAGS", " env = staging, team=search,q=a=b,")
        monkeypatch.setenv("LLMLOG_SESSION_ID", "batch-7")
        monkeypatch.setenv("LLMLOG_USER_ID", "svc")
        client = ofake.sync_client(reply)
        with capture_records(redact="off") as cap:
            ask(client)
            with llmlog.context(user_id="u1", tags={"team": "ads", "step": 2}):
                ask(client)
        plain, own = cap.calls
        assert plain["tags"] == {"env": "staging", "team": "search", "q": "a=b"}
        assert (plain["session_id"], plain["user_id"]) == ("batch-7", "svc")
        assert own["tags"] == {"env": "staging", "team": "ads", "q": "a=b", "step": 2}
        assert (own["session_id"], own["user_id"]) == ("batch-7", "u1")

    def test_read_once_when_logging_starts(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A change to the environment after ``instrument()`` does not reach the records."""
        monkeypatch.setenv("LLMLOG_TAGS", "env=staging")
        client = ofake.sync_client(reply)
        with capture_records(redact="off") as cap:
            monkeypatch.setenv("LLMLOG_TAGS", "env=prod")
            monkeypatch.setenv("LLMLOG_SESSION_ID", "late")
            ask(client)
        [record] = cap.calls
        assert record["tags"] == {"env": "staging"} and record["session_id"] is None

    @pytest.mark.parametrize(
        ("value", "says"),
        [
            ("env", "'env' has no '='"),
            ("env=,team=x", "'env=' has an empty key or value"),
            ("=staging", "has an empty key or value"),
            ("env=a,env=b", "'env' is given twice"),
        ],
    )
    def test_malformed_tags_are_refused_naming_the_variable(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str, says: str
    ) -> None:
        """``instrument()`` raises, naming ``LLMLOG_TAGS``, the syntax and the fault."""
        monkeypatch.setenv("LLMLOG_TAGS", value)
        with pytest.raises(ValueError) as raised:
            llmlog.instrument(output=str(tmp_path / "calls.jsonl"))
        message = str(raised.value)
        assert message.startswith(f"LLMLOG_TAGS={value!r} is not valid")
        assert "key=value pairs such as env=staging,team=search" in message and says in message

    def test_keywords_and_the_launcher_take_them_too(self) -> None:
        """``instrument(tags=...)`` takes a mapping (what it passes on to children) or the
        text; ``llmlog-run --tags`` exports the variable and refuses a bad value."""
        settings = Settings.from_env({}, tags={"env": "ci"}, session_id="s", user_id="u")
        assert (dict(settings.tags), settings.session_id, settings.user_id) == (
            {"env": "ci"},
            "s",
            "u",
        )
        env = child_environment({}, {"tags": "env=staging,team=search", "user_id": "svc"})
        assert (env["LLMLOG_TAGS"], env["LLMLOG_USER_ID"]) == ("env=staging,team=search", "svc")
        with pytest.raises(ValueError, match=r"argument --tags: .*has no '='"):
            child_environment({}, {"tags": "staging"})
