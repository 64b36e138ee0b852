"""The app's own values in a record (tags, template variables, its exceptions, its keys):
read when the call starts, never able to lose the record, written the same at every
redaction level, and each key once."""

from __future__ import annotations

import contextvars
import dataclasses
import datetime
import enum
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import numpy
import orjson
import pytest

import anthropic_fakes
import llmlog
import openai_fakes as fakes
from llmlog import _context
from llmlog._config import Settings
from llmlog.processors import render
from llmlog.redaction import Redact
from llmlog.testing import CapturedRecords, capture_records

MESSAGES: Any = [{"role": "user", "content": "hi"}]


@pytest.fixture
def llm() -> Iterator[CapturedRecords]:
    with capture_records(redact="secrets") as cap:
        yield cap


def ask() -> None:
    fakes.sync_client(fakes.default_fake()).chat.completions.create(
        model="gpt-4o", messages=MESSAGES
    )


async def ask_async() -> None:
    client = fakes.async_client(fakes.default_fake())
    await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)


_request_user: contextvars.ContextVar[str] = contextvars.ContextVar("request_user")


class RequestUser:
    """What Flask's ``current_user`` is (a werkzeug ``LocalProxy``): it stands for the user
    of the request being served, and reading it anywhere else fails."""

    def _user(self) -> str:
        try:
            return _request_user.get()
        except LookupError:
            raise RuntimeError("working outside of request context") from None

    def __getattr__(self, name: str) -> Any:  # as a proxy does: the user's own attributes
        return getattr(self._user(), name)

    def __str__(self) -> str:
        return self._user()

    def __repr__(self) -> str:
        return f"<User {self._user()}>"


class Unreadable:
    """An object every reading of which fails, ``repr()`` too."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("not readable")

    def __str__(self) -> str:
        raise RuntimeError("no str")

    __repr__ = __str__


class NoStr(Exception):
    """An exception whose ``str()`` fails."""

    def __str__(self) -> str:
        raise RuntimeError("no str")


class Tier(enum.Enum):
    GOLD = "gold"


@dataclasses.dataclass
class Arm:
    name: str
    n: int


def strict_json(line: bytes) -> Any:
    """The line parsed, refusing an object that holds a key twice."""

    def no_twice(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), f"a key written twice: {keys}"
        return dict(pairs)

    return json.loads(line, object_pairs_hook=no_twice)


class TestReadWhenTheCallStarts:
    def test_what_the_app_changes_after_the_call_is_not_in_its_record(
        self, llm: CapturedRecords
    ) -> None:
        """A tag or template variable the app changes once the call returned is recorded as
        it was during the call (the record is built later, on the writer thread)."""
        state, history = {"step": 1}, ["a"]
        with llmlog.context(
            tags={"state": state}, template={"name": "t", "variables": {"history": history}}
        ):
            ask()
            state["step"] = 2
            history.append("b")
        [record] = llm.calls
        assert record["tags"] == {"state": {"step": 1}}
        assert record["template"]["variables"] == {"history": ["a"]}

    async def test_what_an_async_app_changes_after_the_call_is_not_in_its_record(
        self, llm: CapturedRecords
    ) -> None:
        """The same for an async client."""
        state = {"step": 1}
        with llmlog.context(tags={"state": state}):
            await ask_async()
            state["step"] = 2
        assert llm.calls[0]["tags"] == {"state": {"step": 1}}

    def test_a_value_readable_only_inside_the_request_is_read_there(
        self, llm: CapturedRecords
    ) -> None:
        """``tags={"user": current_user}`` records the request's user: the value is read on
        the app's thread when the call starts, not on the writer thread (where it is unbound
        and every record used to be lost, with flush() still saying True)."""
        current_user = RequestUser()
        for name in ("alice", "bob"):
            token = _request_user.set(name)
            try:
                with llmlog.context(
                    tags={"user": current_user},
                    template={"name": "t", "variables": {"who": current_user}},
                ):
                    ask()
            finally:
                _request_user.reset(token)
        assert llmlog.flush(30)
        records = llm.calls
        assert [r["tags"] for r in records] == [{"user": "<User alice>"}, {"user": "<User bob>"}]
        assert records[1]["template"]["variables"] == {"who": "<User bob>"}

    def test_a_value_that_cannot_be_read_is_named_and_the_call_goes_on(
        self, llm: CapturedRecords
    ) -> None:
        """A tag that fails however it is read is written as a marker naming its type;
        the app's call and the record are unaffected."""
        with llmlog.context(tags={"bad": Unreadable(), "team": "a"}):
            ask()
        [record] = llm.calls
        assert record["tags"] == {
            "bad": "<Unreadable object: its repr() failed>",
            "team": "a",
        }

    def test_plain_values_are_shared_and_others_copied_at_each_call(self) -> None:
        """Texts, numbers and booleans cannot change: the context is shared as it is (no
        cost at a call's start). A list is read again at each call."""
        with llmlog.context(tags={"team": "a", "n": 3}, template={"name": "t"}):
            assert _context.snapshot() is _context.snapshot()
        history = ["a"]
        with llmlog.context(template={"name": "t", "variables": {"history": history}}):
            first = _context.snapshot()
            history.append("b")
            second = _context.snapshot()
        assert first["template"]["variables"] == {"history": ["a"]}
        assert second["template"]["variables"] == {"history": ["a", "b"]}


class TestFailingText:
    def test_a_template_variable_whose_key_has_no_text_keeps_the_record(
        self, llm: CapturedRecords
    ) -> None:
        """A key whose ``str()`` (and ``repr()``) fails is named by its type."""
        with llmlog.context(template={"name": "t", "variables": {Unreadable(): 1, "a": 2}}):
            ask()
        [record] = llm.calls
        assert record["template"]["variables"] == {
            "<Unreadable object: its repr() failed>": 1,
            "a": 2,
        }

    def test_an_app_exception_without_text_keeps_the_record(self, llm: CapturedRecords) -> None:
        """The app's own exception (raised by its messages iterator, re-raised by the SDK)
        reaches the app as it is; its record says it with its ``repr``."""

        def messages() -> Iterator[Any]:
            yield MESSAGES[0]
            raise NoStr("boom")

        client = fakes.sync_client(fakes.default_fake())
        with pytest.raises(NoStr):
            client.chat.completions.create(model="gpt-4o", messages=messages())
        [record] = llm.calls
        assert record["status"] == "error"
        assert (record["error"]["type"], record["error"]["message"]) == ("NoStr", "NoStr('boom')")


TYPED_VALUES: dict[str, Any] = {
    "tier": Tier.GOLD,
    "at": datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC),
    "arm": Arm("b", 2),
    "count": numpy.int64(3),
    "scores": numpy.array([0.5, numpy.nan]),
    "uid": uuid.UUID(int=1),
}
TYPED_AS_WRITTEN = {
    "tier": "gold",
    "at": "2024-05-01T12:00:00+00:00",
    "arm": {"name": "b", "n": 2},
    "count": 3,
    "scores": [0.5, None],
    "uid": "00000000-0000-0000-0000-000000000001",
}


class TestRedactionKeepsTypes:
    @pytest.mark.parametrize("level", ["off", "secrets"])
    def test_tags_and_variables_are_written_alike_at_every_level(self, level: str) -> None:
        """An enum, a date, a dataclass, numpy values are written as JSON writes them with
        redaction or without it: its value, ISO text, fields, a number, a list."""
        with (
            capture_records(redact=level) as cap,
            llmlog.context(tags=TYPED_VALUES, template={"name": "t", "variables": TYPED_VALUES}),
        ):
            ask()
        [record] = cap.calls
        assert record["tags"] == TYPED_AS_WRITTEN
        assert record["template"]["variables"] == TYPED_AS_WRITTEN

    def test_objects_in_arguments_are_redacted_as_they_are_written(self) -> None:
        """An object in a call's arguments is redacted as the record writes it, not as its
        ``str()``: what is written is the same as without redaction."""
        record = {"params": {"metadata": dict(TYPED_VALUES), "note": "mail a@b.example"}}
        redacted = Redact(Settings(redact="secrets"))(None, "info", dict(record))
        as_written = json.loads(render(None, "info", record))["params"]
        assert json.loads(render(None, "info", redacted))["params"] == as_written
        assert redacted["params"]["metadata"] == TYPED_AS_WRITTEN

    def test_an_object_under_a_credential_key_is_replaced_whole(self) -> None:
        """``{"password": obj}`` is replaced as a number or a text there is, not searched:
        an object written as its ``repr`` would show what it holds."""

        class Password:
            def __repr__(self) -> str:
                return "Password('hunter2')"

        record = {"params": {"metadata": {"password": Password(), "api_key": [Password()]}}}
        redacted = Redact(Settings(redact="secrets"))(None, "info", record)
        assert redacted["params"]["metadata"] == {"password": "<SECRET>", "api_key": ["<SECRET>"]}


class TestKeys:
    def test_keys_that_would_be_written_alike_are_told_apart(self, llm: CapturedRecords) -> None:
        """``{1: .., "1": .., None: .., "null": ..}`` is written without a key twice."""
        variables = {1: "one", "1": "uno", None: "n", "null": "s"}
        with llmlog.context(template={"name": "t", "variables": variables}):
            ask()
        written = llm.calls[0]["template"]["variables"]  # (four keys: none written twice)
        assert written == {"1": "one", "1 (2)": "uno", "null": "n", "null (2)": "s"}

    def test_keys_that_are_not_text_are_spelled_as_json_spells_them(self) -> None:
        """None, True and 2 are ``null``, ``true`` and ``2`` (as the SDK sends them), not
        ``None`` and ``True``; a key met twice is told apart."""
        params = {"m": {None: "x", True: "y", 2: "a", "2": "b", (1, 2): "t"}}
        line = render(None, "info", {"event": "llm.call", "params": params})
        assert strict_json(line)["params"]["m"] == {
            "null": "x",
            "true": "y",
            "2": "a",
            "2 (2)": "b",
            "(1, 2)": "t",
        }

    def test_request_keys_are_recorded_as_the_sdk_sent_them(self, llm: CapturedRecords) -> None:
        """``metadata={None: .., True: ..}`` goes out as ``null`` and ``true``: the record's
        params say the same, not ``None`` and ``True``."""
        client = fakes.sync_client(fakes.default_fake())
        metadata: Any = {None: "x", True: "y", "null": "z"}
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, metadata=metadata)
        [record] = llm.calls
        assert record["params"]["metadata"] == {"null": "x", "true": "y", "null (2)": "z"}

    def test_anthropic_request_keys_too(self, llm: CapturedRecords) -> None:
        """The same for the anthropic SDK: ``null`` and ``true``, not ``None``/``True``."""
        client = anthropic_fakes.sync_client(
            anthropic_fakes.json_handler(anthropic_fakes.message())
        )
        metadata: Any = {None: "x", True: "y", "null": "z"}
        client.messages.create(
            model=anthropic_fakes.MODEL,
            max_tokens=5,
            messages=anthropic_fakes.user(),
            extra_body={"tags": metadata},
        )
        [record] = llm.calls
        assert record["params"]["tags"] == {"null": "x", "true": "y", "null (2)": "z"}

    def test_an_argument_whose_attributes_raise_still_gets_its_record(
        self, llm: CapturedRecords
    ) -> None:
        """The SDK refuses to send it (TypeError, as without llmlog); the call's record
        says so, the value as its repr."""
        client = fakes.sync_client(fakes.default_fake())
        with pytest.raises(TypeError, match="not JSON serializable"):
            client.chat.completions.create(
                model="gpt-4o", messages=MESSAGES, extra_body={"odd": Unreadable()}
            )
        [record] = llm.calls
        assert (record["status"], record["error"]["type"]) == ("error", "TypeError")
        assert "Unreadable" in record["params"]["odd"]


class TestFlush:
    @pytest.mark.usefixtures("capsys")  # (the writer's failure is reported on stderr)
    def test_a_record_lost_in_the_writer_makes_flush_say_false(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """When the writer fails on a record (here orjson itself fails on the writer thread),
        the record is lost and the next flush() says so; the one after is True again."""
        monkeypatch.setenv("_LLMLOG_RAISE_INTERNAL_ERRORS", "0")  # the app's view: reported
        real_dumps = orjson.dumps
        main = threading.main_thread()

        def failing_on_the_writer(*args: Any, **kwargs: Any) -> bytes:
            if threading.current_thread() is not main:
                raise RuntimeError("the encoder failed")
            return real_dumps(*args, **kwargs)

        with capture_records(redact="off"):
            assert llmlog.flush(30)
            monkeypatch.setattr(orjson, "dumps", failing_on_the_writer)
            ask()
            assert not llmlog.flush(30)
            monkeypatch.setattr(orjson, "dumps", real_dumps)
            ask()
            assert llmlog.flush(30)
