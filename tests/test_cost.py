"""``llmlog.cost``: cost_usd and price_source from genai-prices, at write time."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import genai_prices
import httpx2
import openai
import pytest
from genai_prices import Usage, calc_price

import anthropic_fakes as afake
import openai_fakes as ofake
from llmlog.cost import add_cost
from llmlog.testing import capture_records

TS = "2026-03-01T12:00:00.000000Z"
LATER = "2026-11-01T12:00:00.000000Z"


def record(
    model: str | None = "gpt-4o",
    provider: str = "openai",
    response_model: str | None = None,
    **usage: Any,
) -> dict[str, Any]:
    full = {
        "input_tokens": None,
        "output_tokens": None,
        "cached_input_tokens": None,
        "cache_write_tokens": None,
        "reasoning_tokens": None,
        "total_tokens": None,
        "raw": None,
    }
    full.update(usage)
    return {
        "provider": provider,
        "model": model,
        "response_model": response_model,
        "ts": TS,
        "usage": full if usage else None,
    }


def genai(model: str, provider: str, **usage: int) -> float:
    when = datetime.fromisoformat(TS)
    result = calc_price(Usage(**usage), model, provider_id=provider, genai_request_timestamp=when)
    return float(Decimal(result.total_price))


def logged_anthropic(usage: dict[str, Any], model: str, asked: str | None = None) -> dict[str, Any]:
    """The record of one real ``beta.messages.create`` answered by ``model`` with ``usage``."""
    body = afake.message(usage_body=usage) | {"model": model}
    client = afake.sync_client(afake.json_handler(body))
    with capture_records(redact="off", disabled_providers=("openai",)) as cap:
        client.beta.messages.create(model=asked or model, max_tokens=5, messages=afake.user())
    [logged] = cap.calls
    return logged


class TestPricing:
    def test_plain_call_costs_what_genai_prices_says(self) -> None:
        """Input and output tokens are priced with genai-prices' table, nothing hand-written."""
        out = add_cost(None, "", record(input_tokens=1000, output_tokens=500))
        assert out["cost_usd"] == pytest.approx(
            genai("gpt-4o", "openai", input_tokens=1000, output_tokens=500)
        )
        assert out["price_source"] == f"genai-prices {genai_prices.__version__} openai:gpt-4o"

    def test_cached_input_is_part_of_input_and_charged_once_at_the_cache_rate(self) -> None:
        """input_tokens includes cached ones; the cached share is priced lower, not twice."""
        out = add_cost(
            None, "", record(input_tokens=1000, output_tokens=10, cached_input_tokens=800)
        )
        expected = genai(
            "gpt-4o", "openai", input_tokens=1000, output_tokens=10, cache_read_tokens=800
        )
        uncached = genai("gpt-4o", "openai", input_tokens=1000, output_tokens=10)
        assert out["cost_usd"] == pytest.approx(expected)
        assert out["cost_usd"] < uncached

    def test_anthropic_cache_writes_and_one_hour_writes_are_priced_as_anthropic_does(
        self,
    ) -> None:
        """Cache writes cost more than input; 1-hour writes (from raw usage) more still."""
        raw = {"cache_creation": {"ephemeral_1h_input_tokens": 300}}
        rec = record(
            "claude-sonnet-4-5",
            "anthropic",
            input_tokens=2000,
            output_tokens=100,
            cached_input_tokens=500,
            cache_write_tokens=1000,
            raw=raw,
        )
        out = add_cost(None, "", rec)
        expected = genai(
            "claude-sonnet-4-5",
            "anthropic",
            input_tokens=2000,
            output_tokens=100,
            cache_read_tokens=500,
            cache_write_tokens=1000,
            cache_write_1h_tokens=300,
        )
        assert out["cost_usd"] == pytest.approx(expected)
        assert out["price_source"].endswith("anthropic:claude-sonnet-4-5")

    def test_reasoning_tokens_are_priced_inside_output(self) -> None:
        """Reasoning is part of output; it is not added on top of it."""
        with_reasoning = add_cost(
            None, "", record("o3", input_tokens=100, output_tokens=1000, reasoning_tokens=900)
        )
        without = add_cost(None, "", record("o3", input_tokens=100, output_tokens=1000))
        assert with_reasoning["cost_usd"] == pytest.approx(without["cost_usd"])

    def test_realtime_audio_and_images_are_priced_at_their_own_rates(self) -> None:
        """Realtime counts audio inside input and output (and cached audio inside cached);
        gpt-realtime charges audio 8x text, so pricing it as text would be far too low."""
        details = {"audio_tokens": 600_000, "image_tokens": 50_000, "cached_tokens": 100_000}
        details["cached_tokens_details"] = {"audio_tokens": 100_000, "image_tokens": 0}
        raw = {"input_token_details": details, "output_token_details": {"audio_tokens": 500_000}}
        usage = {"input_tokens": 1_000_000, "output_tokens": 1_000_000}
        out = add_cost(
            None, "", record("gpt-realtime", cached_input_tokens=100_000, raw=raw, **usage)
        )
        expected = genai(
            "gpt-realtime",
            "openai",
            cache_read_tokens=100_000,
            input_audio_tokens=600_000,
            input_image_tokens=50_000,
            cache_audio_read_tokens=100_000,
            cache_image_read_tokens=0,
            output_audio_tokens=500_000,
            **usage,
        )
        as_text = genai("gpt-realtime", "openai", cache_read_tokens=100_000, **usage)
        assert out["cost_usd"] == pytest.approx(expected)
        assert out["cost_usd"] > 2 * as_text

    def test_cached_tokens_without_their_split_are_taken_as_text(self) -> None:
        """Realtime may report cached tokens without saying how many were audio: priced
        (cached as text, the lowest estimate), never refused."""
        raw = {"input_token_details": {"audio_tokens": 500, "cached_tokens": 200}}
        usage = {"input_tokens": 1000, "output_tokens": 100}
        out = add_cost(None, "", record("gpt-realtime", cached_input_tokens=200, raw=raw, **usage))
        expected = genai(
            "gpt-realtime",
            "openai",
            cache_read_tokens=200,
            input_audio_tokens=500,
            cache_audio_read_tokens=0,
            **usage,
        )
        assert out["cost_usd"] == pytest.approx(expected)

    @pytest.mark.parametrize(
        ("model", "raw", "genai_usage"),
        [
            (  # chat with audio in and out
                "gpt-audio",
                {
                    "prompt_tokens_details": {"audio_tokens": 700},
                    "completion_tokens_details": {"audio_tokens": 300},
                },
                {"input_audio_tokens": 700, "output_audio_tokens": 300},
            ),
            (  # an image edit: the uploaded image is image input
                "gpt-image-1",
                {"input_tokens_details": {"image_tokens": 900, "text_tokens": 100}},
                {"input_image_tokens": 900},
            ),
            (  # an image generated: output image tokens cost 3x output text (gpt-image-1.5)
                "gpt-image-1.5",
                {"output_tokens_details": {"image_tokens": 500, "text_tokens": 0}},
                {"output_image_tokens": 500},
            ),
            (  # a transcription: the file is audio input
                "gpt-4o-transcribe",
                {"input_token_details": {"audio_tokens": 900, "text_tokens": 100}},
                {"input_audio_tokens": 900},
            ),
        ],
    )
    def test_audio_in_chat_and_transcription_usage(
        self, model: str, raw: dict[str, Any], genai_usage: dict[str, int]
    ) -> None:
        out = add_cost(None, "", record(model, input_tokens=1000, output_tokens=500, raw=raw))
        expected = genai(model, "openai", input_tokens=1000, output_tokens=500, **genai_usage)
        assert out["cost_usd"] == pytest.approx(expected)
        assert out["cost_usd"] > genai(model, "openai", input_tokens=1000, output_tokens=500)

    def test_web_and_file_searches_are_priced_per_call_on_top_of_tokens(self) -> None:
        """Anthropic counts web searches in its usage; OpenAI Responses lists one output
        item per web or file search call. Each is billed ($10 / $2.50 a thousand)."""
        raw = {"server_tool_use": {"web_search_requests": 5, "web_fetch_requests": 0}}
        anthropic = record(
            "claude-sonnet-4-5", "anthropic", input_tokens=1000, output_tokens=100, raw=raw
        )
        expected = genai(
            "claude-sonnet-4-5", "anthropic", input_tokens=1000, output_tokens=100, web_searches=5
        )
        assert add_cost(None, "", anthropic)["cost_usd"] == pytest.approx(expected)
        assert expected == pytest.approx(0.0545)
        calls = [{"id": "ws_1", "type": "web_search_call", "name": None, "arguments": None}]
        calls += [{"id": "fs_1", "type": "file_search_call", "name": None, "arguments": None}]
        calls += [{"id": "c_1", "type": "function", "name": "f", "arguments": "{}"}]
        responses = record("o3", input_tokens=1000, output_tokens=100)
        responses["output"] = {"text": "ok", "tool_calls": calls + calls[:1]}
        expected = genai(
            "o3",
            "openai",
            input_tokens=1000,
            output_tokens=100,
            web_searches=2,
            storage_searches=1,
        )
        assert add_cost(None, "", responses)["cost_usd"] == pytest.approx(expected)
        assert expected == pytest.approx(genai("o3", "openai", input_tokens=1000) + 0.0225 + 0.0008)

    def test_a_transcription_billed_by_duration_is_priced_by_its_seconds(self) -> None:
        """whisper-1 reports seconds, not tokens ($0.36 an hour of audio)."""
        duration = {"type": "duration", "seconds": 90.0}
        out = add_cost(None, "", record("whisper-1", raw=duration))
        expected = genai("whisper-1", "openai", audio_seconds=90, input_audio_seconds=90)
        assert out["cost_usd"] == pytest.approx(expected) == pytest.approx(0.009)
        assert out["price_source"].endswith("openai:whisper-1")

    def test_speech_billed_by_characters_is_priced_by_its_input(self) -> None:
        """tts-1 bills the characters of the text it speaks ($15 a million)."""
        speech = record("tts-1", raw=None)
        speech.update(operation="audio.speech", status="ok", usage=None)
        speech["messages"] = [{"role": "user", "content": "Hello, world"}]
        assert add_cost(None, "", speech)["cost_usd"] == pytest.approx(12 * 15e-6)
        failed = {**speech, "status": "error"}  # not spoken, not billed
        assert add_cost(None, "", failed)["cost_usd"] is None

    def test_a_call_billed_in_tokens_it_did_not_report_stays_unpriced(self) -> None:
        """gpt-4o-mini-tts bills tokens the speech endpoint does not return: never $0."""
        speech = record("gpt-4o-mini-tts", raw=None)
        speech.update(operation="audio.speech", status="ok", usage=None)
        speech["messages"] = [{"role": "user", "content": "Hello"}]
        out = add_cost(None, "", speech)
        assert (out["cost_usd"], out["price_source"]) == (None, "unpriced: no usage")
        duration = {"type": "duration", "seconds": 60}
        seconds = add_cost(None, "", record("gpt-4o-transcribe", raw=duration))
        assert seconds["cost_usd"] is None  # listed by the token only
        tokens = add_cost(None, "", record("whisper-1", input_tokens=100, output_tokens=20))
        assert tokens["cost_usd"] is None  # listed by the hour only
        assert "no token rate" in tokens["price_source"]

    def test_response_model_is_preferred_over_the_requested_alias(self) -> None:
        """The dated snapshot that actually ran decides the price when the table knows it."""
        out = add_cost(
            None,
            "",
            record("gpt-4o", response_model="gpt-4o-mini-2024-07-18", input_tokens=1000),
        )
        assert out["price_source"].endswith("openai:gpt-4o-mini")

    def test_an_unknown_response_model_falls_back_to_the_requested_model(self) -> None:
        """A proxy's made-up response model does not lose a known requested model's price."""
        out = add_cost(
            None, "", record("gpt-4o", response_model="my-proxy-build-7", input_tokens=10)
        )
        assert out["price_source"].endswith("openai:gpt-4o")

    @pytest.mark.parametrize("tier", ["flex", "priority"])
    def test_an_openai_service_tier_asked_for_is_priced_at_that_tier(self, tier: str) -> None:
        """service_tier=flex costs less and priority more, as genai-prices lists them."""
        rec = record("gpt-5", input_tokens=10_000, output_tokens=2_000, cached_input_tokens=4_000)
        rec["ts"] = LATER  # genai-prices lists tier prices from 2026-10-12 on
        standard = add_cost(None, "", dict(rec))
        tiered = add_cost(None, "", {**rec, "params": {"service_tier": tier}})
        expected = calc_price(
            Usage(input_tokens=10_000, output_tokens=2_000, cache_read_tokens=4_000),
            "gpt-5",
            provider_id="openai",
            genai_request_timestamp=datetime.fromisoformat(LATER),
            price_context={"service_tier": tier},
        ).total_price
        assert tiered["cost_usd"] == pytest.approx(float(expected))
        assert (tiered["cost_usd"] < standard["cost_usd"]) is (tier == "flex")
        assert tiered["price_source"].endswith(f"openai:gpt-5 ({tier} tier)")

    @pytest.mark.parametrize(
        ("asked", "served", "priced_as"),
        [("auto", "priority", "priority"), ("priority", "default", None), (None, "flex", "flex")],
    )
    def test_the_tier_the_answer_reports_wins_over_the_one_asked(
        self, asked: str | None, served: str, priced_as: str | None
    ) -> None:
        """``auto`` may be served at priority, and a priority request at default: the bill
        follows the tier that served the call, which the record's ``service_tier`` says."""
        rec = record("gpt-5", input_tokens=10_000, output_tokens=2_000)
        rec["ts"] = LATER
        expected = add_cost(None, "", {**rec, "params": {"service_tier": priced_as or "default"}})
        params = {"service_tier": asked} if asked else {}
        out = add_cost(None, "", {**rec, "params": params, "service_tier": served})
        assert out["cost_usd"] == expected["cost_usd"]
        assert out["price_source"].endswith(f"({priced_as} tier)" if priced_as else "openai:gpt-5")

    def test_a_tier_is_priced_as_listed_on_the_day_of_the_call(self) -> None:
        """Before genai-prices lists a tier price (flex costed half then too), the call is
        unpriced with the reason, never priced at the standard rate."""
        rec = record("gpt-5", input_tokens=10_000, output_tokens=2_000)
        flex_now = add_cost(None, "", {**rec, "ts": LATER, "params": {"service_tier": "flex"}})
        flex_before = add_cost(None, "", {**rec, "params": {"service_tier": "flex"}})
        assert flex_now["cost_usd"] < add_cost(None, "", dict(rec))["cost_usd"]
        assert flex_before["cost_usd"] is None
        assert flex_before["price_source"] == (
            f"unpriced: genai-prices {genai_prices.__version__} lists no flex tier price "
            "for gpt-5 on 2026-03-01"
        )

    def test_standard_tiers_are_the_standard_price_and_unlisted_ones_unpriced(self) -> None:
        """auto / default / standard (and Anthropic's request value standard_only) are the
        standard price; scale, which genai-prices does not list, is not priced as it."""
        rec = record("gpt-4o", input_tokens=100, output_tokens=10)
        standard = add_cost(None, "", dict(rec))
        for tier in ("auto", "default", "standard", "standard_only"):
            out = add_cost(None, "", {**rec, "params": {"service_tier": tier}})
            assert out == {**standard, "params": {"service_tier": tier}}
        scale = add_cost(None, "", {**rec, "ts": LATER, "service_tier": "scale"})
        assert scale["cost_usd"] is None
        assert "lists no scale tier price for gpt-4o on 2026-11-01" in scale["price_source"]

    def test_volume_tiered_prices_follow_genai_prices(self) -> None:
        """Above a long-context threshold every token costs the tier price, as billed."""
        long = record("claude-sonnet-4-5", "anthropic", input_tokens=300_000, output_tokens=10)
        out = add_cost(None, "", long)
        expected = genai("claude-sonnet-4-5", "anthropic", input_tokens=300_000, output_tokens=10)
        assert out["cost_usd"] == pytest.approx(expected)

    @pytest.mark.parametrize(
        ("model", "provider", "largest"),
        [
            ("gpt-4o-mini", "openai", 123_456),
            ("o3", "openai", 123_456),
            ("claude-haiku-4-5", "anthropic", 66_666),  # input within its 200k context
            ("claude-sonnet-4-5", "anthropic", 123_456),  # volume tiers above 200k input
        ],
    )
    def test_fast_path_agrees_with_genai_prices_on_many_usages(
        self, model: str, provider: str, largest: int
    ) -> None:
        """The cached per-token rates give genai-prices' own answer for any usage mix."""
        for tokens in (1, 7, 999, largest):
            usage = {"input_tokens": tokens * 3, "output_tokens": tokens * 2}
            rec = record(
                model,
                provider,
                cached_input_tokens=tokens,
                reasoning_tokens=tokens,
                **usage,
            )
            expected = genai(
                model,
                provider,
                cache_read_tokens=tokens,
                output_reasoning_tokens=tokens,
                **usage,
            )
            assert add_cost(None, "", rec)["cost_usd"] == pytest.approx(expected, rel=1e-9)


def test_a_new_model_name_per_call_keeps_the_lookups_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fine-tune per tenant: every name is looked up, the cache stays within its bound
    and prices stay right after it starts again."""
    from llmlog import _cost_table

    monkeypatch.setattr(_cost_table, "_MAX_CACHED", 50)
    for n in range(400):
        out = add_cost(None, "", record(f"ft:gpt-4o:tenant-{n}", input_tokens=10, output_tokens=5))
        assert out["cost_usd"] is None
    assert len(_cost_table.current_table()._models) <= 50
    out = add_cost(None, "", record(input_tokens=1000, output_tokens=500))
    assert out["cost_usd"] == pytest.approx(
        genai("gpt-4o", "openai", input_tokens=1000, output_tokens=500)
    )


class TestUnpriced:
    def test_unknown_model_is_null_never_zero(self) -> None:
        """A model missing from the table gets cost_usd None and a reason naming it."""
        out = add_cost(None, "", record("my-finetune-xyz", input_tokens=10, output_tokens=5))
        assert out["cost_usd"] is None
        assert "my-finetune-xyz" in out["price_source"]
        assert "genai-prices" in out["price_source"]

    def test_no_usage_is_null(self) -> None:
        """A failed call without usage is unpriced, not free."""
        out = add_cost(None, "", record())
        assert (out["cost_usd"], out["price_source"]) == (None, "unpriced: no usage")

    def test_cached_tokens_beyond_input_are_refused(self) -> None:
        """Inconsistent usage is not guessed at."""
        out = add_cost(None, "", record(input_tokens=10, cached_input_tokens=20))
        assert out["cost_usd"] is None
        assert "exceed" in out["price_source"]

    @pytest.mark.parametrize("bad", ["12", -3, 1.5, True])
    def test_a_token_count_that_is_not_a_whole_number_is_unpriced(self, bad: Any) -> None:
        """Garbage in usage gives None, not an exception in the writer thread."""
        out = add_cost(None, "", record(input_tokens=bad, output_tokens=1))
        assert out["cost_usd"] is None

    @pytest.mark.parametrize(
        ("model", "provider", "raw", "reason"),
        [
            (  # gpt-4o-audio-preview bills audio ~8x text; genai-prices lists text rates only
                "gpt-4o-audio-preview",
                "openai",
                {"prompt_tokens_details": {"audio_tokens": 800, "text_tokens": 200}},
                "no audio input rate (input_audio_mtok) for gpt-4o-audio-preview",
            ),
            (
                "gpt-4o-audio-preview",
                "openai",
                {"completion_tokens_details": {"audio_tokens": 400, "text_tokens": 100}},
                "no audio output rate (output_audio_mtok) for gpt-4o-audio-preview",
            ),
            (  # web search is billed, but genai-prices lists no rate for claude-3-haiku
                "claude-3-haiku-20240307",
                "anthropic",
                {"server_tool_use": {"web_search_requests": 2}},
                "no web search rate (web_searches_kcount) for claude-3-haiku",
            ),
        ],
        ids=["audio-in", "audio-out", "web-search"],
    )
    def test_a_part_of_usage_without_its_own_rate_is_unpriced_not_priced_as_text(
        self, model: str, provider: str, raw: dict[str, Any], reason: str
    ) -> None:
        """Audio priced as text, or a search as free, would be a silent guess."""
        out = add_cost(
            None, "", record(model, provider, input_tokens=1000, output_tokens=500, raw=raw)
        )
        assert out["cost_usd"] is None
        assert out["price_source"].startswith("unpriced: ") and reason in out["price_source"]

    def test_input_past_the_listed_context_without_a_long_context_price_is_unpriced(
        self,
    ) -> None:
        """Sonnet 4's 1M-context beta bills input past 200k at a premium genai-prices does
        not list for it (it does for Sonnet 4.5): not the standard price, silently."""
        for model in ("claude-sonnet-4-20250514", "claude-sonnet-4-0"):
            long = record(model, "anthropic", input_tokens=250_000, output_tokens=10_000)
            out = add_cost(None, "", long)
            assert out["cost_usd"] is None
            assert "250000 input tokens exceed the 200000-token context" in out["price_source"]
            assert "claude-sonnet-4-0" in out["price_source"]
        usual = record("claude-sonnet-4-0", "anthropic", input_tokens=200_000, output_tokens=10)
        assert add_cost(None, "", usual)["cost_usd"] == pytest.approx(
            genai("claude-sonnet-4-0", "anthropic", input_tokens=200_000, output_tokens=10)
        )
        tiered = record("claude-sonnet-4-5", "anthropic", input_tokens=250_000, output_tokens=10)
        assert add_cost(None, "", tiered)["cost_usd"] is not None

    def test_a_record_without_model_is_unpriced(self) -> None:
        """Neither model nor response model: nothing to look up."""
        out = add_cost(None, "", record(None, input_tokens=1))
        assert out["cost_usd"] is None and out["price_source"].startswith("unpriced")


class TestThroughThePipeline:
    def test_a_real_openai_call_is_logged_with_its_cost(self) -> None:
        """cost_usd is filled on the writer thread for a call made through the real SDK."""
        body = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-2024-08-06",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "hi"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 1200,
                "completion_tokens": 30,
                "total_tokens": 1230,
                "prompt_tokens_details": {"cached_tokens": 1024},
            },
        }

        def handler(request: httpx2.Request) -> httpx2.Response:
            return httpx2.Response(200, content=json.dumps(body).encode())

        client = openai.OpenAI(
            api_key="x", http_client=httpx2.Client(transport=httpx2.MockTransport(handler))
        )
        with capture_records(redact="off") as cap:
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
            )
            (logged,) = cap.calls
        expected = genai(
            "gpt-4o-2024-08-06",
            "openai",
            input_tokens=1200,
            output_tokens=30,
            cache_read_tokens=1024,
        )
        assert logged["cost_usd"] == pytest.approx(expected, rel=1e-9)
        assert logged["price_source"].startswith("genai-prices ")

    def test_a_real_responses_call_with_web_searches_is_charged_for_them(self) -> None:
        """The record's ``output.tool_calls`` keep each web_search_call item the cost counts."""
        body = ofake.response_object()
        searches = [
            {"id": f"ws_{i}", "type": "web_search_call", "status": "completed"}
            | {"action": {"type": "search", "query": "q"}}
            for i in range(3)
        ]
        body["output"] = searches + body["output"]
        client = ofake.sync_client(lambda request: ofake.json_response(body))
        with capture_records(redact="off") as cap:
            client.responses.create(model="gpt-4o", input="hi", tools=[{"type": "web_search"}])
        [logged] = cap.calls
        expected = genai(
            ofake.SERVED_MODEL,
            "openai",
            input_tokens=30,
            output_tokens=12,
            cache_read_tokens=10,
            output_reasoning_tokens=3,
            web_searches=3,
        )
        assert logged["cost_usd"] == pytest.approx(expected)

    def test_anthropic_compaction_tokens_are_priced_too(self) -> None:
        """A compaction (a ``usage.iterations`` entry) is billed but left out of the top-level
        counts: the cost adds it; ``message`` iterations are already in the top level."""
        top = {"input_tokens": 300, "output_tokens": 50}
        iterations = [
            {"type": "compaction", "input_tokens": 4000, "output_tokens": 900}
            | {"cache_read_input_tokens": 1000, "cache_creation_input_tokens": 0},
            {"type": "message", "input_tokens": 300, "output_tokens": 50}
            | {"cache_read_input_tokens": 0, "cache_creation_input_tokens": 0},
        ]
        logged = logged_anthropic(afake.usage(**top, iterations=iterations), "claude-haiku-4-5")
        expected = genai(
            "claude-haiku-4-5",
            "anthropic",
            input_tokens=300 + 5000,
            output_tokens=50 + 900,
            cache_read_tokens=1000,
        )
        assert logged["usage"]["input_tokens"] == 300  # the call's own counts, as reported
        assert logged["cost_usd"] == pytest.approx(expected)

    @pytest.mark.parametrize("advisor_in_top_level", [True, False])
    def test_an_advisors_tokens_are_priced_at_the_advisors_rate(
        self, advisor_in_top_level: bool
    ) -> None:
        """An executor consulting an advisor: each model's iterations at its own price, the
        web search fee once, whether the top level counts the advisor's tokens or not."""
        executor, advisor = "claude-haiku-4-5", "claude-opus-4-1"
        turns = [
            {"type": "message", "input_tokens": 300, "output_tokens": 40},
            {"type": "advisor_message", "model": advisor, "input_tokens": 900},
            {"type": "message", "input_tokens": 700, "output_tokens": 60},
        ]
        turns[1]["output_tokens"] = 500
        iterations = [
            turn | {"cache_read_input_tokens": 100, "cache_creation_input_tokens": 0}
            for turn in turns
        ]
        top = {"input_tokens": 1000, "output_tokens": 100, "cache_read": 200}
        if advisor_in_top_level:
            top = {"input_tokens": 1900, "output_tokens": 600, "cache_read": 300}
        usage = afake.usage(**top, iterations=iterations)
        usage["server_tool_use"] = {"web_search_requests": 1}
        logged = logged_anthropic(usage, executor)
        executor_cost = genai(
            executor,
            "anthropic",
            input_tokens=1200,
            output_tokens=100,
            cache_read_tokens=200,
            web_searches=1,
        )
        advisor_cost = genai(
            advisor, "anthropic", input_tokens=1000, output_tokens=500, cache_read_tokens=100
        )
        assert logged["cost_usd"] == pytest.approx(executor_cost + advisor_cost)
        assert f"anthropic:{executor}" in logged["price_source"]
        assert f"anthropic:{advisor}" in logged["price_source"]

    def test_iterations_that_do_not_add_up_leave_one_model_priced(self) -> None:
        """Entries that do not account for the top-level counts are not split on a guess."""
        iterations = [
            {"type": "message", "model": "claude-opus-4-1", "input_tokens": 1000}
            | {"output_tokens": 0, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0},
            {"type": "fallback_message", "model": "claude-haiku-4-5", "input_tokens": 1000}
            | {"output_tokens": 10, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0},
        ]
        usage = afake.usage(input_tokens=1000, output_tokens=10, iterations=iterations)
        logged = logged_anthropic(usage, "claude-haiku-4-5", asked="claude-opus-4-1")
        expected = genai("claude-haiku-4-5", "anthropic", input_tokens=1000, output_tokens=10)
        assert logged["cost_usd"] == pytest.approx(expected)
        assert logged["price_source"].endswith("anthropic:claude-haiku-4-5")


def chat_answer(model: str, **extra: Any) -> httpx2.Response:
    """A chat completion answered by ``model`` (10k tokens in, 2k out)."""
    usage = {"prompt_tokens": 10_000, "completion_tokens": 2_000, "total_tokens": 12_000}
    body = ofake.chat_completion() | {"model": model, "usage": usage} | extra
    return ofake.json_response(body)


def logged_chat(client: Any, model: str = "gpt-4o") -> dict[str, Any]:
    with capture_records(redact="off") as cap:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    [logged] = cap.calls
    return logged


def priced_at(
    model: str, provider: str, context: dict[str, str] | None = None, **usage: int
) -> float:
    """genai-prices' own price for a call made now (the pipeline's records are dated now)."""
    result = calc_price(Usage(**usage), model, provider_id=provider, price_context=context)
    return float(result.total_price)


class TestWhereAndHowTheCallRan:
    def test_values_that_mean_standard_are_priced_standard(self) -> None:
        """Groq says ``service_tier: on_demand`` in every answer; Anthropic says
        ``inference_geo: not_available`` where no residency applies: no premium either."""
        groq = ofake.sync_client(
            lambda r: chat_answer("llama-3.3-70b-versatile", service_tier="on_demand"),
            base_url="https://api.groq.com/openai/v1",
        )
        logged = logged_chat(groq, "llama-3.3-70b-versatile")
        tokens = {"input_tokens": 10_000, "output_tokens": 2_000}
        assert logged["cost_usd"] == pytest.approx(
            priced_at("llama-3.3-70b-versatile", "groq", **tokens)
        )
        usage = afake.usage(1000, 500, inference_geo="not_available")
        anthropic_record = logged_anthropic(usage, "claude-sonnet-4-6")
        assert anthropic_record["cost_usd"] == pytest.approx(
            priced_at("claude-sonnet-4-6", "anthropic", input_tokens=1000, output_tokens=500)
        )

    def test_a_gateway_serving_another_providers_model_prices_it_there(self) -> None:
        """Claude through LiteLLM on localhost with the OpenAI SDK: Anthropic's price."""
        client = ofake.sync_client(
            lambda r: chat_answer("claude-sonnet-4-5"), base_url="http://localhost:4000/v1"
        )
        logged = logged_chat(client, "claude-sonnet-4-5")
        tokens = {"input_tokens": 10_000, "output_tokens": 2_000}
        assert logged["cost_usd"] == pytest.approx(
            priced_at("claude-sonnet-4-5", "anthropic", **tokens)
        )
        assert logged["price_source"].endswith("anthropic:claude-sonnet-4-5 via localhost")

    @pytest.mark.parametrize(
        ("base_url", "model"),
        [
            ("http://localhost:11434/v1", "deepseek-r1:7b"),  # Ollama's tag
            ("http://localhost:8000/v1", "deepseek-r1-distill-qwen-32b"),  # vLLM
        ],
    )
    def test_an_open_model_served_locally_is_not_priced_at_a_providers_api(
        self, base_url: str, model: str
    ) -> None:
        """genai-prices' DeepSeek entry takes any ``deepseek-r1*`` name for its API's
        ``deepseek-reasoner``: a distilled or quantized copy run by the app's own server
        was billed at DeepSeek's price (0.685 USD for 1M in and out). Unpriced, saying so;
        a dated name of a provider's model through the same kind of host still is priced."""
        client = ofake.sync_client(lambda r: chat_answer(model), base_url=base_url)
        logged = logged_chat(client, model)
        assert logged["cost_usd"] is None
        assert logged["price_source"].startswith(f"unpriced: model {model!r}")
        tokens = {"input_tokens": 10_000, "output_tokens": 2_000}
        for name, provider in [
            ("claude-sonnet-4-5-20250929", "anthropic"),
            ("claude-sonnet-4-20250514", "anthropic"),  # matched by genai-prices' aliases
            ("grok-4-latest", "x-ai"),
            ("deepseek-r1-0528", "deepseek"),  # DeepSeek's own name for its API's model
        ]:
            client = ofake.sync_client(lambda r, name=name: chat_answer(name), base_url=base_url)
            assert logged_chat(client, name)["cost_usd"] == pytest.approx(
                priced_at(name, provider, **tokens)
            ), name

    @pytest.mark.parametrize(
        ("usage", "expected", "source"),
        [
            ({"cost": 0.0745}, 0.0745, "openrouter usage.cost"),
            (
                {"cost": 0.002, "is_byok": True, "cost_details": {"upstream_inference_cost": 0.04}},
                0.042,
                "openrouter usage.cost + upstream_inference_cost (BYOK)",
            ),
            (  # not BYOK: the upstream cost is part of what OpenRouter billed
                {"cost": 0.04, "is_byok": False, "cost_details": {"upstream_inference_cost": 0.04}},
                0.04,
                "openrouter usage.cost",
            ),
        ],
    )
    def test_openrouter_is_priced_at_what_it_says_it_billed(
        self, usage: dict[str, Any], expected: float, source: str
    ) -> None:
        """OpenRouter routes a model to one of several upstream providers, each at its own
        price: the amount its answer reports is the call's cost, not the table's."""
        tokens = {"prompt_tokens": 10_000, "completion_tokens": 2_000, "total_tokens": 12_000}
        body = {"model": "deepseek/deepseek-r1", "usage": tokens | usage}
        client = ofake.sync_client(
            lambda r: ofake.json_response(ofake.chat_completion() | body),
            base_url="https://openrouter.ai/api/v1",
        )
        logged = logged_chat(client, "deepseek/deepseek-r1")
        assert (logged["cost_usd"], logged["price_source"]) == (pytest.approx(expected), source)

    def test_openrouter_without_a_reported_cost_is_priced_from_the_table(self) -> None:
        client = ofake.sync_client(
            lambda r: chat_answer("deepseek/deepseek-r1"), base_url="https://openrouter.ai/api/v1"
        )
        logged = logged_chat(client, "deepseek/deepseek-r1")
        assert logged["price_source"].endswith("openrouter:deepseek/deepseek-r1")
        assert logged["cost_usd"] > 0

    def test_the_server_is_the_one_the_call_went_to(self) -> None:
        """The app points its client elsewhere before the record is built (here: while its
        stream is open): the record names the server the call went to."""
        fake = ofake.default_fake()
        client = ofake.sync_client(fake)
        with capture_records(redact="off") as cap:
            stream = client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            client.base_url = "https://api.together.xyz/v1"  # type: ignore[assignment]
            list(stream)
        [logged] = cap.calls
        assert logged["server_address"] == "api.openai.com"

    def test_a_tier_genai_prices_lists_no_price_for_is_unpriced_not_standard(self) -> None:
        """Priority served where genai-prices has no priority price (OpenAI gpt-5.4-nano,
        Anthropic at all) is not billed at the standard rate; a listed one is priced."""
        nano = ofake.sync_client(lambda r: chat_answer("gpt-5.4-nano", service_tier="priority"))
        logged = logged_chat(nano, "gpt-5.4-nano")
        assert logged["cost_usd"] is None
        assert "lists no priority tier price for gpt-5.4-nano" in logged["price_source"]
        listed = ofake.sync_client(lambda r: chat_answer("gpt-4.1", service_tier="priority"))
        logged = logged_chat(listed, "gpt-4.1")
        tokens = {"input_tokens": 10_000, "output_tokens": 2_000}
        expected = priced_at("gpt-4.1", "openai", {"service_tier": "priority"}, **tokens)
        assert logged["cost_usd"] == pytest.approx(expected)
        assert logged["price_source"].endswith("openai:gpt-4.1 (priority tier)")
        priority = afake.usage(10_000, 2_000, service_tier="priority")
        logged = logged_anthropic(priority, "claude-opus-4-5")
        assert logged["cost_usd"] is None
        assert "lists no priority tier price for claude-opus-4-5" in logged["price_source"]

    def test_anthropic_fast_mode_is_priced_at_the_fast_price(self) -> None:
        """``usage.speed: fast`` (else the ``speed`` asked) costs genai-prices' fast price;
        a model it lists no fast price for is unpriced, not billed at the standard rate."""
        tokens = {"input_tokens": 10_000, "output_tokens": 2_000}
        fast = priced_at("claude-opus-5", "anthropic", {"speed": "fast"}, **tokens)
        assert fast == pytest.approx(2 * priced_at("claude-opus-5", "anthropic", **tokens))
        served = logged_anthropic(afake.usage(10_000, 2_000, speed="fast"), "claude-opus-5")
        assert served["cost_usd"] == pytest.approx(fast)
        assert served["price_source"].endswith("anthropic:claude-opus-5 (fast mode)")
        body = afake.message(usage_body=afake.usage(10_000, 2_000)) | {"model": "claude-opus-5"}
        client = afake.sync_client(afake.json_handler(body))
        with capture_records(redact="off", disabled_providers=("openai",)) as cap:
            client.messages.create(
                model="claude-opus-5", max_tokens=5, messages=afake.user(), speed="fast"
            )
        [asked] = cap.calls
        assert asked["cost_usd"] == pytest.approx(fast)
        unlisted = logged_anthropic(afake.usage(10_000, 2_000, speed="fast"), "claude-opus-4-6")
        assert unlisted["cost_usd"] is None
        assert (
            "lists no fast mode price (speed: fast) for claude-opus-4-6"
            in (unlisted["price_source"])
        )

    def test_a_us_inference_geo_is_unpriced(self) -> None:
        """``inference_geo: us`` bills 1.1x, which genai-prices does not list; global is
        the standard price."""
        us = logged_anthropic(afake.usage(10_000, 2_000, inference_geo="us"), "claude-opus-4-6")
        assert us["cost_usd"] is None
        assert us["price_source"].startswith("unpriced: inference_geo 'us' bills a premium")
        world = logged_anthropic(
            afake.usage(10_000, 2_000, inference_geo="global"), "claude-opus-4-6"
        )
        tokens = {"input_tokens": 10_000, "output_tokens": 2_000}
        assert world["cost_usd"] == pytest.approx(
            priced_at("claude-opus-4-6", "anthropic", **tokens)
        )

    @pytest.mark.parametrize(
        ("base_url", "host", "model", "source"),
        [
            (None, "api.openai.com", "gpt-4o", "openai:gpt-4o"),
            (
                "https://api.cerebras.ai/v1",
                "api.cerebras.ai",
                "gpt-oss-120b",
                "cerebras:gpt-oss-120b",
            ),
            ("https://api.groq.com/openai/v1", "api.groq.com", "llama-3.3-70b-versatile", "groq:"),
            (
                "https://oai.helicone.ai/v1",
                "oai.helicone.ai",
                "gpt-4o",
                "openai:gpt-4o via oai.helicone.ai",
            ),
            (
                "http://LocalHost:8000/v1",
                "localhost",
                "gpt-4o",
                "openai:gpt-4o via localhost",
            ),
            ("https://llm.corp.example/v1", "llm.corp.example", "gpt-4o", "via llm.corp.example"),
            (
                "https://myws.cloud.databricks.com/serving-endpoints",
                "myws.cloud.databricks.com",
                "databricks-kimi-k3",
                "databricks:databricks-kimi-k3",
            ),
        ],
        ids=["openai", "cerebras", "groq", "gateway", "local", "company-gateway", "databricks"],
    )
    def test_a_server_reached_through_the_openai_sdk_is_priced_at_its_own_price(
        self, base_url: str | None, host: str, model: str, source: str
    ) -> None:
        """The record names the server the client talked to (``server_address``); it is
        priced at that provider's price: gpt-oss-120b costs something else at Cerebras
        than at OpenAI. A host genai-prices does not know is taken for a gateway in front
        of the SDK's provider (LiteLLM on localhost, a company's), and named."""
        options = {"base_url": base_url} if base_url else {}
        client = ofake.sync_client(lambda r: chat_answer(model), **options)
        logged = logged_chat(client, model)
        assert logged["server_address"] == host
        provider = source.split(":")[0] if ":" in source else "openai"
        tokens = {"input_tokens": 10_000, "output_tokens": 2_000}
        assert logged["cost_usd"] == pytest.approx(priced_at(model, provider, **tokens))
        assert source in logged["price_source"]
        assert ("via" in source) == (" via " in logged["price_source"])

    def test_hugging_faces_router_is_priced_at_the_provider_the_model_names(self) -> None:
        """``model:provider`` picks who serves it there (genai-prices' ``huggingface_*``);
        without the suffix the router picks, and the call is unpriced, saying why."""
        client = ofake.sync_client(
            lambda r: chat_answer("openai/gpt-oss-120b"),
            base_url="https://router.huggingface.co/v1",
        )
        logged = logged_chat(client, "openai/gpt-oss-120b:cerebras")
        tokens = {"input_tokens": 10_000, "output_tokens": 2_000}
        expected = priced_at("openai/gpt-oss-120b", "huggingface_cerebras", **tokens)
        assert logged["cost_usd"] == pytest.approx(expected)
        assert "huggingface_cerebras:openai/gpt-oss-120b" in logged["price_source"]
        unnamed = logged_chat(client, "openai/gpt-oss-120b")
        assert unnamed["cost_usd"] is None
        assert "':provider'" in unnamed["price_source"]

    def test_an_azure_deployment_is_priced_at_openai_prices(self) -> None:
        client = ofake.azure_client(lambda r: chat_answer("gpt-4o-2024-08-06"))
        logged = logged_chat(client, "prod-chat")
        assert logged["server_address"] == "example-resource.openai.azure.com"
        assert logged["price_source"].endswith("openai:gpt-4o")

    @pytest.mark.parametrize(
        ("profile", "genai_model"),
        [
            (
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "regional.anthropic.claude-sonnet-4-5",
            ),
            (
                "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "global.anthropic.claude-sonnet-4-5",
            ),
        ],
    )
    def test_bedrock_inference_profiles_are_priced_at_bedrock_prices(
        self, profile: str, genai_model: str
    ) -> None:
        """A regional (``us.``) profile costs 10% more than the first-party price, a global
        one the same: priced with genai-prices' aws table and the profile asked for (the
        answer names the plain model)."""
        import anthropic

        body = afake.message(usage_body=afake.usage(10_000, 2_000))
        body["model"] = "claude-sonnet-4-5-20250929"
        client = anthropic.AnthropicBedrock(
            api_key="k",
            aws_region="us-east-1",
            http_client=httpx2.Client(transport=httpx2.MockTransport(afake.json_handler(body))),
            max_retries=0,
        )
        with capture_records(redact="off", disabled_providers=("openai",)) as cap:
            client.messages.create(model=profile, max_tokens=5, messages=afake.user())
        [logged] = cap.calls
        assert logged["server_address"] == "bedrock-runtime.us-east-1.amazonaws.com"
        tokens = {"input_tokens": 10_000, "output_tokens": 2_000}
        first_party = priced_at("claude-sonnet-4-5", "anthropic", **tokens)
        assert logged["cost_usd"] == pytest.approx(priced_at(profile, "aws", **tokens))
        assert logged["cost_usd"] == pytest.approx(
            first_party * (1.1 if profile.startswith("us.") else 1)
        )
        assert f"aws:{genai_model}" in logged["price_source"]

    @pytest.mark.skipif(not ofake.HAS_DECISIONS, reason="this openai SDK has no decisions")
    def test_decisions_are_priced_with_their_own_entry(self) -> None:
        """genai-prices lists Decisions as ``openai-decisions``: input only, cache subsets
        at the input rate (the chat table would charge output and cut cached input)."""
        body = ofake.decision_object()
        body["usage"] = ofake.input_output_usage(100_000, 40_000, 10_000, 500, 0)
        client = ofake.sync_client(lambda r: ofake.json_response(body))
        with capture_records(redact="off") as cap:
            client.decisions.create(  # type: ignore[attr-defined]
                model="gpt-6-luna",
                input="BUY NOW",
                questions=[{"type": "predicate", "name": "is_spam", "question": "spam?"}],
            )
        [logged] = cap.calls
        usage = Usage(
            input_tokens=100_000,
            output_tokens=500,
            cache_read_tokens=40_000,
            cache_write_tokens=10_000,
        )
        expected = calc_price(usage, "gpt-6-luna", provider_id="openai-decisions").total_price
        assert logged["cost_usd"] == pytest.approx(float(expected)) == pytest.approx(0.01)
        assert logged["price_source"].endswith("openai-decisions:gpt-6-luna")

    def test_a_streamed_image_is_priced_at_the_image_output_rate(self) -> None:
        """The stream's completed event has no output split: its output tokens are the
        image's (the SDK: "the number of image tokens in the output image"), priced as the
        plain call that reports the split, not at the text rate (a third of it)."""
        usage = {"input_tokens": 600, "output_tokens": 4160, "total_tokens": 4760}
        usage["input_tokens_details"] = {"text_tokens": 100, "image_tokens": 500}
        image = {"b64_json": "aW1n", "background": "opaque", "created_at": 1}
        image |= {"output_format": "png", "quality": "high", "size": "1024x1024"}
        events = [
            {"type": "image_generation.partial_image", "partial_image_index": 0} | image,
            {"type": "image_generation.completed", "usage": usage} | image,
        ]
        split = usage | {"output_tokens_details": {"image_tokens": 4160, "text_tokens": 0}}
        plain = {"created": 1, "data": [{"b64_json": "aW1n"}], "usage": split}
        streamed_client = ofake.sync_client(
            lambda r: ofake.sse_response(events, named=True, done=False)
        )
        plain_client = ofake.sync_client(lambda r: ofake.json_response(plain))
        with capture_records(redact="off") as cap:
            stream = streamed_client.images.generate(
                model="gpt-image-1.5", prompt="cat", stream=True, partial_images=1
            )
            for _ in stream:
                pass
            plain_client.images.generate(model="gpt-image-1.5", prompt="cat")
        streamed, answered = cap.calls
        assert streamed["stream"] is True
        assert streamed["cost_usd"] == pytest.approx(answered["cost_usd"])
        as_text = priced_at("gpt-image-1.5", "openai", input_tokens=600, output_tokens=4160)
        assert streamed["cost_usd"] > 2 * as_text
