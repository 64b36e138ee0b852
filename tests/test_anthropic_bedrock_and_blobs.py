"""Bedrock calls keep their request id and their AWS price on every kind of AWS host; the
API's encrypted blobs passed back in ``messages`` are kept as stubs, sent as they were."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pydantic
import pytest

import anthropic_fakes as fake
import llmlog.testing
from llmlog.testing import CapturedRecords

AMZN_ID = "amzn-7f3c-11ef"
PROFILE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest.fixture
def cap() -> Iterator[CapturedRecords]:
    with llmlog.testing.capture_records(disabled_providers=("openai",), redact="off") as captured:
        yield captured


def bedrock_answer(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, json=fake.message(), headers={"x-amzn-requestid": AMZN_ID})


def bedrock_error(request: httpx2.Request) -> httpx2.Response:
    body = {"message": "Malformed input request"}
    return httpx2.Response(400, json=body, headers={"x-amzn-requestid": AMZN_ID})


def bedrock(handler: Any, **options: Any) -> anthropic.AnthropicBedrock:
    return anthropic.AnthropicBedrock(
        api_key="k",
        aws_region="us-east-1",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        **options,
    )


def async_bedrock(handler: Any) -> anthropic.AsyncAnthropicBedrock:
    return anthropic.AsyncAnthropicBedrock(
        api_key="k",
        aws_region="us-east-1",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
    )


class City(pydantic.BaseModel):
    city: str


def ask(client: Any) -> Any:
    return client.messages.create(model=PROFILE, max_tokens=5, messages=fake.user())


class TestBedrockRequestId:
    def test_a_parsed_answer_keeps_the_amzn_request_id(self, cap: CapturedRecords) -> None:
        """The SDK puts only ``request-id`` on a message: Bedrock's header is read too,
        and the app's message is left as the SDK made it."""
        message = ask(bedrock(bedrock_answer))
        assert message._request_id is None  # as without llmlog
        [record] = cap.calls
        assert record["request_id"] == AMZN_ID

    def test_beta_and_parsed_output_answers_keep_it_too(self, cap: CapturedRecords) -> None:
        """``messages.parse()`` returns the SDK's post-parsed object: the id is still its."""

        def city(request: httpx2.Request) -> httpx2.Response:
            body = fake.message('{"city": "Paris"}')
            return httpx2.Response(200, json=body, headers={"x-amzn-requestid": AMZN_ID})

        client = bedrock(city)
        client.beta.messages.create(model=PROFILE, max_tokens=5, messages=fake.user())
        parsed = client.messages.parse(
            model=PROFILE, max_tokens=5, messages=fake.user(), output_format=City
        )
        assert parsed.parsed_output == City(city="Paris")
        assert [r["request_id"] for r in cap.calls] == [AMZN_ID, AMZN_ID]

    async def test_async_answer(self, cap: CapturedRecords) -> None:
        client = async_bedrock(bedrock_answer)
        await client.messages.create(model=PROFILE, max_tokens=5, messages=fake.user())
        [record] = cap.calls
        assert record["request_id"] == AMZN_ID

    def test_an_error_keeps_the_amzn_request_id(self, cap: CapturedRecords) -> None:
        with pytest.raises(anthropic.BadRequestError) as raised:
            ask(bedrock(bedrock_error))
        assert raised.value.request_id is None  # the SDK's reads only ``request-id``
        [record] = cap.calls
        assert record["status"] == "error"
        assert record["request_id"] == AMZN_ID

    async def test_an_async_error_keeps_it(self, cap: CapturedRecords) -> None:
        client = async_bedrock(bedrock_error)
        with pytest.raises(anthropic.BadRequestError):
            await client.messages.create(model=PROFILE, max_tokens=5, messages=fake.user())
        [record] = cap.calls
        assert record["request_id"] == AMZN_ID

    def test_an_id_noted_for_one_object_is_never_another_calls(self, cap: CapturedRecords) -> None:
        """The app parses a raw Bedrock answer itself (not a call of its own), then makes a
        call whose answer has no request id: that record names none."""
        raw = bedrock(bedrock_answer).messages.with_raw_response.create(
            model=PROFILE, max_tokens=5, messages=fake.user()
        )
        raw.parse()

        def no_id(request: httpx2.Request) -> httpx2.Response:
            return httpx2.Response(200, json=fake.message())

        fake.sync_client(no_id).messages.create(
            model=fake.MODEL, max_tokens=5, messages=fake.user()
        )
        assert [r["request_id"] for r in cap.calls] == [AMZN_ID, None]

    def test_first_party_ids_are_unchanged(self, cap: CapturedRecords) -> None:
        client = fake.sync_client(fake.json_handler(fake.message()))
        message = client.messages.create(model=fake.MODEL, max_tokens=5, messages=fake.user())
        assert message._request_id == fake.REQUEST_ID
        assert cap.calls[0]["request_id"] == fake.REQUEST_ID

    def test_the_parse_rows_exist_in_the_installed_sdk(self) -> None:
        import anthropic._response as responses

        from llmlog.instrumentors import _anthropic_request_ids as request_ids

        for row in request_ids.HELPERS:
            cls, name = row.qualname.split(".")
            assert name in vars(getattr(responses, cls)), row


def priced(base_url: str | None) -> dict[str, Any]:
    body = fake.message(usage_body=fake.usage(10_000, 2_000)) | {
        "model": "claude-sonnet-4-5-20250929"
    }
    with llmlog.testing.capture_records(disabled_providers=("openai",), redact="off") as cap:
        ask(bedrock(fake.json_handler(body), base_url=base_url))
    [record] = cap.calls
    return record


@pytest.mark.parametrize(
    "host",
    [
        "vpce-0abc123-xyz.bedrock-runtime.us-east-1.vpce.amazonaws.com",
        "vpce-0abc123-xyz-us-east-1a.bedrock-runtime.us-east-1.vpce.amazonaws.com",
        "bedrock-runtime-fips.us-east-1.amazonaws.com",
        "bedrock-mantle.us-east-1.api.aws",
    ],
)
def test_every_bedrock_host_is_priced_at_aws_prices(host: str) -> None:
    """A VPC endpoint or FIPS host is Bedrock itself, at its regional premium: priced as the
    plain regional host is, not as Anthropic's API behind a gateway."""
    plain_host = priced(None)
    assert plain_host["price_source"].split()[-1].startswith("aws:regional.")
    record = priced(f"https://{host}")
    assert record["server_address"] == host
    assert record["price_source"] == plain_host["price_source"]  # no "via <host>"
    assert record["cost_usd"] == pytest.approx(plain_host["cost_usd"])


def test_a_look_alike_outside_aws_is_still_a_gateway() -> None:
    record = priced("https://bedrock-runtime.proxy.example.com")
    assert record["price_source"].endswith("via bedrock-runtime.proxy.example.com")


def stub(blob: str) -> dict[str, Any]:
    raw = blob.encode()
    return {"type": "encrypted", "mime": None, "bytes": len(raw), "sha256": _sha(raw)}


def _sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


SIGNATURE = "EqQBCkYIBxgCKkB" + "s" * 600
REDACTED = "EmwKAhgBEgy" + "r" * 3000
ENCRYPTED = "Ev0DCioIBhgC" + "e" * 4000
INDEX = "EpcBCioIBhgC" + "i" * 300
STDOUT = "EqwBCioIBhgC" + "o" * 500

ASSISTANT_TURN: list[dict[str, Any]] = [
    {"type": "thinking", "thinking": "Search first.", "signature": SIGNATURE},
    {"type": "redacted_thinking", "data": REDACTED},
    {"type": "server_tool_use", "id": "srv1", "name": "web_search", "input": {"query": "q"}},
    {
        "type": "web_search_tool_result",
        "tool_use_id": "srv1",
        "content": [
            {
                "type": "web_search_result",
                "url": "https://e.com",
                "title": "E",
                "encrypted_content": ENCRYPTED,
            }
        ],
    },
    {
        "type": "text",
        "text": "Blue.",
        "citations": [
            {
                "type": "web_search_result_location",
                "url": "https://e.com",
                "title": "E",
                "cited_text": "the sky is blue",
                "encrypted_index": INDEX,
            }
        ],
    },
]


def conversation(assistant: Any) -> list[dict[str, Any]]:
    return [
        *fake.user(),
        {"role": "assistant", "content": assistant},
        {"role": "user", "content": "more"},
    ]


class TestEncryptedBlobs:
    def test_blobs_passed_back_are_stubs_in_the_record_and_sent_whole(
        self, cap: CapturedRecords
    ) -> None:
        sent: list[Any] = []
        client = fake.sync_client(fake.json_handler(fake.message(), seen=sent))
        messages = conversation(copy.deepcopy(ASSISTANT_TURN))
        before = copy.deepcopy(messages)
        client.messages.create(model=fake.MODEL, max_tokens=5, messages=messages)
        assert messages == before  # the app's data untouched
        assert sent[0]["messages"] == before  # and sent as it was
        [record] = cap.calls
        text = json.dumps(record)
        for blob in (SIGNATURE, REDACTED, ENCRYPTED, INDEX):
            assert blob not in text
        thinking, redacted, tool_use, result, answer = record["messages"][1]["content"]
        assert thinking == {
            "type": "thinking",
            "thinking": "Search first.",
            "signature": stub(SIGNATURE),
        }
        assert redacted == {"type": "redacted_thinking", "data": stub(REDACTED)}
        assert tool_use == ASSISTANT_TURN[2]
        assert result["content"][0]["encrypted_content"] == stub(ENCRYPTED)
        assert result["content"][0]["url"] == "https://e.com"
        assert answer["citations"][0]["encrypted_index"] == stub(INDEX)
        assert answer["citations"][0]["cited_text"] == "the sky is blue"

    def test_sdk_blocks_passed_back_are_stubbed_too(self, cap: CapturedRecords) -> None:
        """An app passes the previous answer's content objects back as they came."""
        answer = fake.message(content=ASSISTANT_TURN)
        client = fake.sync_client(fake.json_handler(answer))
        first = client.messages.create(model=fake.MODEL, max_tokens=5, messages=fake.user())
        client.messages.create(model=fake.MODEL, max_tokens=5, messages=conversation(first.content))
        later = cap.calls[1]
        text = json.dumps(later["messages"])
        for blob in (SIGNATURE, REDACTED, ENCRYPTED, INDEX):
            assert blob not in text
        assert later["messages"][1]["content"][1]["data"] == stub(REDACTED)

    def test_encrypted_code_output_and_compaction(self, cap: CapturedRecords) -> None:
        blocks = [
            {"type": "compaction", "content": "So far: x.", "signature": SIGNATURE},
            {
                "type": "code_execution_tool_result",
                "tool_use_id": "srv2",
                "content": {
                    "type": "encrypted_code_execution_result",
                    "encrypted_stdout": STDOUT,
                    "stderr": "",
                    "return_code": 0,
                    "content": [],
                },
            },
        ]
        client = fake.sync_client(fake.json_handler(fake.message()))
        client.beta.messages.create(model=fake.MODEL, max_tokens=5, messages=conversation(blocks))
        [record] = cap.calls
        compaction, code = record["messages"][1]["content"]
        assert compaction["signature"] == stub(SIGNATURE)
        assert compaction["content"] == "So far: x."
        assert code["content"]["encrypted_stdout"] == stub(STDOUT)

    def test_the_apps_own_data_is_kept(self, cap: CapturedRecords) -> None:
        """Fields of these names outside the API's blocks are the app's: kept (a tool's
        input, a user's text)."""
        tool_use = {
            "type": "tool_use",
            "id": "t1",
            "name": "sign",
            "input": {"signature": "Jane Doe", "data": "x"},
        }
        client = fake.sync_client(fake.json_handler(fake.message()))
        client.messages.create(model=fake.MODEL, max_tokens=5, messages=conversation([tool_use]))
        [record] = cap.calls
        assert record["messages"][1]["content"][0] == tool_use
