"""The record: ids, timestamps, and real records validated against the JSON Schema."""

from __future__ import annotations

import json
import os
import random
import re
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import anthropic_fakes as afake
import openai_fakes as ofake
from llmlog._config import Settings
from llmlog._record import FIELDS, is_cancellation, iso_utc, media_stub, new_id
from llmlog._record_builder import CaptureToRecord
from llmlog.fake_provider import FakeProvider, start_server
from llmlog.testing import CapturedRecords, capture_records
from support import toy_sdk

SCHEMA = json.loads(resources.files("llmlog").joinpath("record.schema.json").read_text())


def validate(record: dict[str, Any]) -> None:
    jsonschema.validate(record, SCHEMA)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with start_server() as server:
        yield server


class TestBuilders:
    def test_ids_are_unique_and_sort_by_time(self) -> None:
        """ULIDs: 26 Crockford characters; a later id sorts after an earlier one."""
        early, late = new_id(1_700_000_000_000_000_000), new_id(1_700_000_000_001_000_000)
        assert early < late
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", early)
        assert len({new_id() for _ in range(10_000)}) == 10_000

    def test_ids_do_not_follow_the_apps_random_seed(self) -> None:
        """Apps seed ``random`` (every process with ``random.seed(42)``): ids must still differ."""
        now = 1_700_000_000_000_000_000
        random.seed(42)
        first = new_id(now)
        random.seed(42)
        assert new_id(now) != first

    def test_a_forked_child_does_not_repeat_its_parents_ids(self) -> None:
        """The id generator is reseeded in a forked child."""
        now = 1_700_000_000_000_000_000
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            os.write(write, new_id(now).encode())
            os._exit(0)
        os.close(write)
        child = os.read(read, 64).decode()
        os.waitpid(pid, 0)
        os.close(read)
        assert child and child != new_id(now)

    def test_timestamps_are_utc_with_microseconds(self) -> None:
        """ts looks like 2023-11-14T22:13:20.123456Z."""
        assert iso_utc(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456Z"

    def test_media_stub_never_keeps_the_bytes(self) -> None:
        """Inline base64 becomes type, mime, decoded size and sha256."""
        stub = media_stub("image", "image/png", "aGVsbG8=")
        assert stub == {
            "type": "image",
            "mime": "image/png",
            "bytes": 5,
            "sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        }


def test_server_address_is_the_host_the_client_talks_to() -> None:
    """OpenTelemetry's ``server.address``: the base URL's host, lowercase, without the port;
    a client whose base URL is changed afterwards is read again; no client, no host."""
    openai = pytest.importorskip("openai")
    from llmlog._record import server_address

    client = openai.OpenAI(api_key="k", base_url="http://LocalHost:8000/v1")
    assert server_address(client) == "localhost"
    client.base_url = "https://api.cerebras.ai/v1"  # type: ignore[assignment]
    assert server_address(client) == "api.cerebras.ai"
    assert server_address(openai.OpenAI(api_key="k")) == "api.openai.com"
    assert server_address(None) is None


def test_the_app_ending_a_call_cancels_it_as_ctrl_c_does(toy: CapturedRecords) -> None:
    """``sys.exit()`` from a signal handler (a graceful SIGTERM handler, gunicorn's QUIT/INT)
    raises SystemExit inside the call: ``cancelled``, with its type, as KeyboardInterrupt."""
    assert is_cancellation(SystemExit(0)) and is_cancellation(KeyboardInterrupt())
    for ending in (SystemExit(0), KeyboardInterrupt()):

        def cut(request: Any, ending: BaseException = ending) -> Any:
            raise ending

        with pytest.raises(type(ending)):
            ofake.sync_client(cut).chat.completions.create(model="m", messages=[])
    cut_by_exit, cut_by_ctrl_c = toy.calls
    assert (cut_by_exit["status"], cut_by_exit["error"]["type"]) == ("cancelled", "SystemExit")
    assert (cut_by_ctrl_c["status"], cut_by_ctrl_c["error"]["type"]) == (
        "cancelled",
        "KeyboardInterrupt",
    )


@pytest.mark.parametrize(
    ("argv0", "service"),
    [
        ("/srv/app/worker.py", "worker"),
        ("/venv/lib/python3.11/site-packages/uvicorn/__main__.py", "uvicorn"),
        ("-c", "python"),
        ("", "python"),
        ("/usr/local/bin/celery", "celery"),
    ],
)
def test_the_default_service_is_the_program_name(
    argv0: str, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``python -m uvicorn`` is ``uvicorn``, not ``__main__``; ``python -c`` is ``python``."""
    monkeypatch.setattr(sys, "argv", [argv0])
    assert CaptureToRecord(Settings()).service == service


class TestSchema:
    def test_toy_records_of_every_status_are_valid(self, toy: CapturedRecords) -> None:
        """ok, error, cancelled and stream records all match the schema, fields in order."""
        client = toy_sdk.Client()
        client.create(messages=[{"role": "user", "content": "a b"}], model="m")
        with pytest.raises(toy_sdk.ToyError):
            client.create(messages=[{"role": "user", "content": "a"}], model="m", fail=True)
        stream = client.create(
            messages=[{"role": "user", "content": "a b"}], model="m", stream=True
        )
        next(stream)
        stream.close()
        records = toy.calls
        assert [r["status"] for r in records] == ["ok", "error", "cancelled"]
        for record in records:
            validate(record)
            assert tuple(record) == FIELDS

    def test_metadata_records_of_cited_answers_are_valid(self) -> None:
        """``LLMLOG_CAPTURE=metadata``: citations keep their types only, still the array the
        schema says (they were null), for Anthropic and OpenAI alike."""
        cited = {"type": "char_location", "cited_text": "ct", "document_index": 0}
        answer = afake.message(content=[{"type": "text", "text": "a", "citations": [cited]}])
        chat = ofake.chat_completion("a")
        url = {"url": "https://example.com/jane", "title": "t", "start_index": 0, "end_index": 1}
        chat["choices"][0]["message"]["annotations"] = [
            {"type": "url_citation", "url_citation": url}
        ]
        with capture_records(capture="metadata", redact="off") as cap:
            afake.sync_client(afake.json_handler(answer)).messages.create(
                model="claude-haiku-4-5", max_tokens=5, messages=afake.user()
            )
            ofake.sync_client(lambda _: ofake.json_response(chat)).chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "q"}]
            )
        anthropic_record, openai_record = cap.calls
        for record in cap.calls:
            validate(record)
        assert anthropic_record["output"]["citations"] == [{"type": "char_location"}]
        assert openai_record["output"]["citations"] == [{"type": "url_citation"}]

    def test_the_schema_and_the_readme_example_have_every_field_in_order(self) -> None:
        """Every field is required by the schema, and the README's example shows them all,
        in the order records have them."""
        assert set(SCHEMA["$defs"]["call"]["required"]) == set(FIELDS)
        readme = (Path(__file__).parents[1] / "README.md").read_text()
        example = readme.split("Example (pretty-printed here", 1)[1].split("```json", 1)[1]
        record = json.loads(example.split("```", 1)[0])
        assert tuple(record) == FIELDS

    def test_real_openai_records_are_valid(self, fake: FakeProvider) -> None:
        """Chat, streamed chat, Responses, embeddings and an error through the real openai SDK."""
        openai = pytest.importorskip("openai")
        client = openai.OpenAI(base_url=f"{fake.url}/v1", api_key="fake", max_retries=0)
        msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
        with capture_records(redact="secrets") as cap:
            client.chat.completions.create(model="gpt-4o-mini", messages=msgs)
            list(client.chat.completions.create(model="gpt-4o-mini", messages=msgs, stream=True))
            client.responses.create(model="gpt-4o-mini", input="Hello")
            client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
            with pytest.raises(openai.APIStatusError):
                client.chat.completions.create(model="fake-error", messages=msgs)
            records = cap.calls
        assert len(records) == 5
        for record in records:
            validate(record)
        assert records[0]["system"] == "Be brief."
        assert records[4]["status"] == "error"

    def test_real_anthropic_records_are_valid(self, fake: FakeProvider) -> None:
        """Messages, a stream, the stream helper and an error through the real anthropic SDK."""
        anthropic = pytest.importorskip("anthropic")
        client = anthropic.Anthropic(base_url=fake.url, api_key="fake", max_retries=0)
        msgs = [{"role": "user", "content": "Hi"}]
        with capture_records(redact="secrets") as cap:
            client.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=msgs)
            list(
                client.messages.create(
                    model="claude-haiku-4-5", max_tokens=50, messages=msgs, stream=True
                )
            )
            with client.messages.stream(
                model="claude-haiku-4-5", max_tokens=50, messages=msgs
            ) as stream:
                stream.get_final_text()
            with pytest.raises(anthropic.APIStatusError):
                client.messages.create(model="fake-error", max_tokens=5, messages=msgs)
            records = cap.calls
        assert len(records) == 4
        for record in records:
            validate(record)
        assert records[3]["status"] == "error"
