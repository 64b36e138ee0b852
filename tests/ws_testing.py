"""What the WebSocket tests share: the loopback server, validated records, clients."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

import jsonschema
import openai
import pytest

import llmlog.testing
from llmlog.testing import CapturedRecords
from openai_ws_fake import serve_responses

SCHEMA = json.loads(resources.files("llmlog").joinpath("record.schema.json").read_text())
VALIDATOR = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)


@pytest.fixture
def base_url() -> Iterator[str]:
    with serve_responses() as url:
        yield url


@pytest.fixture
def llm() -> Iterator[CapturedRecords]:
    """Records of the test; every one of them must be a valid schema-1 record."""
    with llmlog.testing.capture_records(redact="off") as cap:
        yield cap
    for record in cap.calls:
        VALIDATOR.validate(record)


def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0)


def async_client(base_url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=base_url, api_key="sk-test", max_retries=0)


def read_until(connection: Any, *kinds: str) -> list[Any]:
    """The events up to and including the first of ``kinds``."""
    events = []
    for event in connection:
        events.append(event)
        if event.type in kinds:
            return events
    raise AssertionError(f"the connection ended before {kinds}")
