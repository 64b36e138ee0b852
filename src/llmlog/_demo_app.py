"""The application ``llmlog demo`` runs: an ordinary script with no llmlog in it.

A small support assistant that uses both SDKs the way apps do: a chat with
personal data in the prompt, a streamed answer, a tool round trip, the
Responses API, Claude with a system prompt, a streamed Claude answer, and two
failures it handles. It takes its endpoints from ``OPENAI_BASE_URL`` /
``ANTHROPIC_BASE_URL``, so ``llmlog demo`` points it at the fake provider; it
is logged only because it runs under ``llmlog-run``.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai

GPT = "gpt-4o-mini"
CLAUDE = "claude-haiku-4-5"
SUPPORT_PROMPT = "You are the support assistant of Acme Cloud. Answer in two sentences."
# Shaped like a real key so redaction has something to find; it is not one.
LEAKED_KEY = "sk-proj-d3moK3y0nly4llmlogRedaction0000000000"
WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def step(text: str) -> None:
    print(f"  app: {text}", flush=True)


def openai_calls(client: openai.OpenAI) -> None:
    question = (
        "Hi, I'm jane.doe@example.com. My deploy fails with "
        f"OPENAI_API_KEY={LEAKED_KEY}, what should I check?"
    )
    reply = client.chat.completions.create(
        model=GPT,
        messages=[
            {"role": "system", "content": SUPPORT_PROMPT},
            {"role": "user", "content": question},
        ],
        temperature=0.2,
    )
    step(f"chat answer ({len(reply.choices[0].message.content or '')} chars)")

    stream = client.chat.completions.create(
        model=GPT,
        messages=[{"role": "user", "content": "Summarise our refund policy."}],
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    step(f"streamed answer in {len(pieces)} chunks")

    messages: list[Any] = [{"role": "user", "content": "Is it raining in Paris? Use the tool."}]
    first = client.chat.completions.create(model=GPT, messages=messages, tools=[WEATHER_TOOL])
    call: Any = (first.choices[0].message.tool_calls or [])[0]
    step(f"model called {call.function.name}({call.function.arguments})")
    weather = {"city": json.loads(call.function.arguments)["city"], "sky": "light rain"}
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps(weather)},
    ]
    final = client.chat.completions.create(model=GPT, messages=messages, tools=[WEATHER_TOOL])
    step(f"tool round trip answered: {final.choices[0].message.content!r:.60}")

    response = client.responses.create(
        model="gpt-4.1-mini", instructions=SUPPORT_PROMPT, input="How do I rotate my API key?"
    )
    step(f"responses API: {response.output_text!r:.60}")

    try:
        status: Any = [{"role": "user", "content": "Any incidents today?"}]
        client.chat.completions.create(model="fake-rate-limit", messages=status)
    except openai.RateLimitError as exc:
        step(f"handled {type(exc).__name__} (HTTP {exc.status_code})")


def anthropic_calls(client: anthropic.Anthropic) -> None:
    reply = client.messages.create(
        model=CLAUDE,
        max_tokens=200,
        system=SUPPORT_PROMPT,
        messages=[{"role": "user", "content": "Call me back at +1 415 555 0100, please."}],
    )
    step(f"Claude answered ({reply.usage.output_tokens} tokens)")

    with client.messages.stream(
        model=CLAUDE,
        max_tokens=200,
        messages=[{"role": "user", "content": "Write a haiku about log files."}],
    ) as stream:
        text = "".join(stream.text_stream)
    step(f"Claude streamed {len(text)} chars")

    try:
        client.messages.create(
            model="fake-error", max_tokens=50, messages=[{"role": "user", "content": "Status?"}]
        )
    except anthropic.InternalServerError as exc:
        step(f"handled {type(exc).__name__} (HTTP {exc.status_code})")


def main() -> None:
    openai_calls(openai.OpenAI())
    anthropic_calls(anthropic.Anthropic())


if __name__ == "__main__":
    main()
