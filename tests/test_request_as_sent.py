"""The record holds the request as sent: a client's middleware, its default headers and query.

Anthropic's client middleware (``middleware=[...]``) runs after llmlog copied the call's
arguments and may send something else; the record's model, system, messages and params
come from the request its chain last sent. Headers and query parameters the app set on
a client (``default_headers=``, ``default_query=``, ``with_options(...)``) go out with
every call and show in ``params`` under the call's own, never credentials, never the
SDK's own headers.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anthropic
import httpx2
import openai
import pydantic
import pytest

import anthropic_fakes as A
import openai_fakes as F
from llmlog.cli._replayable import replay_request
from llmlog.testing import capture_records

PRIMARY = "claude-opus-4-6"
FALLBACK = "claude-opus-4-8"
CARD = "My card is 4111 1111 1111 1111, call me"
SCRUBBED = "My card is [removed], call me"

has_middleware = pytest.mark.skipif(
    not hasattr(anthropic.Anthropic, "middleware"), reason="anthropic without client middleware"
)


def scrub(request: Any, call_next: Any) -> Any:
    """An app's middleware: the prompt it sends has the card number taken out."""
    return call_next(request.copy(body=_scrubbed(request.json)))


async def async_scrub(request: Any, call_next: Any) -> Any:
    return await call_next(request.copy(body=_scrubbed(request.json)))


def _scrubbed(body: dict[str, Any]) -> dict[str, Any]:
    messages = [{"role": "user", "content": SCRUBBED}]
    return {**body, "messages": messages, "model": "claude-haiku-4-5", "system": "Policy v2"}


def wire_recorder(answer: Any, seen: list[dict[str, Any]]) -> Any:
    """A transport keeping each request's JSON body and headers, answering with ``answer``."""

    def handle(request: httpx2.Request) -> httpx2.Response:
        seen.append({"body": json.loads(request.content), "headers": dict(request.headers)})
        return answer(request)

    return handle


def message_answer(request: httpx2.Request) -> httpx2.Response:
    model = json.loads(request.content)["model"]
    return httpx2.Response(200, json=A.message("Sure.", model=model))


@has_middleware
class TestAppMiddleware:
    def test_record_has_the_messages_the_middleware_sent(self) -> None:
        """A middleware that scrubs PII: the record holds the scrubbed prompt that was
        sent, never the text the app deliberately kept off the wire."""
        seen: list[dict[str, Any]] = []
        client = A.sync_client(wire_recorder(message_answer, seen), middleware=[scrub])
        with capture_records(redact="off") as cap:
            client.messages.create(
                model=PRIMARY, max_tokens=10, system="Policy v1", messages=A.user(CARD)
            )
            (record,) = cap.calls
        assert seen[0]["body"]["messages"] == [{"role": "user", "content": SCRUBBED}]
        assert record["messages"] == [{"role": "user", "content": SCRUBBED}]
        assert record["system"] == "Policy v2"
        assert record["model"] == PRIMARY  # the model asked for, as for every call
        assert record["response_model"] == "claude-haiku-4-5"
        assert record["params"] == {"max_tokens": 10}

    def test_async_client_too(self) -> None:
        """The async client's chain is read the same way."""
        seen: list[dict[str, Any]] = []
        client = A.async_client(wire_recorder(message_answer, seen), middleware=[async_scrub])

        async def call() -> None:
            await client.messages.create(model=PRIMARY, max_tokens=10, messages=A.user(CARD))

        with capture_records(redact="off") as cap:
            asyncio.run(call())
            (record,) = cap.calls
        assert record["messages"] == [{"role": "user", "content": SCRUBBED}]
        assert (record["model"], record["response_model"]) == (PRIMARY, "claude-haiku-4-5")

    def test_a_routed_call_replays_as_the_app_made_it(self) -> None:
        """A router middleware sending another model: the record's ``model`` is the app's
        (``response_model`` the one that answered) and its params hold no key of
        llmlog's own, so ``llmlog replay`` sends what the app sent."""

        def route(request: Any, call_next: Any) -> Any:
            return call_next(request.copy(body={**request.json, "model": FALLBACK}))

        client = A.sync_client(message_answer, middleware=[route])
        with capture_records(redact="off") as cap:
            client.messages.create(model=PRIMARY, max_tokens=10, messages=A.user("hi"))
            (record,) = cap.calls
        assert (record["model"], record["response_model"]) == (PRIMARY, FALLBACK)
        assert record["params"] == {"max_tokens": 10}
        replayed = replay_request(json.loads(json.dumps(record)))
        seen: list[dict[str, Any]] = []
        A.sync_client(wire_recorder(message_answer, seen)).messages.create(**replayed.kwargs)
        assert seen[0]["body"] == {
            "model": PRIMARY,
            "max_tokens": 10,
            "messages": [{"role": "user", "content": "hi"}],
        }

    def test_a_pass_through_middleware_leaves_the_record_as_without(self) -> None:
        """A logging middleware sending what the app gave: the record is the one the
        call makes without middleware (parse's ``output_format``, ``betas`` without
        their ``anthropic-beta`` header again, SDK objects passed back)."""

        def log_only(request: Any, call_next: Any) -> Any:
            return call_next(request)

        def calls(client: Any) -> list[dict[str, Any]]:
            with capture_records(redact="off") as cap:
                client.messages.parse(
                    model=PRIMARY, max_tokens=10, messages=A.user("hi"), output_format=City
                )
                answer = client.beta.messages.create(
                    model=PRIMARY, max_tokens=10, messages=A.user("hi"), betas=["b-1", "b-2"]
                )
                history = [*A.user(), {"role": "assistant", "content": answer.content}]
                client.messages.create(
                    model=PRIMARY,
                    max_tokens=10,
                    system=[{"type": "text", "text": "S"}],
                    messages=[*history, *A.user("more")],
                    extra_headers={"X-Trace": "1"},
                )
            return [{k: r[k] for k in _PROMPT_FIELDS} for r in cap.calls]

        plain = calls(A.sync_client(city_answer))
        through_middleware = calls(A.sync_client(city_answer, middleware=[log_only]))
        assert through_middleware == plain
        assert plain[1]["params"] == {"max_tokens": 10, "betas": ["b-1", "b-2"]}

    def test_a_beta_header_repeating_betas_is_left_out(self) -> None:
        """A middleware changing the prompt of a call with ``betas``: the header the SDK
        makes of them is not recorded again; one the middleware changed is."""

        def scrub_and_beta(request: Any, call_next: Any) -> Any:
            body = _scrubbed(request.json)
            if request.json["max_tokens"] == 11:
                headers = {**request.headers, "anthropic-beta": "b-1,extra"}
                return call_next(request.copy(body=body, headers=headers))
            return call_next(request.copy(body=body))

        client = A.sync_client(message_answer, middleware=[scrub_and_beta])
        with capture_records(redact="off") as cap:
            for max_tokens in (10, 11):
                client.beta.messages.create(
                    model=PRIMARY, max_tokens=max_tokens, messages=A.user(), betas=["b-1"]
                )
            same, added = cap.calls
        assert same["params"] == {"betas": ["b-1"], "max_tokens": 10}
        assert added["params"]["extra_headers"] == {"anthropic-beta": "b-1,extra"}

    def test_the_last_attempt_is_the_one_recorded(self) -> None:
        """The chain runs once per attempt: a retried call is one record, with the body
        of the attempt that was answered."""

        def per_attempt(request: Any, call_next: Any) -> Any:
            body = {**request.json, "system": f"attempt {request.retries_taken}"}
            return call_next(request.copy(body=body))

        handler = A.flaky_handler(message_answer, failures=1)
        client = A.sync_client(handler, middleware=[per_attempt], max_retries=1)
        with capture_records(redact="off") as cap:
            client.messages.create(model=PRIMARY, max_tokens=10, messages=A.user())
            (record,) = cap.calls
        assert record["system"] == "attempt 1"
        assert record["status"] == "ok"

    def test_headers_the_middleware_adds_are_recorded(self) -> None:
        """An ``anthropic-beta`` a middleware adds switches features on: it is in params;
        a credential it adds is not."""

        def beta(request: Any, call_next: Any) -> Any:
            headers = {**request.headers, "anthropic-beta": "b-1", "X-Api-Key": "sk-gateway"}
            return call_next(request.copy(headers=headers))

        client = A.sync_client(message_answer, middleware=[beta])
        with capture_records(redact="off") as cap:
            client.messages.create(model=PRIMARY, max_tokens=10, messages=A.user())
            (record,) = cap.calls
        assert record["params"]["extra_headers"] == {"anthropic-beta": "b-1"}
        assert "sk-gateway" not in json.dumps(record)

    def test_a_middleware_that_fails_leaves_one_record(self) -> None:
        """A middleware raising after its request went out: the app gets its error, the
        record has that error and the request sent."""

        def broken(request: Any, call_next: Any) -> Any:
            call_next(request.copy(body=_scrubbed(request.json)))
            raise RuntimeError("middleware bug")

        client = A.sync_client(message_answer, middleware=[broken])
        with capture_records(redact="off") as cap:
            with pytest.raises(RuntimeError, match="middleware bug"):
                client.messages.create(model=PRIMARY, max_tokens=10, messages=A.user(CARD))
            (record,) = cap.calls
        assert record["status"] == "error"
        assert record["messages"] == [{"role": "user", "content": SCRUBBED}]

    def test_nothing_sent_keeps_the_app_arguments(self) -> None:
        """A middleware raising before any request: the record has the app's arguments."""

        def refuse(request: Any, call_next: Any) -> Any:
            raise ValueError("blocked")

        client = A.sync_client(message_answer, middleware=[refuse])
        with capture_records(redact="off") as cap:
            with pytest.raises(ValueError, match="blocked"):
                client.messages.create(model=PRIMARY, max_tokens=10, messages=A.user("hi"))
            (record,) = cap.calls
        assert record["messages"] == [{"role": "user", "content": "hi"}]
        assert record["model"] == PRIMARY
        assert record["params"] == {"max_tokens": 10}

    def test_a_call_the_middleware_makes_is_not_the_request_sent(self) -> None:
        """A middleware counting tokens through the same client after the answer: that
        request belongs to a call llmlog does not record, not to this call's record."""
        clients: list[Any] = []

        def count_after(request: Any, call_next: Any) -> Any:
            response = call_next(request)
            if request.url.endswith("/v1/messages"):
                clients[0].messages.count_tokens(model="other", messages=A.user("count"))
            return response

        routes = {
            "/v1/messages": message_answer,
            "/v1/messages/count_tokens": A.json_handler({"input_tokens": 3}),
        }
        clients.append(A.sync_client(A.routed_handler(routes), middleware=[count_after]))
        with capture_records(redact="off") as cap:
            clients[0].messages.create(model=PRIMARY, max_tokens=10, messages=A.user("hi"))
            (record,) = cap.calls
        assert record["model"] == PRIMARY
        assert record["messages"] == [{"role": "user", "content": "hi"}]

    def test_stream_helper_records_the_request_sent(self) -> None:
        """``messages.stream()`` sends in ``__enter__``: that request is the one kept."""
        client = A.sync_client(A.sse_handler(A.stream_events()), middleware=[scrub])
        with capture_records(redact="off") as cap:
            with client.messages.stream(
                model=PRIMARY, max_tokens=10, messages=A.user(CARD)
            ) as stream:
                stream.get_final_text()
            (record,) = cap.calls
        assert record["messages"] == [{"role": "user", "content": SCRUBBED}]
        assert record["model"] == PRIMARY


class City(pydantic.BaseModel):
    city: str


def city_answer(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, json=A.message('{"city": "Paris"}'))


_PROMPT_FIELDS = ("model", "system", "messages", "params")


def refusing_then_serving(request: httpx2.Request) -> httpx2.Response:
    """The primary model refuses; the fallback model answers."""
    model = json.loads(request.content)["model"]
    if model == PRIMARY:
        details = {"type": "refusal", "category": "cyber", "explanation": "no"}
        refusal = A.message(content=[], stop_reason="refusal", model=PRIMARY, stop_details=details)
        return httpx2.Response(200, json=refusal)
    return httpx2.Response(200, json=A.message("Sure.", model=model, usage_body=A.usage(30, 9)))


def refusing_stream_then_serving(request: httpx2.Request) -> httpx2.Response:
    """A stream refused before any output, then the fallback's stream."""
    model = json.loads(request.content)["model"]
    if model == PRIMARY:
        events = A.stream_events([], stop_reason="refusal")
    else:
        events = A.stream_events(["Su", "re."])
        events[0]["message"]["model"] = model
    headers = {"content-type": "text/event-stream", "request-id": A.REQUEST_ID}
    return httpx2.Response(200, content=A.sse_body(events), headers=headers)


def fallback_client(handler: Any, **options: Any) -> Any:
    from anthropic.lib.middleware import BetaRefusalFallbackMiddleware

    chain = [BetaRefusalFallbackMiddleware([{"model": FALLBACK}])]
    return A.sync_client(handler, middleware=chain, **options)


@has_middleware
class TestRefusalFallback:
    def test_one_record_with_the_answering_model(self) -> None:
        """The SDK's refusal fallback resends to another model inside the call: one
        record, with the app's model, the one that answered, and the ``anthropic-beta``
        the middleware added."""
        seen: list[dict[str, Any]] = []
        client = fallback_client(wire_recorder(refusing_then_serving, seen))
        with capture_records(redact="off") as cap:
            client.beta.messages.create(model=PRIMARY, max_tokens=10, messages=A.user())
            (record,) = cap.calls
        assert [request["body"]["model"] for request in seen] == [PRIMARY, FALLBACK]
        assert (record["model"], record["response_model"]) == (PRIMARY, FALLBACK)
        assert "requested_model" not in record["params"]
        assert record["params"]["extra_headers"] == {
            "anthropic-beta": seen[-1]["headers"]["anthropic-beta"]
        }
        assert record["usage"]["input_tokens"] == 30

    def test_history_is_recorded_without_the_seam_blocks(self) -> None:
        """The ``fallback`` block the app passes back is stripped from what is sent, and
        from the record."""
        seen: list[dict[str, Any]] = []
        client = fallback_client(wire_recorder(refusing_then_serving, seen))
        with capture_records(redact="off") as cap:
            first = client.beta.messages.create(model=PRIMARY, max_tokens=10, messages=A.user())
            history = [
                *A.user(),
                {"role": "assistant", "content": first.content},
                *A.user("more"),
            ]
            client.beta.messages.create(model=PRIMARY, max_tokens=10, messages=history)
            second = cap.calls[1]
        assert [block.type for block in first.content] == ["fallback", "text"]
        assert second["messages"] == seen[-1]["body"]["messages"]
        assert "fallback" not in json.dumps(second["messages"])

    def test_a_stream_continued_on_another_model(self) -> None:
        """A refused stream continued on the fallback model while the app reads it: one
        record, with the request the continuation sent."""
        client = fallback_client(refusing_stream_then_serving)
        with capture_records(redact="off") as cap:
            stream = client.beta.messages.create(
                model=PRIMARY, max_tokens=10, messages=A.user(), stream=True
            )
            for _ in stream:
                pass
            (record,) = cap.calls
        assert (record["model"], record["response_model"]) == (PRIMARY, FALLBACK)
        assert record["output"]["text"] == "Sure."


def chat_answer(request: httpx2.Request) -> httpx2.Response:
    return F.json_response(F.chat_completion())


def chat(client: Any, **options: Any) -> Any:
    return client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], **options
    )


class TestClientDefaults:
    def test_openai_client_headers_and_query_are_in_params(self) -> None:
        """``default_headers`` / ``default_query`` go out with every call: in params."""
        client = F.sync_client(
            chat_answer, default_headers={"X-Team": "search"}, default_query={"region": "eu"}
        )
        with capture_records(redact="off") as cap:
            chat(client)
            (record,) = cap.calls
        assert record["params"] == {
            "extra_headers": {"X-Team": "search"},
            "extra_query": {"region": "eu"},
        }

    def test_the_calls_own_win_by_name(self) -> None:
        """The call's ``extra_headers`` (case-blind) and ``extra_query`` override the
        client's, as the SDK sends them; an ``omit`` leaves the client's out."""
        client = F.sync_client(
            chat_answer,
            default_headers={"X-Team": "search", "X-Env": "prod", "X-Gone": "1"},
            default_query={"region": "eu", "v": "1"},
        )
        with capture_records(redact="off") as cap:
            chat(
                client,
                extra_headers={"x-team": "ads", "X-Gone": openai.omit},
                extra_query={"v": "2"},
            )
            (record,) = cap.calls
        assert record["params"]["extra_headers"] == {"X-Env": "prod", "x-team": "ads"}
        assert record["params"]["extra_query"] == {"region": "eu", "v": "2"}

    def test_with_options_headers_are_recorded(self) -> None:
        """``with_options(default_headers=...)``: an Anthropic beta switched on for a
        client derived from another shows in params."""
        client = A.sync_client(message_answer)
        derived = client.with_options(default_headers={"anthropic-beta": "context-1m"})
        with capture_records(redact="off") as cap:
            derived.messages.create(model=PRIMARY, max_tokens=5, messages=A.user())
            (record,) = cap.calls
        assert record["params"]["extra_headers"] == {"anthropic-beta": "context-1m"}

    def test_betas_argument_wins_over_the_client_beta_header(self) -> None:
        """``betas=[...]`` is sent as the call's ``anthropic-beta``: the client's is not."""
        client = A.sync_client(message_answer, default_headers={"anthropic-beta": "client-b"})
        with capture_records(redact="off") as cap:
            client.beta.messages.create(
                model=PRIMARY, max_tokens=5, messages=A.user(), betas=["call-b"]
            )
            (record,) = cap.calls
        assert record["params"]["betas"] == ["call-b"]
        assert "extra_headers" not in record["params"]

    def test_each_call_has_the_client_headers_it_sent(self) -> None:
        """An app changing its ``default_headers`` dict between calls (the SDK keeps that
        very dict): each record has the value its own call sent."""
        headers = {"X-Tenant": "t1"}
        client = F.sync_client(chat_answer, default_headers=headers, default_query={"v": "1"})
        query = client._custom_query
        with capture_records(redact="off") as cap:
            for tenant in ("t1", "t2", "t3"):
                headers["X-Tenant"] = tenant
                query["v"] = tenant
                chat(client)
            records = cap.calls
        assert [r["params"]["extra_headers"]["X-Tenant"] for r in records] == ["t1", "t2", "t3"]
        assert [r["params"]["extra_query"]["v"] for r in records] == ["t1", "t2", "t3"]

    def test_signed_tokens_under_their_own_names_never_recorded(self) -> None:
        """Identity-aware proxies' tokens (``X-JWT-Assertion``, ``X-Bearer``, ``?jwt=``)
        are left out at ``redact=off``; ordinary headers stay."""
        token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.abcdefghijklmnop"
        client = F.sync_client(
            chat_answer,
            default_headers={
                "X-JWT-Assertion": token,
                "X-Bearer": "abc123secretvalue",
                "anthropic-beta": "b-1",
                "X-Request-Source": "batch",
            },
            default_query={"jwt": token, "region": "eu"},
        )
        with capture_records(redact="off") as cap:
            chat(client)
            (record,) = cap.calls
        assert record["params"] == {
            "extra_headers": {"anthropic-beta": "b-1", "X-Request-Source": "batch"},
            "extra_query": {"region": "eu"},
        }

    def test_credentials_and_sdk_headers_never_recorded(self) -> None:
        """A gateway key set on the client (header or query) never reaches the record;
        nor do the SDK's own headers (organization, project, versions)."""
        client = F.sync_client(
            chat_answer,
            default_headers={"Helicone-Auth": "Bearer sk-helicone", "X-Team": "a"},
            default_query={"api-key": "sk-query", "sig": "sas"},
            organization="org-1",
            project="proj_1",
        )
        with capture_records(redact="off") as cap:
            chat(client)
            (record,) = cap.calls
        assert record["params"] == {"extra_headers": {"X-Team": "a"}}
        text = json.dumps(record)
        assert "sk-helicone" not in text and "sk-query" not in text and "org-1" not in text

    def test_async_client_too(self) -> None:
        """The async client's defaults are recorded the same way."""
        client = F.async_client(chat_answer, default_headers={"X-Team": "search"})

        async def call() -> None:
            await client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
            )

        with capture_records(redact="off") as cap:
            asyncio.run(call())
            (record,) = cap.calls
        assert record["params"] == {"extra_headers": {"X-Team": "search"}}

    @has_middleware
    def test_under_the_headers_a_middleware_sent(self) -> None:
        """Through a middleware, the client's headers are under those its chain sent."""

        def tag(request: Any, call_next: Any) -> Any:
            return call_next(request.copy(headers={**request.headers, "X-Trace": "t1"}))

        client = A.sync_client(message_answer, middleware=[tag], default_headers={"X-Team": "a"})
        with capture_records(redact="off") as cap:
            client.messages.create(model=PRIMARY, max_tokens=5, messages=A.user())
            (record,) = cap.calls
        assert record["params"]["extra_headers"] == {"X-Team": "a", "X-Trace": "t1"}
