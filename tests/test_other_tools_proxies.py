"""Another tool's proxy around an SDK result (OpenInference patches the client's
``request()`` beneath llmlog, OpenTelemetry's instrumentations wrap streams with wrapt
above it): llmlog still sees a stream, and records it whole."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
import wrapt

import anthropic_fakes as afake
import llmlog.testing
import openai_fakes as ofake
from llmlog.testing import CapturedRecords


class PeerProxy(wrapt.ObjectProxy):  # type: ignore[type-arg]
    """What such a tool hands back: the SDK's object, watched."""


def wrap_results(client: Any) -> None:
    """Each result of ``client.request`` comes back inside a ``PeerProxy``."""
    request = client.request

    def watched(*args: Any, **kwargs: Any) -> Any:
        return PeerProxy(request(*args, **kwargs))

    client.request = watched


@pytest.fixture
def llm() -> Iterator[CapturedRecords]:
    with llmlog.testing.capture_records(redact="off") as captured:
        yield captured


def test_an_openai_stream_in_a_proxy_is_read_to_its_end(llm: CapturedRecords) -> None:
    """Classified by ``type()``, the proxy was a plain result: recorded at once, ``ok``,
    without text, usage or response id."""
    chunks = ofake.chat_chunks(("Hel", "lo"), usage=True)
    fake = ofake.FakeOpenAI(routes={"/chat/completions": lambda _: ofake.sse_response(chunks)})
    client = ofake.sync_client(fake)
    wrap_results(client)
    stream = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    assert isinstance(stream, openai.Stream)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    [record] = llm.calls
    assert (record["status"], record["output"]["text"], text) == ("ok", "Hello", "Hello")
    assert record["usage"] is not None and record["response_id"] is not None


def test_an_anthropic_stream_in_a_proxy_is_read_to_its_end(llm: CapturedRecords) -> None:
    """The same for Anthropic's ``messages.create(stream=True)``; one left early is
    ``cancelled``, not ``ok``."""
    client = afake.sync_client(afake.sse_handler(afake.stream_events(["Hel", "lo"])))
    wrap_results(client)
    ask: dict[str, Any] = {"model": "claude-haiku-4-5", "max_tokens": 50, "stream": True}
    stream = client.messages.create(messages=afake.user(), **ask)
    assert isinstance(stream, anthropic.Stream)
    events = [event.type for event in stream]
    for _ in client.messages.create(messages=afake.user(), **ask):
        break
    whole, left = llm.calls
    assert events[-1] == "message_stop"
    assert (whole["status"], whole["output"]["text"]) == ("ok", "Hello")
    assert whole["usage"] is not None
    assert left["status"] == "cancelled"


class PlainWrapper:
    """A tool's own stream wrapper that is no proxy (OpenTelemetry's ``ChatStreamWrapper``)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def __iter__(self) -> Any:
        return iter(self.stream)


def test_a_stream_in_a_wrapper_llmlog_cannot_see_through_is_said_once(
    llm: CapturedRecords, capsys: pytest.CaptureFixture[str]
) -> None:
    """llmlog cannot watch such a stream: the record has no answer, and stderr says why and
    what to do, once."""
    fake = ofake.FakeOpenAI(
        routes={"/chat/completions": lambda _: ofake.sse_response(ofake.chat_chunks(("Hi",)))}
    )
    client = ofake.sync_client(fake)
    request = client.request
    client.request = lambda *args, **kwargs: PlainWrapper(request(*args, **kwargs))  # type: ignore[method-assign]
    for _ in range(2):
        list(client.chat.completions.create(model="gpt-4o", messages=[], stream=True))
    assert [(r["output"]["text"], r["usage"]) for r in llm.calls] == [(None, None)] * 2
    said = capsys.readouterr().err
    assert said.count("another tool's wrapper") == 1
    assert f"{__name__}.PlainWrapper" in said and "Activate llmlog before" in said


def test_logfire_is_told_llmlogs_frames_are_not_the_apps(
    llm: CapturedRecords, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logfire names the app's line on each span, skipping site-packages only: llmlog
    installed elsewhere made every span name llmlog's wrapper as the caller. When the app
    imports Logfire, llmlog's package is given to its add_non_user_code_prefix."""
    (tmp_path / "logfire.py").write_text(
        "told = []\ndef add_non_user_code_prefix(path):\n    told.append(path)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "logfire", raising=False)
    try:
        import logfire  # type: ignore[import-not-found]

        assert [Path(p) for p in logfire.told] == [Path(llmlog.__file__).resolve().parent]
    finally:
        sys.modules.pop("logfire", None)
