"""How an OpenAI stream's events become the record's output, through real clients: choices
kept apart, Responses output items rebuilt as the SDK rebuilds them, the structured answer
parsed from the final answer, and ``ttft_ms`` taken at the first model output."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pydantic
import pytest

import llmlog.testing
import openai_fakes as fakes
from llmlog.testing import CapturedRecords
from stream_texts import keep_chunk_objects


@pytest.fixture
def llm() -> Iterator[CapturedRecords]:
    with llmlog.testing.capture_records(redact="off") as cap:
        yield cap


def numbered(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events with their ``sequence_number`` in order, as the API sends them."""
    count = itertools.count()
    return [{**event, "sequence_number": next(count)} for event in events]


NEEDS_OUTPUTLESS_CREATED = pytest.mark.skipif(
    tuple(int(n) for n in openai.__version__.split(".")[:2]) < (3, 31),
    reason="before openai 3.31 responses.stream() fails on a response.created without output",
)


def response(**fields: Any) -> dict[str, Any]:
    """A Response without its output (``in_progress`` unless told)."""
    body = {**fakes.response_object(), "status": "in_progress", "usage": None, **fields}
    del body["output"]
    return body


def message(text: str, item_id: str, **fields: Any) -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": fields.pop("annotations", [])}
    return {
        "type": "message",
        "id": item_id,
        "role": "assistant",
        "status": "completed",
        "content": [part],
        **fields,
    }


def streamed_message(index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
    """A message's events: added (empty), its part, its text in one delta, done."""
    text = item["content"][0]["text"]
    place = {"output_index": index, "item_id": item["id"], "content_index": 0}
    return [
        {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {**item, "status": "in_progress", "content": []},
        },
        {
            "type": "response.content_part.added",
            **place,
            "part": {"type": "output_text", "text": "", "annotations": []},
        },
        {"type": "response.output_text.delta", **place, "delta": text, "logprobs": []},
        {"type": "response.output_text.done", **place, "text": text, "logprobs": []},
        {"type": "response.output_item.done", "output_index": index, "item": item},
    ]


def sse(events: list[dict[str, Any]]) -> fakes.Handler:
    return lambda _: fakes.sse_response(events, named=True, done=False)


def same_teed_or_not(
    llm: CapturedRecords, monkeypatch: pytest.MonkeyPatch, read: Callable[[], object]
) -> dict[str, Any]:
    """The record of ``read()`` (a stream read through), the same from the events' texts
    as from the SDK's chunk objects."""

    def record() -> dict[str, Any]:
        read()
        fields = ("status", "error", "output", "usage", "response_id", "response_model")
        return {name: llm.calls[-1][name] for name in fields}

    teed = record()
    keep_chunk_objects(monkeypatch)
    assert record() == teed
    return teed


class TestLegacyCompletionChoices:
    def test_each_choice_keeps_its_text_and_finish(
        self, llm: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """``n=2``: the choices' pieces interleave; each choice is recorded apart (choice 0
        the output, every choice in ``output.choices``, like a chat stream's), from the
        events' texts as from the SDK's chunk objects."""

        def piece(index: int, text: str, finish: str | None = None) -> dict[str, Any]:
            choice = {"index": index, "text": text, "finish_reason": finish, "logprobs": None}
            return {**fakes.completion_object(), "choices": [choice], "usage": None}

        chunks = [piece(0, "A1"), piece(1, "B1"), piece(0, "A2", "stop"), piece(1, "B2", "length")]
        client = fakes.sync_client(lambda _: fakes.sse_response(chunks))
        request: dict[str, Any] = {
            "model": "gpt-3.5-turbo-instruct",
            "prompt": "x",
            "n": 2,
            "stream": True,
        }
        record = same_teed_or_not(
            llm, monkeypatch, lambda: list(client.completions.create(**request))
        )
        output = record["output"]
        assert (output["text"], output["finish_reason"]) == ("A1A2", "stop")
        assert [(c["text"], c["finish_reason"]) for c in output["choices"]] == [
            ("A1A2", "stop"),
            ("B1B2", "length"),
        ]
        assert record["status"] == "ok"


CITATION = {
    "type": "url_citation",
    "url": "https://example.com/a",
    "title": "A",
    "start_index": 0,
    "end_index": 6,
}


class TestCompletedWithoutOutput:
    """``response.completed`` may leave ``output`` out: the SDK takes the items from their
    ``response.output_item.done`` events, in ``output_index`` order."""

    def events(self, *more: dict[str, Any]) -> list[dict[str, Any]]:
        first = message("First.", "msg_0", annotations=[CITATION])
        second = message(" Second.", "msg_1")
        return numbered(
            [
                {"type": "response.created", "response": response()},
                *streamed_message(1, second),  # streamed before the item at index 0
                *streamed_message(0, first),
                *more,
                {"type": "response.completed", "response": response(status="completed")},
            ]
        )

    @NEEDS_OUTPUTLESS_CREATED
    def test_the_stream_helper_records_what_the_sdk_rebuilt(
        self, llm: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Text in output order, with the annotations only the done items carry."""
        client = fakes.sync_client(sse(self.events()))
        finals: list[Any] = []

        def read() -> None:
            with client.responses.stream(model="gpt-5", input="hi") as stream:
                finals.append(stream.get_final_response())

        record = same_teed_or_not(llm, monkeypatch, read)
        final = finals[0]
        assert record["output"]["text"] == final.output_text == "First. Second."
        annotations = [a.model_dump() for item in final.output for a in item.content[0].annotations]
        assert record["output"]["citations"] == annotations == [CITATION]
        assert (record["status"], record["output"]["finish_reason"]) == ("ok", "completed")

    def test_an_item_never_done_comes_from_its_deltas(
        self, llm: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A function call whose done event never came (a plain stream: the SDK does not
        check): its arguments from the deltas, after the done items before it."""
        call = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f"}
        place = {"output_index": 2, "item_id": "fc_1"}
        events = self.events(
            {
                "type": "response.output_item.added",
                "output_index": 2,
                "item": {**call, "arguments": "", "status": "in_progress"},
            },
            *(
                {"type": "response.function_call_arguments.delta", **place, "delta": piece}
                for piece in ('{"a"', ":1}")
            ),
        )
        client = fakes.sync_client(sse(events))
        record = same_teed_or_not(
            llm,
            monkeypatch,
            lambda: list(client.responses.create(model="gpt-5", input="hi", stream=True)),
        )
        assert record["output"]["text"] == "First. Second."
        assert record["output"]["citations"] == [CITATION]
        assert record["output"]["tool_calls"] == [
            {"id": "call_1", "type": "function", "name": "f", "arguments": '{"a":1}'}
        ]


class City(pydantic.BaseModel):
    city: str


class TestStructuredAnswerPhase:
    @NEEDS_OUTPUTLESS_CREATED
    @pytest.mark.parametrize("commentary", ["Let me look that up.", '{"city": "Lyon"}'])
    def test_only_the_final_answer_is_parsed(
        self, llm: CapturedRecords, monkeypatch: pytest.MonkeyPatch, commentary: str
    ) -> None:
        """``responses.stream(text_format=...)``: a commentary message before the final
        answer is not the answer; ``output.parsed`` is what the SDK parsed."""
        items = [
            message(commentary, "msg_0", phase="commentary"),
            message('{"city": "Paris"}', "msg_1", phase="final_answer"),
        ]
        events = numbered(
            [
                {"type": "response.created", "response": response()},
                *streamed_message(0, items[0]),
                *streamed_message(1, items[1]),
                {
                    "type": "response.completed",
                    "response": {**response(status="completed"), "output": items},
                },
            ]
        )
        client = fakes.sync_client(sse(events))
        finals: list[Any] = []

        def read() -> None:
            with client.responses.stream(model="gpt-5", input="where?", text_format=City) as s:
                finals.append(s.get_final_response().output_parsed)

        record = same_teed_or_not(llm, monkeypatch, read)
        assert finals[0] is not None
        assert record["output"]["parsed"] == finals[0].model_dump() == {"city": "Paris"}


class TestCutResponsesStream:
    def test_tool_inputs_streamed_so_far_are_kept(
        self, llm: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A body that ends mid-answer: what the model asked a custom tool, an MCP server
        and the code interpreter so far is in the record, as a function call's is."""
        custom = {"type": "custom_tool_call", "id": "ct_1", "call_id": "call_c", "input": ""}
        mcp = {"type": "mcp_call", "id": "mcp_1", "server_label": "docs", "arguments": ""}
        code = {"type": "code_interpreter_call", "id": "ci_1", "container_id": "c", "code": ""}
        streamed = [
            ({**custom, "name": "sql"}, "custom_tool_call_input", ["SELECT * ", "FROM users"]),
            ({**mcp, "name": "search"}, "mcp_call_arguments", ['{"q":', '"refunds"}']),
            (code, "code_interpreter_call_code", ["print(", "1)"]),
        ]
        events: list[dict[str, Any]] = [{"type": "response.created", "response": response()}]
        for index, (item, kind, pieces) in enumerate(streamed):
            place = {"output_index": index, "item_id": item["id"]}
            events.append(
                {"type": "response.output_item.added", "output_index": index, "item": item}
            )
            events += [{"type": f"response.{kind}.delta", **place, "delta": p} for p in pieces]
        client = fakes.sync_client(sse(numbered(events)))
        record = same_teed_or_not(
            llm,
            monkeypatch,
            lambda: list(client.responses.create(model="gpt-5", input="x", stream=True)),
        )
        assert record["status"] == "error"
        assert record["output"]["tool_calls"] == [
            {"id": "call_c", "type": "custom", "name": "sql", "arguments": "SELECT * FROM users"},
            {"id": "mcp_1", "type": "mcp_call", "name": "search", "arguments": '{"q":"refunds"}'},
            {
                "id": "ci_1",
                "type": "code_interpreter_call",
                "name": None,
                "arguments": '{"code":"print(1)"}',
            },
        ]


HOSTED_TOOLS = {
    "web_search_call": ("in_progress", "searching", "completed"),
    "file_search_call": ("in_progress", "searching", "completed"),
    "code_interpreter_call": ("in_progress", "interpreting", "completed"),
    "image_generation_call": ("in_progress", "generating", "completed"),
    "mcp_call": ("in_progress", "completed"),
    "mcp_list_tools": ("in_progress", "completed"),
}


class TestTimeToFirstOutput:
    @pytest.mark.parametrize("tool", sorted(HOSTED_TOOLS))
    def test_a_hosted_tools_progress_is_not_output(self, llm: CapturedRecords, tool: str) -> None:
        """A hosted tool's item and progress events (in progress, searching, completed)
        come before the model says anything: ``ttft_ms`` is the first text's, read by the
        app a while after the tool finished."""
        item = {"type": tool, "id": "tool_1", "status": "in_progress"}
        place = {"output_index": 0, "item_id": "tool_1"}
        answer = message("Hi", "msg_1")
        events = numbered(
            [
                {"type": "response.created", "response": response()},
                {"type": "response.output_item.added", "output_index": 0, "item": item},
                *({"type": f"response.{tool}.{step}", **place} for step in HOSTED_TOOLS[tool]),
                {"type": "response.output_item.done", "output_index": 0, "item": item},
                *streamed_message(1, answer),
                {
                    "type": "response.completed",
                    "response": {**response(status="completed"), "output": [item, answer]},
                },
            ]
        )
        client = fakes.sync_client(sse(events))
        resumed = 0.0
        for event in client.responses.create(model="gpt-5", input="x", stream=True):
            if event.type == "response.output_item.done" and event.output_index == 0:
                time.sleep(0.15)  # the model's answer comes a while after the tool's end
                resumed = time.perf_counter()
        ended = time.perf_counter()
        [record] = llm.calls
        assert record["status"] == "ok"
        # the first output came after the pause: from it to the end is less than what followed
        assert record["latency_ms"] - record["ttft_ms"] <= (ended - resumed) * 1000 + 1

    @pytest.mark.parametrize("whole", ["computer_call", "message"])
    def test_output_that_arrives_whole_is_the_first(self, llm: CapturedRecords, whole: str) -> None:
        """No deltas: a computer action arrives in its added item, a message (from some
        servers) in its done item. That event is the first output, not the terminal one."""
        action = {"type": "click", "button": "left", "x": 1, "y": 2}
        item = (
            {"type": "computer_call", "id": "cu_1", "call_id": "call_1", "action": action}
            if whole == "computer_call"
            else message("Hi", "msg_1")
        )
        first = (
            "response.output_item.added"
            if whole == "computer_call"
            else "response.output_item.done"
        )
        events = numbered(
            [
                {"type": "response.created", "response": response()},
                {
                    "type": "response.output_item.added",
                    "output_index": 0,
                    "item": item if whole == "computer_call" else {**item, "content": []},
                },
                {"type": "response.output_item.done", "output_index": 0, "item": item},
                {
                    "type": "response.completed",
                    "response": {**response(status="completed"), "output": [item]},
                },
            ]
        )
        client = fakes.sync_client(sse(events))
        pause = 0.15
        for event in client.responses.create(model="gpt-5", input="x", stream=True):
            if event.type == first:
                time.sleep(pause)  # the app works on it a while before reading on
        [record] = llm.calls
        assert record["ttft_ms"] + pause * 1000 <= record["latency_ms"]  # ttft before the pause
