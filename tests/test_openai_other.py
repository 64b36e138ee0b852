"""Legacy completions, embeddings, images, audio, moderations, decisions, token counts and
batches through real openai clients."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import warnings
from collections.abc import Iterator

import pytest

import llmlog.testing
import openai_fakes as fakes
from llmlog.testing import CapturedRecords

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


USAGE_12_340 = {"input_tokens": 12, "output_tokens": 340, "total_tokens": 352}


@pytest.fixture
def llm() -> Iterator[CapturedRecords]:
    with llmlog.testing.capture_records(redact="off") as cap:
        yield cap


class TestCompletions:
    def test_legacy_completion(self, llm: CapturedRecords) -> None:
        """completions.create: the prompt as a user message, text, finish reason, usage."""
        client = fakes.sync_client(fakes.default_fake())
        client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Hello", max_tokens=2)
        [record] = llm.calls
        assert (record["operation"], record["method"]) == ("completions", "completions.create")
        assert record["messages"] == [{"role": "user", "content": "Hello"}]
        assert record["params"] == {"max_tokens": 2}
        assert (
            record["output"]["text"] == " world" and record["output"]["finish_reason"] == "length"
        )
        assert record["usage"]["input_tokens"] == 3

    def test_legacy_completion_stream(self, llm: CapturedRecords) -> None:
        """A streamed legacy completion joins the text deltas; no usage chunk means usage null."""
        client = fakes.sync_client(fakes.default_fake())
        list(client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Hello", stream=True))
        [record] = llm.calls
        assert record["output"]["text"] == " world" and record["usage"] is None


class TestEmbeddings:
    def test_usage_and_dimensions_never_vectors(self, llm: CapturedRecords) -> None:
        """embeddings.create: inputs, count and dimensions, usage; no vector in the record."""
        client = fakes.sync_client(fakes.default_fake())
        result = client.embeddings.create(
            model="text-embedding-3-small", input=["a", "b"], dimensions=8
        )
        assert len(result.data[0].embedding) == 8
        [record] = llm.calls
        assert record["output"]["embeddings"] == 2 and record["output"]["dimensions"] == 8
        assert record["params"] == {"dimensions": 8}
        assert record["usage"]["input_tokens"] == 7
        assert "0.5" not in repr(record["output"])

    async def test_async_raw_response(self, llm: CapturedRecords) -> None:
        """Async with_raw_response embeddings are read from the JSON body."""
        client = fakes.async_client(fakes.default_fake())
        raw = await client.embeddings.with_raw_response.create(
            model="text-embedding-3-small", input="a"
        )
        assert raw.http_response.status_code == 200
        assert llm.calls[0]["output"]["dimensions"] == 8


class TestImagesAudioModerations:
    def test_image_generation(self, llm: CapturedRecords) -> None:
        """images.generate: prompt, stubbed image, revised prompt, usage."""
        client = fakes.sync_client(fakes.default_fake())
        client.images.generate(model="gpt-image-1", prompt="a red cat", size="1024x1024")
        [record] = llm.calls
        assert (record["operation"], record["method"]) == ("images", "images.generate")
        assert record["messages"] == [{"role": "user", "content": "a red cat"}]
        assert record["params"] == {"size": "1024x1024"}
        assert record["output"]["images"][0]["b64_json"]["type"] == "image"
        assert record["usage"]["total_tokens"] == 150

    def test_image_edit_uploads_are_stubs(self, llm: CapturedRecords) -> None:
        """images.edit: the uploaded image is a stub (size, hash, name), never its bytes."""
        client = fakes.sync_client(fakes.default_fake())
        client.images.edit(
            model="gpt-image-1", image=("cat.png", PNG, "image/png"), prompt="add a hat"
        )
        [record] = llm.calls
        text, image = record["messages"][0]["content"]
        assert text == {"type": "text", "text": "add a hat"}
        assert image["image"]["bytes"] == len(PNG) and image["image"]["name"] == "cat.png"

    async def test_transcription(self, llm: CapturedRecords) -> None:
        """audio.transcriptions.create: file stub, text, token usage."""
        client = fakes.async_client(fakes.default_fake())
        audio = io.BytesIO(b"ID3 audio")
        audio.name = "note.mp3"
        result = await client.audio.transcriptions.create(model="gpt-4o-transcribe", file=audio)
        assert result.text == "hello from audio"
        [record] = llm.calls
        assert (
            record["output"]["text"] == "hello from audio" and record["usage"]["total_tokens"] == 18
        )
        assert record["messages"][0]["content"] == [
            {"type": "file", "file": {"type": "file", "mime": None, "name": "note.mp3"}}
        ]

    def test_translation(self, llm: CapturedRecords) -> None:
        """audio.translations.create: the translated text."""
        client = fakes.sync_client(fakes.default_fake())
        with warnings.catch_warnings():  # newer SDKs deprecate translations; older do not
            warnings.simplefilter("ignore", DeprecationWarning)
            client.audio.translations.create(
                model="whisper-1", file=("a.mp3", b"ID3", "audio/mpeg")
            )
        assert llm.calls[0]["output"]["text"] == "hello translated"

    def test_speech_is_metadata_only(self, llm: CapturedRecords) -> None:
        """audio.speech.create: input text and voice recorded; of the audio only mime and size."""
        client = fakes.sync_client(fakes.default_fake())
        audio = client.audio.speech.create(model="gpt-4o-mini-tts", voice="alloy", input="Hello")
        assert audio.content == b"ID3fake-mp3-bytes"
        [record] = llm.calls
        assert record["messages"] == [{"role": "user", "content": "Hello"}]
        assert record["params"] == {"voice": "alloy"}
        assert record["output"]["audio"] == {"type": "audio", "mime": "audio/mpeg", "bytes": 17}
        assert record["request_id"] == fakes.REQUEST_ID
        assert record["cost_usd"] is None  # billed in tokens the endpoint does not report

    def test_chunked_speech_has_its_size(self, llm: CapturedRecords) -> None:
        """The speech endpoint answers chunked, without content-length: the size of the body
        the SDK read (it was null)."""
        audio = b"ID3" + b"\0" * 4997
        client = fakes.sync_client(
            lambda _: fakes.httpx2.Response(
                200,
                content=iter([audio[:2500], audio[2500:]]),
                headers={"content-type": "audio/mpeg", "x-request-id": fakes.REQUEST_ID},
            )
        )
        assert client.audio.speech.create(model="tts-1", voice="alloy", input="Hi").content == audio
        [record] = llm.calls
        assert record["output"]["audio"] == {"type": "audio", "mime": "audio/mpeg", "bytes": 5000}

    @pytest.mark.parametrize("body", [b"42\n", b"null", b"Hello there.\n"])
    def test_a_raw_text_transcript_is_its_text_even_when_it_reads_as_json(
        self, llm: CapturedRecords, body: bytes
    ) -> None:
        """``response_format="text"`` through with_raw_response: the app's parse() is the text,
        and so is the record's (a transcript "42" decoded as JSON had no text)."""
        client = fakes.sync_client(
            lambda _: fakes.httpx2.Response(
                200, content=body, headers={"content-type": "text/plain"}
            )
        )
        raw = client.audio.transcriptions.with_raw_response.create(
            model="whisper-1", file=("a.wav", b"RIFF"), response_format="text"
        )
        assert raw.parse() == body.decode()
        [record] = llm.calls
        assert record["output"]["text"] == body.decode()

    def test_speech_billed_by_characters_has_its_cost(self, llm: CapturedRecords) -> None:
        client = fakes.sync_client(fakes.default_fake())
        client.audio.speech.create(model="tts-1", voice="alloy", input="Hello")
        [record] = llm.calls
        assert record["cost_usd"] == pytest.approx(5 * 15e-6)  # $15 per million characters

    @pytest.mark.parametrize("raw", [False, True])
    def test_speech_as_events_has_its_usage_and_cost(self, llm: CapturedRecords, raw: bool) -> None:
        """``stream_format="sse"``: the app gets the event text as without llmlog; the record
        the audio the events carried (a stub) and the usage of ``speech.audio.done``."""
        events = [
            {"type": "speech.audio.delta", "audio": base64.b64encode(b"ID3fake").decode()},
            {"type": "speech.audio.delta", "audio": base64.b64encode(b"-more").decode()},
            {"type": "speech.audio.done", "usage": USAGE_12_340},
        ]
        client = fakes.sync_client(lambda _: fakes.sse_response(events, done=False))
        create = client.audio.speech.with_raw_response.create if raw else client.audio.speech.create
        result = create(model="gpt-4o-mini-tts", voice="alloy", input="Hi", stream_format="sse")
        content = result.http_response.content if raw else result.content
        assert content.startswith(b'data: {"type": "speech.audio.delta"')
        [record] = llm.calls
        audio = record["output"]["audio"]
        assert audio["bytes"] == len(b"ID3fake-more")
        assert audio["sha256"] == hashlib.sha256(b"ID3fake-more").hexdigest()
        assert record["usage"]["input_tokens"] == 12 and record["usage"]["output_tokens"] == 340
        assert record["cost_usd"] == pytest.approx(12 * 0.6e-6 + 340 * 12e-6)

    def test_speech_streaming_response_leaves_the_body_alone(self, llm: CapturedRecords) -> None:
        """with_streaming_response speech: the app streams the audio; the record is metadata."""
        client = fakes.sync_client(fakes.default_fake())
        with client.audio.speech.with_streaming_response.create(
            model="gpt-4o-mini-tts", voice="alloy", input="Hello"
        ) as response:
            assert b"".join(response.iter_bytes()) == b"ID3fake-mp3-bytes"
        [record] = llm.calls
        assert record["output"] is None and record["request_id"] == fakes.REQUEST_ID

    def test_moderation(self, llm: CapturedRecords) -> None:
        """moderations.create: input, flagged categories, id and model; free (cost 0)."""
        client = fakes.sync_client(fakes.default_fake())
        client.moderations.create(model="omni-moderation-latest", input="some text")
        [record] = llm.calls
        assert record["messages"] == [{"role": "user", "content": "some text"}]
        assert record["output"]["moderation"] == [{"flagged": True, "categories": ["violence"]}]
        assert record["response_id"] == "modr-1"
        assert (record["cost_usd"], record["price_source"]) == (
            0.0,
            "not billed: moderations are free",
        )


QUESTIONS = [
    {"type": "predicate", "name": "is_spam", "question": "Is this spam?"},
    {"type": "choice", "name": "tone", "question": "Tone?", "choices": ["angry", "calm"]},
    {"type": "score", "name": "age", "question": "Age of the writer?", "min": 0, "max": 120},
]


@pytest.mark.skipif(not fakes.HAS_DECISIONS, reason="this openai has no decisions endpoint")
class TestDecisions:
    def test_answers_usage_and_the_prompt(self, llm: CapturedRecords) -> None:
        """decisions.create: input as messages, questions as params, answers in order, usage."""
        client = fakes.sync_client(fakes.default_fake())
        decision = client.decisions.create(
            model="gpt-6-luna",
            input=[
                {"role": "developer", "content": "Judge strictly."},
                {"role": "user", "content": "BUY NOW!!!"},
            ],
            questions=QUESTIONS,
        )
        assert decision.answers[0].probability == 0.93
        [record] = llm.calls
        assert (record["operation"], record["method"]) == ("decisions", "decisions.create")
        assert record["system"] == "Judge strictly."
        assert record["messages"] == [{"role": "user", "content": "BUY NOW!!!"}]
        assert record["params"] == {"questions": QUESTIONS}
        assert record["response_model"] == "gpt-6-luna"
        answers = record["output"]["answers"]
        assert [a["type"] for a in answers] == ["predicate", "choice", "refusal"]
        assert answers[1]["choice"] == "angry" and answers[1]["probabilities"][1]["value"] == "calm"
        usage = record["usage"]
        assert (usage["input_tokens"], usage["cached_input_tokens"], usage["output_tokens"]) == (
            40,
            8,
            3,
        )

    async def test_async_raw_response(self, llm: CapturedRecords) -> None:
        """The async client's with_raw_response: the app's raw object, the record's answers."""
        client = fakes.async_client(fakes.default_fake())
        raw = await client.decisions.with_raw_response.create(
            model="gpt-6-luna", input="BUY NOW!!!", questions=QUESTIONS
        )
        assert raw.parse().model == "gpt-6-luna"
        [record] = llm.calls
        assert record["messages"] == [{"role": "user", "content": "BUY NOW!!!"}]
        assert len(record["output"]["answers"]) == 3
        assert record["request_id"] == fakes.REQUEST_ID


class TestInputTokenCount:
    def test_the_count_is_output_and_usage_stays_null(self, llm: CapturedRecords) -> None:
        """responses.input_tokens.count bills nothing: a metadata record with the count."""
        client = fakes.sync_client(fakes.default_fake())
        count = client.responses.input_tokens.count(
            model="gpt-5", input="How long is this?", instructions="Be brief."
        )
        assert count.input_tokens == 11
        [record] = llm.calls
        assert record["operation"] == "responses.input_tokens"
        assert record["method"] == "responses.input_tokens.count"
        assert record["system"] == "Be brief."
        assert record["messages"] == [{"role": "user", "content": "How long is this?"}]
        assert record["output"]["token_count"] == 11 and record["usage"] is None
        assert (record["cost_usd"], record["price_source"]) == (
            0.0,
            "not billed: counting input tokens is free",
        )

    async def test_async(self, llm: CapturedRecords) -> None:
        client = fakes.async_client(fakes.default_fake())
        await client.responses.input_tokens.count(model="gpt-5", input="Hi")
        [record] = llm.calls
        assert record["output"]["token_count"] == 11

    def test_the_beta_count_too(self, llm: CapturedRecords) -> None:
        """``beta.responses.input_tokens.count``, like every ``beta.responses`` call."""
        client = fakes.sync_client(fakes.default_fake())
        client.beta.responses.input_tokens.count(model="gpt-5", input="Hi")
        [record] = llm.calls
        assert record["method"] == "beta.responses.input_tokens.count"
        assert record["output"]["token_count"] == 11


class TestBatches:
    def test_a_submitted_batch_is_a_metadata_record(self, llm: CapturedRecords) -> None:
        """batches.create: the job's id and status; the requests live in the uploaded file."""
        client = fakes.sync_client(fakes.default_fake())
        client.batches.create(
            input_file_id="file-1", endpoint="/v1/chat/completions", completion_window="24h"
        )
        [record] = llm.calls
        assert (record["operation"], record["method"]) == ("batches", "batches.create")
        assert record["messages"] is None and record["model"] is None
        assert record["params"]["input_file_id"] == "file-1"
        assert record["output"]["batch_status"] == "validating"
        assert record["response_id"] == "batch_1" and record["usage"] is None


@pytest.mark.skipif(not fakes.HAS_LIVE, reason="this openai has no Live API")
class TestLiveCreate:
    def test_a_webrtc_session_is_a_metadata_record(self, llm: CapturedRecords) -> None:
        """live.create: the session's settings and id; of the SDP offer (the caller's
        network addresses) only the transport's type."""
        client = fakes.sync_client(fakes.default_fake())
        offer = "v=0\r\nc=IN IP4 192.168.1.20\r\n"
        session = {
            "model": "gpt-live-1",
            "instructions": "Be brief.",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "Hi"}]}],
            "store": True,
        }
        created = client.live.create(session=session, transport={"type": "webrtc", "sdp": offer})
        assert created.transport.sdp == "v=0"
        [record] = llm.calls
        assert (record["operation"], record["method"]) == ("live.create", "live.create")
        assert (record["model"], record["system"]) == ("gpt-live-1", "Be brief.")
        assert record["messages"] == session["input"]
        assert record["params"] == {"store": True, "transport": {"type": "webrtc"}}
        assert (record["response_id"], record["usage"], record["status"]) == (
            "live_rtc_1",
            None,
            "ok",
        )
        assert "192.168" not in json.dumps(record)
