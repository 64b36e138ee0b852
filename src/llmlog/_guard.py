"""The internal-error guard: llmlog's own bugs never reach the app.

Every place where llmlog code runs inside the app's call (wrappers, stream
proxies, finalizers, the writer) goes through :func:`report_internal_error`.
It prints one traceback per place on stderr, counts every occurrence, and
lets the app carry on. Under llmlog's own test suite
(``_LLMLOG_RAISE_INTERNAL_ERRORS=1``) it re-raises, so bugs are not hidden.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import CodeType
from typing import Final, ParamSpec, TypeVar

_P = ParamSpec("_P")
_T = TypeVar("_T")

_lock = threading.Lock()
_reported: set[str] = set()
counts: Counter[str] = Counter()
"""How often each kind of trouble happened in this process (place -> count)."""


def _raise_mode() -> bool:
    return os.environ.get("_LLMLOG_RAISE_INTERNAL_ERRORS", "") == "1"


def warn_once(key: str, message: str) -> None:
    """Print ``message`` on stderr the first time ``key`` is seen; count every time."""
    with _lock:
        counts[key] += 1
        if key in _reported:
            return
        _reported.add(key)
    try:
        sys.stderr.write(f"llmlog: {message}\n")
        sys.stderr.flush()
    except Exception:  # stderr itself may be gone at shutdown
        pass


def report_internal_error(exc: BaseException, where: str) -> None:
    """Report an llmlog bug at ``where`` once (with traceback) and count it.

    Re-raises ``exc`` when ``_LLMLOG_RAISE_INTERNAL_ERRORS=1``, and always when the app's
    signal handler raised it (see :func:`raised_by_signal_handler`): no bug of ours.
    """
    if _raise_mode() or raised_by_signal_handler(exc):
        raise exc
    text = _printable(exc)
    warn_once(
        f"bug:{where}",
        f"internal error in {where} (the app's call was not affected; "
        f"further errors here are counted, not printed):\n{text}",
    )


def raised_by_signal_handler(exc: BaseException) -> bool:
    """Whether ``exc`` came out of a Python signal handler the app installed (a deadline of
    ``timeout-decorator``, ``stopit``, Celery's soft time limit): CPython runs a handler
    between two bytecodes of whatever code runs, llmlog's too, and what it raises is the
    app's, to reach the app as it would without llmlog. Its traceback runs through the
    handler's frame. Read only on the error path: it looks up every signal's handler."""
    handlers = _signal_handler_codes()
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code in handlers:
            return True
        tb = tb.tb_next
    return False


def _signal_handler_codes() -> set[CodeType]:
    """The code of every Python signal handler installed now (a function, a method, an
    object's ``__call__``)."""
    codes: set[CodeType] = set()
    for signum in signal.valid_signals():
        try:
            handler = signal.getsignal(signum)
        except (OSError, ValueError):  # not a signal this platform lets one read
            continue
        code = getattr(handler, "__code__", None)
        if code is None and callable(handler):
            code = getattr(type(handler).__call__, "__code__", None)
        if isinstance(code, CodeType):
            codes.add(code)
    return codes


def _printable(exc: BaseException) -> str:
    """``exc``'s traceback as printed. Its frames (file, line, function) and type are what a
    bug report needs; its messages and the app's source lines may quote the app's data (a key
    in a header, an address in a value's ``repr``), and stderr is often kept in log files, so
    the ``secrets`` rules run over it, then e-mail addresses and long numbers are masked (plain
    ``re``: this path never waits for presidio). If the rules fail, only the type is printed."""
    text = "".join(traceback.format_exception(exc)).rstrip()
    try:
        from llmlog._redact_detect import Detector, DetectorConfig
        from llmlog._redact_operators import apply_spans, tag

        text = apply_spans(text, Detector(DetectorConfig("secrets")).find(text), tag)
    except Exception:
        return f"{type(exc).__name__} (not shown: the secrets rules failed on it)"
    return _masked(text)


_EMAIL: Final = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+")
# 7 digits or more, a separator or two between them allowed: phones, cards, SSNs, IPv4.
# Not a newline: a frame's line number and the source line under it stay apart.
_LONG_NUMBER: Final = re.compile(r"\d(?:[ ().\-]{0,2}\d){6,}")


def _masked(text: str) -> str:
    """``text`` with e-mail addresses and long numbers replaced by tags (bounded patterns:
    linear in the text)."""
    return _LONG_NUMBER.sub("<NUMBER>", _EMAIL.sub("<EMAIL_ADDRESS>", text))


@contextmanager
def guarded(where: str) -> Iterator[None]:
    """Run a block of llmlog code; any ``Exception`` is reported, never propagated (but
    what the app's signal handler raised: see :func:`report_internal_error`)."""
    try:
        yield
    except Exception as exc:
        report_internal_error(exc, where)


def guard(where: str, default: _T) -> Callable[[Callable[_P, _T]], Callable[_P, _T]]:
    """Decorator form of :func:`guarded` returning ``default`` after an error."""

    def decorate(func: Callable[_P, _T]) -> Callable[_P, _T]:
        def run(*args: _P.args, **kwargs: _P.kwargs) -> _T:
            try:
                return func(*args, **kwargs)
            except Exception as exc:
                report_internal_error(exc, where)
                return default

        run.__name__ = getattr(func, "__name__", "guarded")
        run.__doc__ = func.__doc__
        return run

    return decorate


def _reset_for_tests() -> None:
    with _lock:
        _reported.clear()
        counts.clear()
