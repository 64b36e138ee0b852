"""``with_raw_response.create(stream=True)``: the app's later ``.parse()`` yields our proxy.

The SDKs' raw responses cache what ``parse()`` builds, and for a server-sent
event body building the stream reads nothing. So building it at once and
putting the proxy in the cache changes nothing the app can see, except that
the events it reads are recorded.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


def proxy_parsed_stream(raw: Any, make_proxy: Callable[[Any], Any]) -> bool:
    """Put ``make_proxy(stream)`` where ``raw.parse()`` keeps the stream; False if it could not."""
    stream = _parsed(raw)
    cache = getattr(raw, "_parsed_by_type", None)
    if stream is None or not isinstance(cache, dict):
        return False
    keys = [key for key, value in cache.items() if value is stream]
    if not keys:
        return False
    proxy = make_proxy(stream)
    for key in keys:
        cache[key] = proxy
    return True


def _parsed(raw: Any) -> Any:
    """What ``raw.parse()`` returns. An async client's ``parse()`` is a coroutine that,
    for a stream, finishes without awaiting anything: it is run here in one step
    (given up, and closed, if it ever waits)."""
    parsed = raw.parse()
    if not inspect.iscoroutine(parsed):
        return parsed
    try:
        parsed.send(None)
    except StopIteration as done:
        return done.value
    parsed.close()
    return None
