"""Encrypted state passed back as Responses input, and how image and transcription
streams end, through real clients."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from openai.types.responses import ResponseReasoningItem

import llmlog.testing
import openai_fakes as fakes
from llmlog.testing import CapturedRecords

REASONING_BLOB = "gAAAAABo" + "x-Y_z0" * 1500  # a Fernet-like token: urlsafe, ~9 KB
COMPACTION_BLOB = "gAAAAABp" + "Qk-_9w" * 400
MEDIA_STUB_KEYS = {"type", "mime", "bytes", "sha256"}


@pytest.fixture
def llm() -> Iterator[CapturedRecords]:
    with llmlog.testing.capture_records(redact="off") as cap:
        yield cap


def encrypted_stub(blob: str) -> dict[str, Any]:
    return {
        "type": "encrypted",
        "mime": None,
        "bytes": len(blob),
        "sha256": hashlib.sha256(blob.encode()).hexdigest(),
    }


class TestEncryptedInputItems:
    """An agent loop with ``include=["reasoning.encrypted_content"]`` resends each turn's
    reasoning items: their blobs are opaque, kept as stubs, never written or scanned."""

    def agent_turn_input(self) -> list[Any]:
        earlier = ResponseReasoningItem(
            id="rs_1", type="reasoning", summary=[], encrypted_content=REASONING_BLOB
        )
        return [
            {"role": "user", "content": "Plan my trip"},
            earlier,
            {
                "type": "reasoning",
                "id": "rs_2",
                "summary": [{"type": "summary_text", "text": "Checked the dates."}],
                "encrypted_content": REASONING_BLOB,
            },
            {"type": "compaction", "id": "cmp_1", "encrypted_content": COMPACTION_BLOB},
            {"role": "user", "content": "And the hotel?"},
        ]

    def test_the_record_has_stubs_and_the_server_gets_the_blobs(self, llm: CapturedRecords) -> None:
        fake = fakes.FakeOpenAI(
            routes={"/responses": lambda _: fakes.json_response(fakes.response_object())}
        )
        items = self.agent_turn_input()
        fakes.sync_client(fake).responses.create(
            model="gpt-5", input=items, include=["reasoning.encrypted_content"]
        )
        [record] = llm.calls
        messages = record["messages"]
        assert messages[1]["encrypted_content"] == encrypted_stub(REASONING_BLOB)
        assert messages[2]["encrypted_content"] == encrypted_stub(REASONING_BLOB)
        assert messages[2]["summary"] == [{"type": "summary_text", "text": "Checked the dates."}]
        assert messages[3] == {
            "type": "compaction",
            "id": "cmp_1",
            "encrypted_content": encrypted_stub(COMPACTION_BLOB),
        }
        assert set(messages[1]["encrypted_content"]) == MEDIA_STUB_KEYS
        line = json.dumps(record)
        assert REASONING_BLOB[:64] not in line and COMPACTION_BLOB[:64] not in line
        assert len(line) < 4000
        [sent] = fake.bodies()
        assert [item.get("encrypted_content") for item in sent["input"]] == [
            None,
            REASONING_BLOB,
            REASONING_BLOB,
            COMPACTION_BLOB,
            None,
        ]
        assert items[2]["encrypted_content"] == REASONING_BLOB  # the app's own input untouched

    def test_with_default_redaction_the_blob_is_not_scanned_into_the_record(self) -> None:
        """The default redaction (what the finding measured): a stub, the same as without."""
        fake = fakes.FakeOpenAI(
            routes={"/responses": lambda _: fakes.json_response(fakes.response_object())}
        )
        with llmlog.testing.capture_records() as cap:
            fakes.sync_client(fake).responses.create(model="gpt-5", input=self.agent_turn_input())
        [record] = cap.calls
        assert record["messages"][2]["encrypted_content"] == encrypted_stub(REASONING_BLOB)


IMAGE_BASE = {
    "background": "auto",
    "created_at": 1,
    "output_format": "png",
    "quality": "low",
    "size": "auto",
}


def image_events(prefix: str, *, complete: bool) -> list[dict[str, Any]]:
    """``image_generation.*`` or ``image_edit.*`` events; ``complete=False`` stops before
    the completed one."""
    partial = {
        **IMAGE_BASE,
        "type": f"{prefix}.partial_image",
        "b64_json": "cGFydA==",
        "partial_image_index": 0,
    }
    usage = fakes.images_object()["usage"]
    completed = {**IMAGE_BASE, "type": f"{prefix}.completed", "b64_json": "ZnVsbA=="}
    completed["usage"] = usage
    return [partial, completed] if complete else [partial]


TRANSCRIPT_DONE = {
    "type": "transcript.text.done",
    "text": "hello",
    "usage": {"type": "tokens", "input_tokens": 5, "output_tokens": 2, "total_tokens": 7},
}


def transcript_events(*, complete: bool) -> list[dict[str, Any]]:
    deltas = [
        {"type": "transcript.text.delta", "delta": "hel"},
        {"type": "transcript.text.delta", "delta": "lo"},
    ]
    return [*deltas, TRANSCRIPT_DONE] if complete else deltas


def assert_ended(record: dict[str, Any], complete: bool, last_event: str) -> None:
    """``ok`` after the last event; else the early-end error naming it."""
    if complete:
        assert (record["status"], record["error"]) == ("ok", None)
        return
    assert record["status"] == "error"
    assert record["error"]["type"] == "StreamEndedEarly"
    assert last_event in record["error"]["message"]


class TestImageAndTranscriptionStreamsCutShort:
    """A body that ends (no ``[DONE]``, no error) before the stream's last event: the app
    got no image / part of a transcript, and the record says so instead of ``ok``."""

    @pytest.mark.parametrize("complete", [False, True])
    def test_image_generation(self, llm: CapturedRecords, complete: bool) -> None:
        events = image_events("image_generation", complete=complete)
        fake = fakes.FakeOpenAI(
            routes={
                "/images/generations": lambda _: fakes.sse_response(events, named=True, done=False)
            }
        )
        client = fakes.sync_client(fake)
        list(client.images.generate(model="gpt-image-1", prompt="cat", stream=True))
        [record] = llm.calls
        assert_ended(record, complete, "image_generation.completed")
        assert len(record["output"]["images"]) == (1 if complete else 0)

    @pytest.mark.parametrize("complete", [False, True])
    async def test_image_edit(self, llm: CapturedRecords, complete: bool) -> None:
        events = image_events("image_edit", complete=complete)
        fake = fakes.FakeOpenAI(
            routes={"/images/edits": lambda _: fakes.sse_response(events, named=True, done=False)}
        )
        client = fakes.async_client(fake)
        stream = await client.images.edit(
            model="gpt-image-1", image=("a.png", b"\x89PNG", "image/png"), prompt="hat", stream=True
        )
        async for _ in stream:
            pass
        [record] = llm.calls
        assert_ended(record, complete, "image_edit.completed")
        assert len(record["output"]["images"]) == (1 if complete else 0)

    @pytest.mark.parametrize("complete", [False, True])
    def test_transcription(self, llm: CapturedRecords, complete: bool) -> None:
        """Cut before ``transcript.text.done``: the deltas so far are kept."""
        events = transcript_events(complete=complete)
        fake = fakes.FakeOpenAI(
            routes={"/audio/transcriptions": lambda _: fakes.sse_response(events, done=False)}
        )
        client = fakes.sync_client(fake)
        list(
            client.audio.transcriptions.create(
                model="gpt-4o-transcribe", file=("a.wav", b"RIFF", "audio/wav"), stream=True
            )
        )
        [record] = llm.calls
        assert_ended(record, complete, "transcript.text.done")
        assert record["output"]["text"] == "hello"
        assert (record["usage"] or {}).get("total_tokens") == (7 if complete else None)

    def test_a_transcription_closed_by_the_app_after_its_last_event_is_ok(
        self, llm: CapturedRecords
    ) -> None:
        """The app stops at ``transcript.text.done``, before the SDK reads the body's end:
        the answer was whole."""
        fake = fakes.FakeOpenAI(
            routes={
                "/audio/transcriptions": lambda _: fakes.sse_response(
                    transcript_events(complete=True)
                )
            }
        )
        stream = fakes.sync_client(fake).audio.transcriptions.create(
            model="gpt-4o-transcribe", file=("a.wav", b"RIFF", "audio/wav"), stream=True
        )
        for event in stream:
            if event.type == "transcript.text.done":
                break
        stream.close()
        [record] = llm.calls
        assert (record["status"], record["output"]["text"]) == ("ok", "hello")

    def test_an_image_stream_closed_by_the_app_early_stays_cancelled(
        self, llm: CapturedRecords
    ) -> None:
        """Closed by the app before the completed image: ``cancelled``, not an error."""
        events = image_events("image_generation", complete=True)
        fake = fakes.FakeOpenAI(
            routes={"/images/generations": lambda _: fakes.sse_response(events, named=True)}
        )
        stream = fakes.sync_client(fake).images.generate(
            model="gpt-image-1", prompt="cat", stream=True, partial_images=1
        )
        next(iter(stream))
        stream.close()
        [record] = llm.calls
        assert (record["status"], record["error"]) == ("cancelled", None)
