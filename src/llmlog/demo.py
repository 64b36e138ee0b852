"""``llmlog demo``: see llmlog work in ten seconds, without an API key or a network.

It starts the fake provider on loopback, runs a small support-bot script that
knows nothing of llmlog (``llmlog._demo_app``) under ``llmlog-run`` with the
real OpenAI and Anthropic SDKs, and then reads the log back: where it is, and
a few lines per call showing what was captured and what was redacted.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from llmlog._log_files import write_problem
from llmlog.fake_provider import delay_ms, start_server

__all__ = ["main"]

DEFAULT_OUTPUT = "./llm_logs/demo/llmlog.jsonl"  # beside, not inside, the default log


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; the exit status is the demo app's (0 when all went well)."""
    parser = argparse.ArgumentParser(
        prog="llmlog demo",
        description="Run a small app through the real OpenAI and Anthropic SDKs against a "
        "local fake provider, logged by llmlog-run, and summarise the log.",
    )
    parser.add_argument(
        "--output",
        default=None,
        help=f"log file to write ({DEFAULT_OUTPUT}; a temporary folder if that cannot be written)",
    )
    parser.add_argument(
        "--ttft-ms", type=delay_ms, default=120, help="fake time to first token (%(default)s)"
    )
    parser.add_argument(
        "--token-delay-ms", type=delay_ms, default=15, help="fake time per token (%(default)s)"
    )
    args = parser.parse_args(argv)
    output = _writable_output(args.output)
    if output is None:
        return 1
    with start_server(ttft=args.ttft_ms / 1000, token_delay=args.token_delay_ms / 1000) as fake:
        print(f"llmlog demo: fake OpenAI/Anthropic API on {fake.url} (no key, no network)")
        app = [sys.executable, "-m", "llmlog._demo_app"]
        options = ["--output", str(output), "--service", "llmlog-demo"]
        shown = ["llmlog-run", *options, "python", "-m", "llmlog._demo_app"]
        print(f"running: {shlex.join(shown)}\n", flush=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLMLOG_")}
        env.update(fake.env())
        child = subprocess.Popen([sys.executable, "-m", "llmlog.launcher", *options, *app], env=env)
        status = child.wait()
    if status != 0:
        print(f"\nllmlog demo: the demo app failed (exit status {status})", file=sys.stderr)
        return status if status > 0 else 128 - status  # killed by a signal: as shells report it
    records = [r for r in read_records(output) if (r.get("process") or {}).get("pid") == child.pid]
    if not records:
        print(
            f"\nllmlog demo: the app ran but no call was logged to {output} "
            "(see the messages above)",
            file=sys.stderr,
        )
        return 1
    print(f"\n{len(records)} calls logged to {output}\n")
    for number, record in enumerate(records, 1):
        print("\n".join(describe(number, record)))
    print(totals(records))
    print("\nExplore it (the demo logs apart from your app, so each command names its --log):")
    for command in follow_ups(output, records):
        print(f"  {command}")
    print("Your app:  llmlog-run python your_app.py   (or LLMLOG_ENABLED=1 python your_app.py)")
    return 0


def follow_ups(output: Path, records: list[dict[str, Any]]) -> list[str]:
    """``llmlog`` commands to run next, ready to paste: without ``--log`` they would read the
    app's log (``./llm_logs/llmlog.jsonl``), which the demo leaves alone."""
    log = shlex.quote(_shown(output.parent))
    first = shlex.quote(str(records[0].get("id")))
    return [
        f"llmlog stats --by model --log {log}",
        f"llmlog tail --limit 2 --log {log}",
        f"llmlog show {first} --log {log}",
    ]


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when inside it (short, as the user would
    type it), else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _writable_output(given: str | None) -> Path | None:
    """The log path to use: ``given``, else the default, else one in a new temporary folder
    (said on stdout); ``None`` after saying why ``given`` cannot be written."""
    output = Path(given or DEFAULT_OUTPUT).resolve()
    problem = write_problem(output)
    if problem is None:
        return output
    if given is not None:
        print(f"llmlog demo: cannot write the log {output}: {problem}", file=sys.stderr)
        return None
    fallback = Path(tempfile.mkdtemp(prefix="llmlog-demo-")) / "llmlog.jsonl"
    print(f"llmlog demo: cannot write {output} ({problem}); logging to {fallback} instead")
    return fallback


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Records of the log file, skipping lines that are not JSON objects."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                yield record


def describe(number: int, record: dict[str, Any]) -> list[str]:
    """A few lines for one call: what, outcome, numbers, the prompt as logged, redactions."""
    usage = record.get("usage") or {}
    tokens = f"{usage.get('input_tokens', '?')} in / {usage.get('output_tokens', '?')} out"
    ttft = record.get("ttft_ms")
    timing = f"{record.get('latency_ms') or 0:.0f} ms" + (
        f", first token {ttft:.0f} ms" if ttft else ""
    )
    cost = record.get("cost_usd")
    head = (
        f"{number:>2}. {record.get('provider')} {record.get('method')}"
        f"{' (stream)' if record.get('stream') else ''}  model={record.get('model')}"
    )
    if record.get("status") == "ok":
        outcome = f"ok  {tokens}  {timing}  " + (f"${cost:.6f}" if cost is not None else "unpriced")
    else:
        error = record.get("error") or {}
        outcome = f"{record.get('status')}: {error.get('type')} {error.get('status_code') or ''}"
        outcome = f"{outcome.strip()}  {timing}"
    lines = [head, f"    {outcome}", f"    {_last_prompt(record)}"]
    output = record.get("output") or {}
    for call in output.get("tool_calls") or []:
        lines.append(f"    tool call: {call.get('name')}({_short(str(call.get('arguments')), 60)})")
    redactions = record.get("redactions") or {}
    if redactions:
        found = ", ".join(f"{kind} x{count}" for kind, count in sorted(redactions.items()))
        lines.append(f"    redacted: {found}")
    return lines


def totals(records: list[dict[str, Any]]) -> str:
    """One line: calls, errors, tokens and cost over the run."""
    errors = sum(1 for r in records if r.get("status") != "ok")
    usages = [r.get("usage") or {} for r in records]
    tokens = sum((u.get("input_tokens") or 0) + (u.get("output_tokens") or 0) for u in usages)
    cost = sum(r.get("cost_usd") or 0 for r in records)
    summary = f"{len(records)} calls, {errors} errors, {tokens} tokens"
    return f"\ntotal: {summary}, ${cost:.6f} at list prices"


def _last_prompt(record: dict[str, Any]) -> str:
    """The last user or tool message as logged (so, redacted), on one line."""
    for message in reversed(record.get("messages") or []):
        role = message.get("role")
        if role in ("user", "tool"):
            content = message.get("content")
            text = content if isinstance(content, str) else json.dumps(content)
            label = "prompt" if role == "user" else "tool result"
            return f"{label}: {_short(' '.join(text.split()), 100)}"
    return "prompt: -"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


if __name__ == "__main__":
    sys.exit(main())
