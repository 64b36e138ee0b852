"""A Response's ``tool_usage`` (hosted tools' usage, apart from the model's): kept in the
record and priced, through real openai clients, plain and streamed."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import genai_prices
import pytest
from genai_prices import Usage, calc_price

import openai_fakes as fakes
from llmlog.cost import add_cost
from llmlog.testing import CapturedRecords, capture_records

VERSION = f"genai-prices {genai_prices.__version__}"
MAIN = f"{VERSION} openai:gpt-4.1"


@pytest.fixture
def llm() -> Iterator[CapturedRecords]:
    with capture_records(redact="off") as cap:
        yield cap


def genai(model: str, **usage: int) -> float:
    return float(Decimal(calc_price(Usage(**usage), model, provider_id="openai").total_price))


def text_cost() -> float:
    return genai("gpt-4.1", input_tokens=100, output_tokens=20)


def web_search_call(number: int, action: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"ws_{number}",
        "type": "web_search_call",
        "status": "completed",
        "action": action,
    }


SEARCH_AND_BROWSE = [
    web_search_call(1, {"type": "search", "query": "weather Paris"}),
    web_search_call(2, {"type": "open_page", "url": "https://example.com"}),
    web_search_call(3, {"type": "find_in_page", "url": "https://example.com", "pattern": "rain"}),
]
IMAGE_CALL = [
    {"id": "ig_1", "type": "image_generation_call", "status": "completed", "result": "aGk="}
]


def tool_usage(
    searches: int = 0, image_in: int = 0, image_out: int = 0, **image: Any
) -> dict[str, Any]:
    """``tool_usage`` as openai 3.57 declares it: zeros for a tool that was not used."""
    return {
        "image_gen": {
            "input_tokens": image_in,
            "input_tokens_details": {"image_tokens": 0, "text_tokens": image_in},
            "output_tokens": image_out,
            "total_tokens": image_in + image_out,
            **image,
        },
        "web_search": {"num_requests": searches},
    }


def response_body(items: list[dict[str, Any]], usage: dict[str, Any] | None) -> dict[str, Any]:
    """A gpt-4.1 Response (100 input, 20 output tokens) with ``items`` before its message."""
    body = fakes.response_object(model="gpt-4.1")
    body["output"] = items + body["output"][1:]
    body["usage"] = fakes.input_output_usage(100, 0, 0, 20, 0)
    if usage is not None:
        body["tool_usage"] = usage
    return body


def answer(body: dict[str, Any], streamed: bool) -> fakes.Handler:
    """A handler answering with ``body``, or with its events ending in response.completed."""
    if not streamed:
        return lambda request: fakes.json_response(body)
    started = {**copy.deepcopy(body), "status": "in_progress", "output": [], "usage": None}
    started.pop("tool_usage", None)
    events: list[dict[str, Any]] = [{"type": "response.created", "response": started}]
    events += [
        {"type": "response.output_item.done", "output_index": index, "item": item}
        for index, item in enumerate(body["output"])
    ]
    events.append({"type": "response.completed", "response": body})
    for number, event in enumerate(events):
        event["sequence_number"] = number
    return lambda request: fakes.sse_response(events, named=True, done=False)


def logged(
    llm: CapturedRecords, body: dict[str, Any], streamed: bool, **arguments: Any
) -> dict[str, Any]:
    """The record of one real ``responses.create`` answered with ``body`` (``arguments``
    over a plain default call)."""
    client = fakes.sync_client(answer(body, streamed))
    create: Any = client.responses.create  # tools as plain dicts, stream either way
    result = create(**{"model": "gpt-4.1", "input": "Hi", "stream": streamed, **arguments})
    if streamed:
        list(result)
    [record] = llm.calls
    return record


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
class TestWebSearch:
    def test_only_the_billable_searches_are_priced_not_opening_a_page(
        self, llm: CapturedRecords, streamed: bool
    ) -> None:
        """One search and two page actions: tool_usage bills one search ($10 a thousand),
        not three, and the record keeps tool_usage beside the model's raw usage."""
        usage = tool_usage(searches=1)
        body = response_body(SEARCH_AND_BROWSE, usage)
        record = logged(llm, body, streamed, tools=[{"type": "web_search"}])
        assert record["usage"]["raw"]["tool_usage"] == usage
        assert record["usage"]["raw"]["input_tokens"] == 100
        assert record["usage"]["input_tokens"] == 100
        expected = genai("gpt-4.1", input_tokens=100, output_tokens=20, web_searches=1)
        assert record["cost_usd"] == pytest.approx(expected) == pytest.approx(text_cost() + 0.01)
        assert record["price_source"] == MAIN

    def test_without_tool_usage_every_search_item_is_counted(
        self, llm: CapturedRecords, streamed: bool
    ) -> None:
        """Older SDKs and other servers send no tool_usage: each item is one search."""
        record = logged(llm, response_body(SEARCH_AND_BROWSE, None), streamed, tools=[])
        assert "tool_usage" not in record["usage"]["raw"]
        assert record["cost_usd"] == pytest.approx(text_cost() + 0.03)


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
class TestImageGeneration:
    def test_image_tokens_are_priced_at_the_tool_model(
        self, llm: CapturedRecords, streamed: bool
    ) -> None:
        """4160 image tokens from gpt-image-1.5 cost $32 a million on top of gpt-4.1's."""
        body = response_body(IMAGE_CALL, tool_usage(image_in=50, image_out=4160))
        tools = [{"type": "image_generation", "model": "gpt-image-1.5"}]
        record = logged(llm, body, streamed, tools=tools)
        image = genai(
            "gpt-image-1.5", input_tokens=50, output_tokens=4160, output_image_tokens=4160
        )
        assert image == pytest.approx(50 * 5e-6 + 4160 * 32e-6)
        assert record["cost_usd"] == pytest.approx(text_cost() + image)
        assert record["price_source"] == (
            f"{MAIN} + {VERSION} openai:gpt-image-1.5 (image_generation tool)"
        )

    @pytest.mark.parametrize(
        ("tool", "model"),
        [
            ({"type": "image_generation"}, "gpt-image-2.6-sunburst"),
            ({"type": "image_generation", "model": "gpt-image-9"}, "gpt-image-9"),
        ],
        ids=["default-model", "named-model"],
    )
    def test_an_image_model_without_a_price_leaves_the_call_unpriced(
        self, llm: CapturedRecords, streamed: bool, tool: dict[str, Any], model: str
    ) -> None:
        """Never the text alone: the reason names the image model, the default one when the
        tool names none (gpt-image-2.6-sunburst, which genai-prices 0.2.3 does not list)."""
        body = response_body(IMAGE_CALL, tool_usage(image_in=50, image_out=4160))
        record = logged(llm, body, streamed, tools=[tool])
        assert record["cost_usd"] is None
        assert record["price_source"].startswith("unpriced: ")
        assert f"model {model!r} is not in {VERSION}" in record["price_source"]
        assert record["price_source"].endswith("(image_generation tool)")

    def test_a_tool_usage_of_zeros_changes_nothing(
        self, llm: CapturedRecords, streamed: bool
    ) -> None:
        """openai 3.57 servers send zeros for tools not used: a text call costs the same."""
        record = logged(llm, response_body([], tool_usage()), streamed, tools=[])
        assert record["cost_usd"] == pytest.approx(text_cost())
        assert record["price_source"] == MAIN


def priced(image: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A Responses record with ``image`` as its tool_usage.image_gen, priced."""
    record = {
        "provider": "openai",
        "operation": "responses",
        "model": "gpt-4.1",
        "ts": "2026-11-01T12:00:00+00:00",
        "params": params,
        "usage": {
            "input_tokens": 100,
            "output_tokens": 20,
            "raw": {"tool_usage": {"image_gen": image, "web_search": {"num_requests": 0}}},
        },
    }
    return add_cost(None, "", record)


class TestImageUsageShapes:
    def test_no_image_generation_tool_in_the_request_is_unpriced(self) -> None:
        """The tool came from a stored prompt: which image model ran is unknown."""
        out = priced(tool_usage(image_out=4160)["image_gen"], {"prompt": {"id": "pmpt_1"}})
        assert out["cost_usd"] is None
        assert "no image_generation tool" in out["price_source"]

    def test_the_image_split_and_cached_image_tokens_are_priced_at_their_rates(self) -> None:
        """Input image tokens at the image rate, the cached ones at the cached image rate,
        text output at the text rate when the output split says so."""
        image = {
            "input_tokens": 1000,
            "input_tokens_details": {"image_tokens": 800, "text_tokens": 200},
            "output_tokens": 4000,
            "output_tokens_details": {"image_tokens": 3900, "text_tokens": 100},
            "total_tokens": 5000,
            "cached_tokens": 500,
            "cached_tokens_details": {"cached_image_tokens": 400, "cached_text_tokens": 100},
        }
        tools = [{"type": "image_generation", "model": "gpt-image-1.5"}]
        out = priced(image, {"tools": tools})
        expected = genai(
            "gpt-image-1.5",
            input_tokens=1000,
            input_image_tokens=800,
            cache_read_tokens=500,
            cache_image_read_tokens=400,
            output_tokens=4000,
            output_image_tokens=3900,
        )
        assert expected == pytest.approx(
            (100 * 5 + 400 * 8 + 100 * 1.25 + 400 * 2 + 100 * 10 + 3900 * 32) / 1e6
        )
        main = genai("gpt-4.1", input_tokens=100, output_tokens=20)
        assert out["cost_usd"] == pytest.approx(main + expected)


def test_an_http_body_without_tool_usage_keeps_the_raw_usage_as_sent(
    llm: CapturedRecords,
) -> None:
    """No tool_usage in the answer: the raw usage is the provider's, nothing added."""
    client = fakes.sync_client(lambda request: fakes.json_response(response_body([], None)))
    client.responses.create(model="gpt-4.1", input="Hi")
    [record] = llm.calls
    assert record["usage"]["raw"] == fakes.input_output_usage(100, 0, 0, 20, 0)
