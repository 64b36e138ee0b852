"""``parse()`` raising after its answer came (and was billed): the error record keeps it."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import openai
import pydantic
import pytest

import llmlog.testing
import openai_fakes as fakes
from llmlog.testing import CapturedRecords

MESSAGES = [{"role": "user", "content": "Score this"}]
REFUSED = '{"score": 42}'


@pytest.fixture
def llm() -> Iterator[CapturedRecords]:
    with llmlog.testing.capture_records(redact="off") as cap:
        yield cap


class Score(pydantic.BaseModel):
    """The app's model: a score above 10 is refused by its own validator."""

    score: int

    @pydantic.field_validator("score")
    @classmethod
    def at_most_ten(cls, value: int) -> int:
        if value > 10:
            raise ValueError("a score is at most 10")
        return value


def answering(text: str = REFUSED) -> fakes.FakeOpenAI:
    return fakes.FakeOpenAI(
        routes={
            "/chat/completions": lambda _: fakes.json_response(fakes.chat_completion(text)),
            "/responses": lambda _: fakes.json_response(fakes.response_object(text)),
        }
    )


def parse_sync(client: openai.OpenAI, api: str) -> Any:
    if api == "chat":
        return client.chat.completions.parse(
            model="gpt-4o", messages=MESSAGES, response_format=Score
        )
    return client.responses.parse(model="gpt-4o", input="Score this", text_format=Score)


async def parse_async(client: openai.AsyncOpenAI, api: str) -> Any:
    if api == "chat":
        return await client.chat.completions.parse(
            model="gpt-4o", messages=MESSAGES, response_format=Score
        )
    return await client.responses.parse(model="gpt-4o", input="Score this", text_format=Score)


RESPONSE_IDS = {"chat": fakes.CHAT_ID, "responses": fakes.RESPONSE_ID}


def assert_keeps_the_answer(record: dict[str, Any], api: str) -> None:
    assert (record["status"], record["error"]["type"]) == ("error", "ValidationError")
    assert record["output"]["text"] == REFUSED
    assert record["usage"]["input_tokens"] > 0 and record["cost_usd"] is not None
    assert record["response_id"] == RESPONSE_IDS[api]
    assert record["request_id"] == fakes.REQUEST_ID


class TestRefusedByTheAppsModel:
    @pytest.mark.parametrize("api", ["chat", "responses"])
    def test_the_error_record_has_the_answer_usage_cost_and_ids(
        self, llm: CapturedRecords, api: str
    ) -> None:
        """The JSON came and was billed; the app's validator refused it: the record is the
        ``ValidationError``, with the answer's text, usage, cost, response and request ids."""
        with pytest.raises(pydantic.ValidationError, match="at most 10"):
            parse_sync(fakes.sync_client(answering()), api)
        [record] = llm.calls
        assert_keeps_the_answer(record, api)

    @pytest.mark.parametrize("api", ["chat", "responses"])
    async def test_async_twin(self, llm: CapturedRecords, api: str) -> None:
        """The same through ``AsyncOpenAI``."""
        with pytest.raises(pydantic.ValidationError, match="at most 10"):
            await parse_async(fakes.async_client(answering()), api)
        [record] = llm.calls
        assert_keeps_the_answer(record, api)

    def test_the_app_gets_the_error_its_model_raised(self, llm: CapturedRecords) -> None:
        """The exception is the one pydantic raised, untouched: same class and message as
        the model's own over that JSON, no note or attribute added."""
        with pytest.raises(pydantic.ValidationError) as expected:
            Score.model_validate_json(REFUSED)
        with pytest.raises(pydantic.ValidationError) as caught:
            parse_sync(fakes.sync_client(answering()), "chat")
        assert len(llm.calls) == 1
        assert type(caught.value) is type(expected.value)
        assert str(caught.value) == str(expected.value)
        assert getattr(caught.value, "__notes__", None) is None
        assert vars(caught.value) == {}

    def test_a_validator_calling_the_model_does_not_lend_its_answer(
        self, llm: CapturedRecords
    ) -> None:
        """A validator that asks another model (a judge) before refusing: the parse record
        has its own answer, the judge's call its own record."""
        judge = fakes.sync_client(answering("judge: too high"))

        class Judged(pydantic.BaseModel):
            score: int

            @pydantic.field_validator("score")
            @classmethod
            def judged(cls, value: int) -> int:
                verdict = judge.chat.completions.create(model="gpt-4o", messages=MESSAGES)
                raise ValueError(verdict.choices[0].message.content)

        client = fakes.sync_client(answering())
        with pytest.raises(pydantic.ValidationError, match="judge: too high"):
            client.chat.completions.parse(model="gpt-4o", messages=MESSAGES, response_format=Judged)
        by_method = {record["method"]: record for record in llm.calls}
        assert by_method["chat.completions.create"]["output"]["text"] == "judge: too high"
        assert by_method["chat.completions.parse"]["output"]["text"] == REFUSED

    def test_a_parse_failing_before_any_answer_has_none(self, llm: CapturedRecords) -> None:
        """An HTTP error: no answer came, none is recorded (and nothing breaks looking)."""
        fake = fakes.FakeOpenAI(
            routes={"/chat/completions": lambda _: fakes.json_response(fakes.error_body(), 429)}
        )
        with pytest.raises(openai.RateLimitError):
            parse_sync(fakes.sync_client(fake), "chat")
        [record] = llm.calls
        assert record["error"]["type"] == "RateLimitError" and record["usage"] is None
        assert record["request_id"] == fakes.REQUEST_ID


class TestCutAnswer:
    def test_a_cut_answer_has_its_request_id(self, llm: CapturedRecords) -> None:
        """``LengthFinishReasonError`` carries the completion but not the request id (the SDK
        sets it after parsing): the record has it from the HTTP response all the same."""
        if "completion" not in inspect.signature(openai.LengthFinishReasonError).parameters:
            pytest.skip("this openai's LengthFinishReasonError carries no completion")
        answer = fakes.chat_completion('{"score": 4', finish_reason="length")
        fake = fakes.FakeOpenAI(routes={"/chat/completions": lambda _: fakes.json_response(answer)})
        with pytest.raises(openai.LengthFinishReasonError):
            parse_sync(fakes.sync_client(fake), "chat")
        [record] = llm.calls
        assert record["output"]["text"] == '{"score": 4' and record["usage"] is not None
        assert record["request_id"] == fakes.REQUEST_ID
