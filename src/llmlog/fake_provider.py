"""A loopback fake of the OpenAI and Anthropic HTTP APIs, for trying llmlog without a key.

Point the real SDKs at it and they behave as against the real services::

    with start_server() as fake:
        openai.OpenAI(base_url=f"{fake.url}/v1", api_key="fake")
        anthropic.Anthropic(base_url=fake.url, api_key="fake")

Endpoints: ``/v1/chat/completions``, ``/v1/responses``, ``/v1/completions``,
``/v1/embeddings`` (OpenAI) and ``/v1/messages``, ``/v1/messages/count_tokens``
(Anthropic), plain and SSE streaming. Answers are derived from the prompt, so
they are the same on every run. A tool is called when the request offers tools
and the prompt names one (or says "tool", "call", "use", ...). Special models:

* ``fake-error`` -> HTTP 500, ``fake-rate-limit`` -> HTTP 429, each in the
  provider's error shape, with ``x-should-retry: false`` so SDKs fail at once;
* ``fake-stream-error`` -> the stream breaks off with an error event.

From a shell: ``llmlog fake-provider --port 8089``.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from llmlog import _fake_anthropic, _fake_openai
from llmlog._fake_answer import Plain, random_id

__all__ = ["FakeProvider", "delay_ms", "main", "no_proxy_env", "port_number", "start_server"]

LOOPBACK_NAMES = ("127.0.0.1", "localhost")

#: The longest delay taken (an hour; SDKs give up after ten minutes; far longer overflows).
MAX_DELAY_MS = 3_600_000.0

Route = Callable[[Mapping[str, Any]], Plain | Iterator[bytes]]

#: path (without the ``/v1`` prefix) -> (provider, handler)
ROUTES: Mapping[str, tuple[str, Route]] = {
    "/chat/completions": ("openai", _fake_openai.chat_completions),
    "/responses": ("openai", _fake_openai.responses),
    "/completions": ("openai", _fake_openai.completions),
    "/embeddings": ("openai", _fake_openai.embeddings),
    "/messages": ("anthropic", _fake_anthropic.messages),
    "/messages/count_tokens": ("anthropic", _fake_anthropic.count_tokens_endpoint),
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Many tests start and stop servers quickly; don't wait out TIME_WAIT.
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], ttft: float, token_delay: float, verbose: bool):
        self.ttft = ttft
        self.token_delay = token_delay
        self.verbose = verbose
        self.received: collections.deque[tuple[str, dict[str, Any]]] = collections.deque(
            maxlen=1000
        )
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (SDK clients do at exit) is not an error worth a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect
    # Small writes on a kept-alive socket otherwise wait ~40 ms for the client's delayed ACK
    # (Nagle), which would show up as fake latency in every measurement made through us.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        path = path.removeprefix("/v1")
        provider, route = ROUTES.get(path, ("anthropic" if "messages" in path else "openai", None))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        if route is None:
            self._reply(provider, _error(provider, 404, f"Unknown path {self.path}"))
        elif not isinstance(body, dict):
            self._reply(provider, _error(provider, 400, "The request body is not a JSON object."))
        else:
            self.server.received.append((path, body))
            self._reply(provider, route(body))

    def do_GET(self) -> None:
        routes = [f"POST /v1{path}" for path in ROUTES]
        self._reply("openai", Plain(200, {"fake_provider": "llmlog", "routes": routes}))

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _reply(self, provider: str, reply: Plain | Iterator[bytes]) -> None:
        if self.server.ttft:
            time.sleep(self.server.ttft)
        try:
            if isinstance(reply, Plain):
                self._send_plain(provider, reply)
            else:
                self._send_stream(provider, reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away; nothing to tell it

    def _send_head(self, provider: str, status: int, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if provider == "anthropic":
            self.send_header("request-id", random_id("req_011C", 20))
        else:
            self.send_header("x-request-id", "req_" + random_id("", 32).lower())
            self.send_header("openai-processing-ms", str(int(self.server.ttft * 1000)))
        if status >= 400:
            self.send_header("x-should-retry", "false")

    def _send_plain(self, provider: str, reply: Plain) -> None:
        payload = json.dumps(reply.body).encode()
        self._send_head(provider, reply.status, "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _send_stream(self, provider: str, frames: Iterator[bytes]) -> None:
        self._send_head(provider, 200, "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for index, frame in enumerate(frames):
            if index and self.server.token_delay:
                time.sleep(self.server.token_delay)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


def _error(provider: str, status: int, message: str) -> Plain:
    if provider == "anthropic":
        return _fake_anthropic.error(status, message)
    return _fake_openai.error(status, message)


def no_proxy_env(environ: Mapping[str, str], *hosts: str) -> dict[str, str]:
    """``NO_PROXY`` and ``no_proxy``: those of ``environ`` (either spelling) plus loopback
    and ``hosts``.

    Both spellings, the same value: clients differ in which one wins when both are set.
    """
    names: list[str] = []
    given = f"{environ.get('no_proxy', '')},{environ.get('NO_PROXY', '')}".split(",")
    for name in [*(n.strip() for n in given), *LOOPBACK_NAMES, *hosts]:
        if name and name not in names:
            names.append(name)
    joined = ",".join(names)
    return {"NO_PROXY": joined, "no_proxy": joined}


class FakeProvider:
    """A running fake provider; stop it with :meth:`close` or a ``with`` block."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="llmlog-fake-provider", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """Base URL without ``/v1`` (Anthropic's ``base_url``; OpenAI's is ``url + "/v1"``)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[tuple[str, dict[str, Any]]]:
        """(path, JSON body) of the requests received so far (the last 1000)."""
        return list(self._server.received)

    def env(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment variables that point both SDKs at this server.

        Also ``NO_PROXY``/``no_proxy`` with the loopback names and this server's
        address added to those of ``environ`` (default ``os.environ``): with
        ``HTTP(S)_PROXY`` set, the SDKs (httpx) would otherwise send loopback
        requests to the proxy.
        """
        host = str(self._server.server_address[0])
        return {
            "OPENAI_BASE_URL": f"{self.url}/v1",
            "OPENAI_API_KEY": "fake",
            "ANTHROPIC_BASE_URL": self.url,
            "ANTHROPIC_API_KEY": "fake",
            **no_proxy_env(os.environ if environ is None else environ, host),
        }

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> FakeProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def start_server(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    ttft: float = 0.0,
    token_delay: float = 0.0,
    verbose: bool = False,
) -> FakeProvider:
    """Serve the fake APIs on a daemon thread; ``port=0`` picks a free port.

    ``ttft`` delays every response (time to first token) and ``token_delay``
    spaces stream events, both in seconds, for realistic latency numbers.
    """
    longest = MAX_DELAY_MS / 1000
    for name, seconds in (("ttft", ttft), ("token_delay", token_delay)):
        if not 0 <= seconds <= longest:  # else every request would fail inside the server
            raise ValueError(f"{name} must be from 0 to {longest:.0f} seconds, not {seconds!r}")
    return FakeProvider(_Server((host, port), ttft, token_delay, verbose))


def port_number(text: str) -> int:
    """``--port``: checked here, so 99999 is a usage error rather than a traceback from bind."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: use 0 to 65535 (0: any free)")
    return port


def delay_ms(text: str) -> float:
    """A delay flag in milliseconds: checked here, so a negative one is a usage error rather
    than a failure of every request (``time.sleep`` refuses it in the server)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= MAX_DELAY_MS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a delay: use milliseconds from 0 to {MAX_DELAY_MS:.0f}"
        )
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """``llmlog fake-provider``: serve in the foreground until interrupted."""
    parser = argparse.ArgumentParser(
        prog="llmlog fake-provider",
        description="Serve fake OpenAI- and Anthropic-compatible APIs on loopback "
        "(no key, no network). Models fake-error, fake-rate-limit and "
        "fake-stream-error produce errors.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (%(default)s)")
    parser.add_argument(
        "--port", type=port_number, default=8089, help="port, 0 for any (%(default)s)"
    )
    parser.add_argument("--ttft-ms", type=delay_ms, default=0.0, help="delay before each response")
    parser.add_argument(
        "--token-delay-ms", type=delay_ms, default=0.0, help="delay between stream events"
    )
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    args = parser.parse_args(argv)
    try:
        fake = start_server(
            args.host,
            args.port,
            ttft=args.ttft_ms / 1000,
            token_delay=args.token_delay_ms / 1000,
            verbose=not args.quiet,
        )
    except OSError as exc:
        print(
            f"llmlog fake-provider: cannot listen on {args.host}:{args.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    print(f"Fake provider listening on {fake.url} (Ctrl-C to stop). Point your app at it:")
    for name, value in fake.env().items():
        print(f"  export {name}={value}")
    sys.stdout.flush()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
