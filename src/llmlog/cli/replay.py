"""``llmlog replay ID``: send a logged request again and compare the answers.

The new call goes through the real SDK with llmlog instrumented, so it is
logged like any other call, into the same log, linked to the original by
``replay_of``. Old and new answers are printed side by side.
"""

from __future__ import annotations

import argparse
import inspect
import ipaddress
import os
import shutil
import sys
import textwrap
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from llmlog._record import server_address
from llmlog.cli._filters import Filters, Subcommands
from llmlog.cli._format import cost, duration_ms, output_text, token_counts, visible, visible_line
from llmlog.cli._logs import CliError, locate
from llmlog.cli._replay_target import replay_log_files, replay_target
from llmlog.cli._replayable import ReplayRequest, caveats, replay_request
from llmlog.cli._select import call_records, find_record

__all__ = ["register"]

_KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


def register(commands: Subcommands, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``replay``."""
    parser = commands.add_parser(
        "replay",
        parents=parents,
        help="send a logged request again; show old and new answers side by side",
        description="Re-sends the request with the real SDK (needs the provider's API key "
        "in the environment, or --provider-url). The new call is logged with "
        "replay_of = the original id.",
    )
    parser.add_argument("id", help="record id, or a unique prefix of it")
    parser.add_argument("--model", help="send to this model instead of the logged one")
    parser.add_argument(
        "--provider-url",
        help="base URL of the API to send to, e.g. the fake provider http://127.0.0.1:8089 "
        "(https, or http to this machine only)",
    )
    parser.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="environment variable holding the API key to send (default: OPENAI_API_KEY or "
        "ANTHROPIC_API_KEY, and with --provider-url to another host than the call's, none: "
        "a dummy key)",
    )
    parser.add_argument(
        "-y", "--yes", action="store_true", help="send without asking (needed without a terminal)"
    )
    parser.set_defaults(func=run)


_DUMMY_KEY = "replay"
_LOOPBACK_NAMES = ("localhost",)


def _checked_url(url: str, sent_to: Any = None) -> str:
    """``--provider-url`` if the prompt and key may go there: https, or plain http to this
    machine (the fake provider), whose traffic no one else on the network sees, or to the
    host the call itself went to when that is a machine of the local network (an Ollama or
    vLLM server: the prompt crossed that way already)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise CliError(f"--provider-url {url} is not an http(s) URL with a host")
    if parts.scheme == "http" and not _loopback(host) and not (host == sent_to and _local(host)):
        raise CliError(
            f"--provider-url {url} is plain http to another machine: the prompt (and any key) "
            "would cross the network readable by anyone on the way; use https"
        )
    return host


def _local(host: str) -> bool:
    """A host of the local network: a private address, or a name with no public domain."""
    try:
        return ipaddress.ip_address(host).is_private
    except ValueError:
        return "." not in host or host.endswith((".local", ".lan", ".internal", ".home.arpa"))


def _loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _client(
    provider: str, url: str | None, sent_to: Any, key_env: str | None = None
) -> tuple[Any, str]:
    """The SDK client to replay with, and where its API key comes from (for the summary).

    Without ``--provider-url`` it must send where the original call went (the record's
    ``server_address``): a call the app made to Azure, Groq or a gateway is not re-sent to
    the provider's own API, nor the other way round. With ``--provider-url`` to a host other
    than the call's, the environment's key is sent only if ``--api-key-env`` names it: the
    default one is for the provider, not for whatever URL a log line or a typo names."""
    key_variable = key_env or _KEY_VARIABLES[provider]
    api_key = os.environ.get(key_variable)
    if key_env is not None and api_key is None:
        raise CliError(f"--api-key-env {key_env}: that variable is not set")
    if url is not None:
        target = _checked_url(url, sent_to)
        plain = urlsplit(url).scheme == "http"  # the environment's key never in clear
        if key_env is None and (target != sent_to or plain):
            api_key = None
    client: Any
    try:
        if provider == "openai":
            import openai

            if url is not None and urlsplit(url).path in ("", "/"):
                url = url.rstrip("/") + "/v1"  # the OpenAI SDK's base URL includes /v1
            client = openai.OpenAI(api_key=api_key or _DUMMY_KEY, base_url=url, max_retries=0)
        else:
            import anthropic

            client = anthropic.Anthropic(api_key=api_key or _DUMMY_KEY, base_url=url, max_retries=0)
    except ImportError:
        raise CliError(f"the {provider} SDK is not installed: pip install {provider}") from None
    if url is None:
        host = server_address(client)  # as the writer reads it: env and SDK config included
        if not isinstance(sent_to, str) or not sent_to:
            raise CliError(
                "the record does not say which host the call went to; pass --provider-url "
                "with the base URL of the API to send it to"
            )
        if host != sent_to:
            raise CliError(
                f"the call went to {sent_to}, and without --provider-url the replay would go "
                f"to {host}; pass --provider-url with the base URL of {sent_to}'s API (or of "
                "the API you mean to send this prompt to), or set OPENAI_BASE_URL / "
                "ANTHROPIC_BASE_URL to it"
            )
        base = urlsplit(str(client.base_url))
        if base.scheme == "http" and not _loopback(host) and key_env is None:
            # OPENAI_BASE_URL=http://lan-server: the environment's key never in clear
            api_key = None
            client = client.with_options(api_key=_DUMMY_KEY)
        elif api_key is None:
            raise CliError(f"set {key_variable} or pass --provider-url to replay a {provider} call")
    key = f"${key_variable}" if api_key else "none (a dummy key; --api-key-env VAR sends one)"
    return client, key


# Request settings that multiply what a call costs, shown before it is sent.
_LIMITS = ("max_tokens", "max_completion_tokens", "max_output_tokens", "service_tier")


def summary(request: ReplayRequest, client: Any, key: str) -> str:
    """What is about to be sent, and where, in one paragraph: a logged request may ask for
    64 answers of 100k tokens from the priciest model (``n``, token limits)."""
    kwargs = request.kwargs
    settings = [f"model {kwargs.get('model')}", f"n {kwargs.get('n', 1)}"]
    settings += [f"{name} {kwargs[name]}" for name in _LIMITS if name in kwargs]
    if not any(name in kwargs for name in _LIMITS[:3]):
        settings.append("no token limit set")
    settings.append(f"stream {'yes' if kwargs.get('stream') is True else 'no'}")
    return (
        f"llmlog: replay: to {visible_line(str(getattr(client, 'base_url', '?')))}: "
        f"{visible_line(', '.join(settings))}; API key: {visible_line(key)}\n"
    )


def _confirm(yes: bool) -> None:
    """Go on with ``--yes`` or a "y" typed at the terminal; else stop before sending."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise CliError(
            "replay sends a new call, billed to the key sent: pass --yes to send it "
            "(there is no terminal to ask on)"
        )
    sys.stderr.write("llmlog: send it? [y/N] ")
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise CliError("not sent")


def _link(original_id: str) -> AbstractContextManager[Any]:
    """The llmlog context that marks the new call as a replay of ``original_id``."""
    import llmlog

    if "replay_of" in inspect.signature(llmlog.context).parameters:
        return llmlog.context(replay_of=original_id)  # type: ignore[call-arg]
    return llmlog.context(tags={"replay_of": original_id})


def _send(request: ReplayRequest, client: Any, original_id: str, log_file: Path) -> None:
    import llmlog

    try:
        llmlog.instrument(output=str(log_file))
    except ValueError as exc:  # a bad LLMLOG_* value in the environment
        raise CliError(str(exc)) from None
    # Looked up after instrumenting: a method fetched earlier would be the unpatched one.
    target = client
    for name in request.method:
        target = getattr(target, name)
    try:
        with _link(original_id):
            answer = target(**_fitted(target, request.kwargs))
            if request.kwargs.get("stream") is True:  # sent as a stream, as the app did
                with answer:
                    for _ in answer:
                        pass
    except Exception as exc:
        status = getattr(exc, "status_code", None)
        raise CliError(
            f"the replay failed ({type(exc).__name__}{f' {status}' if status else ''}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}); the failed call is logged too"
        ) from None
    finally:
        llmlog.flush(30.0)
        llmlog.uninstrument()


def _fitted(method: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with the names ``method`` does not take put back into ``extra_body``: the
    record's params hold an ``extra_body``'s keys merged in (``top_k``), as they were sent."""
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return kwargs
    unknown = {k: v for k, v in kwargs.items() if k not in parameters}
    if not unknown or "extra_body" not in parameters:
        return kwargs
    fitted = {k: v for k, v in kwargs.items() if k in parameters}
    given = kwargs.get("extra_body")
    fitted["extra_body"] = {**(given if isinstance(given, dict) else {}), **unknown}
    return fitted


def _is_replay_of(record: dict[str, Any], original_id: str) -> bool:
    tags = record.get("tags")
    linked = record.get("replay_of") or (tags.get("replay_of") if isinstance(tags, dict) else None)
    return linked == original_id


def run(args: argparse.Namespace) -> int:
    """Re-send one logged request, log it as a replay, print both answers."""
    location = locate(args.log)
    files = location.existing_files()
    original = find_record(files, args.id)
    original_id = str(original.get("id"))
    log_file = replay_target(location, files, original_id)
    request = replay_request(original, model=args.model)
    client, key = _client(
        request.provider, args.provider_url, original.get("server_address"), args.api_key_env
    )
    for caveat in caveats(original):
        sys.stderr.write(f"llmlog: replay: {caveat}\n")
    sys.stderr.write(summary(request, client, key))
    _confirm(args.yes)
    _send(request, client, original_id, log_file)
    replays = list(
        call_records(
            replay_log_files(location, log_file),
            Filters(),
            also=lambda r: _is_replay_of(r, original_id),
        )
    )
    if not replays:
        raise CliError("the replay was sent but its record was not found in the log")
    sys.stdout.write(side_by_side(original, replays[-1]) + "\n")
    return 0


def _summary(record: dict[str, Any]) -> list[str]:
    price = record.get("cost_usd")
    return [
        f"{record.get('id')}",
        f"{record.get('response_model') or record.get('model')}  {record.get('status')}",
        f"{duration_ms(record.get('latency_ms'))}  {token_counts(record)} tokens  "
        f"{cost(price) if isinstance(price, int | float) else 'unpriced'}",
        "",
    ]


def side_by_side(original: dict[str, Any], replay: dict[str, Any], width: int | None = None) -> str:
    """Two columns: the logged answer on the left, the replayed one on the right.

    Lines are wrapped first and then made :func:`visible`, so no escape is cut in two.
    """
    width = width or shutil.get_terminal_size((120, 24)).columns
    column = max((width - 3) // 2, 20)

    def lines(title: str, record: dict[str, Any]) -> list[str]:
        body: list[str] = [title, *_summary(record)]
        text = output_text(record) or str((record.get("error") or {}).get("message") or "")
        for paragraph in text.splitlines() or [""]:
            body.extend(textwrap.wrap(paragraph, column) or [""])
        return [visible(line) for line in body]

    left, right = lines("original", original), lines("replay", replay)
    rows = max(len(left), len(right))
    left += [""] * (rows - len(left))
    right += [""] * (rows - len(right))
    return "\n".join(f"{a.ljust(column)} | {b}".rstrip() for a, b in zip(left, right, strict=True))
