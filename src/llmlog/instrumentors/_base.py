"""Patch mechanics: the patch table as data, wrappers, install and remove.

Provider modules describe *what* to patch (:class:`Target` rows) and how to
read a call (:class:`Provider`); this module does the patching, the same way
for every provider:

- patches are installed by post-import hooks, so ``instrument()`` imports no
  SDK and a hook that fails can never break the app's ``import openai``;
- a target missing from the installed SDK version is skipped with one debug line;
- each wrapper's handle is kept, so ``uninstrument()`` removes exactly our
  wrapper with ``wrapt.unwrap_object`` even under another library's wrapper (one
  held in another's closure stays, a pass-through); ``instrument()`` re-applies those
  another tool removed (``_patch_presence``);
- a module-level switch turns stale bound wrappers (SDK objects such as
  ``with_raw_response`` capture the method once) into pass-throughs.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from sys import _getframe
from types import CodeType, FrameType, ModuleType
from typing import Any, Final

import wrapt

from llmlog import _context, _guard, _pipeline
from llmlog._record import BASE_URL, Capture, server_address
from llmlog.instrumentors import _warnings_shim
from llmlog.instrumentors._arguments import read_iterators, snapshot_arguments
from llmlog.instrumentors._client_defaults import note_client_options
from llmlog.instrumentors._in_flight import (
    deliver,
    enter_flight,
    failed,
    finish_in_flight,
    wait_for_in_flight,
)
from llmlog.instrumentors._patch_presence import still_patched, take_off
from llmlog.instrumentors._wrapper_kinds import wrapper_class

log = logging.getLogger("llmlog")

Wrapper = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]


@dataclass(frozen=True)
class Target:
    """One row of a provider's patch table."""

    module: str
    qualname: str
    method: str
    operation: str
    is_async: bool
    only_if: Callable[[Mapping[str, Any]], bool] | None = None
    """Record the call only when this holds for its kwargs (None: always). For
    methods that are a model call only in one form, e.g. ``retrieve(stream=True)``."""
    observe: Callable[[Any, str], None] | None = None
    """Sees ``(result, method)`` of a call of this method not recorded (``only_if`` false):
    a finished job it returns may be a record of its own. Never raises."""
    stable: bool = False
    """``Cls.method is Cls.method`` holds, as without llmlog (``_wrapper_kinds``):
    for methods called too seldom for its cost to matter."""
    sends_when_entered: bool = False
    """The method returns a manager whose ``with`` sends the request (Anthropic's
    ``messages.stream()``): whether the call is logged (``log=False``) is decided there."""


def sync_and_async_helpers(
    module: str, classes: tuple[tuple[str, bool], ...], method: str, sync: Wrapper, async_: Wrapper
) -> tuple[tuple[Target, ...], dict[str, Wrapper]]:
    """Helper rows (no record of their own) for ``method`` of each ``(class, is_async)`` in
    ``module``, and their wrappers: ``async_`` for the async classes, ``sync`` for the rest."""
    rows = tuple(
        Target(module, f"{cls}.{method}", f"{cls}.{method}", "helper", is_async)
        for cls, is_async in classes
    )
    wrappers = {f"{row.module}:{row.qualname}": async_ if row.is_async else sync for row in rows}
    return rows, wrappers


@dataclass(frozen=True)
class Provider:
    """What llmlog knows about one SDK: where to patch and how to read a call."""

    name: str
    targets: tuple[Target, ...]
    extract: Callable[[Capture], dict[str, Any]]
    on_result: Callable[[Capture, Any], Any]
    helpers: tuple[Target, ...] = ()
    helper_wrappers: Mapping[str, Wrapper] = field(default_factory=dict)
    """A helper's wrapper by ``module:qualname``, or by ``qualname`` alone."""


_active = False

# The nesting guard --------------------------------------------------------------------
#
# A call the same SDK client makes inside its own call (should an SDK
# method ever call another patched one) is not a second model call. ``_in_call`` holds
# [client, id of the wrapper's frame] of the call in progress, the client cleared when the
# call ends; a new call is skipped only if it comes from that client while that frame is
# on the stack of the code making it: within the call's dynamic extent. A task or thread
# started during the call (from an HTTP hook, an ``api_key`` provider; a greenlet too)
# gets a copy of the context but runs on a stack of its own, and once the call ends the
# copy matches nothing: the calls it makes are the app's and are recorded. A call through
# another client (a guardrail in an HTTP hook, a fallback) is one too.

_in_call: ContextVar[list[Any] | None] = ContextVar("llmlog_in_call", default=None)
_label: ContextVar[list[Any] | None] = ContextVar("llmlog_helper_label", default=None)
"""[label, id of the wrapper's frame] of an SDK helper being entered (``responses.stream()``):
the first call begun within it (that frame on its stack) takes the label as its ``method``;
then, or when the helper's ``__enter__`` returns, the label is cleared, so no later call
or copied context takes it."""
_get_ident = threading.get_ident


def _on_stack(frame_id: int) -> bool:
    """Whether the frame ``frame_id`` (alive: its call is in progress) is one of those
    running the current code (for a task, its awaits; for a thread, its calls)."""
    frame: FrameType | None = _getframe(1)
    while frame is not None:
        if id(frame) == frame_id:
            return True
        frame = frame.f_back
    return False


_lock = threading.RLock()
_handles: dict[tuple[str, str], tuple[ModuleType, Any]] = {}
_held: dict[tuple[str, str], tuple[ModuleType, Any]] = {}
"""Wrappers left beneath another tool's at uninstrument (see ``_patch_presence``)."""
_hooked_modules: set[str] = set()
_wanted: dict[str, Provider] = {}


after_uninstall: list[Callable[[], None]] = []
"""Called by :func:`uninstall_all` (state that must not outlive the patches)."""


def is_active(provider: str | None = None) -> bool:
    """Whether llmlog is instrumenting (``provider``'s SDK, if given)."""
    return _active if provider is None else provider in _wanted


def _trace_ids() -> tuple[str, str] | None:
    """The active OpenTelemetry span's ids, read straight from the context.

    Reading the context value (not ``trace.get_current_span()``) calls none of
    OpenTelemetry's API functions, which apps and SDKs may patch or count.
    """
    propagation = sys.modules.get("opentelemetry.trace.propagation")
    context = sys.modules.get("opentelemetry.context")
    if propagation is None or context is None:
        return None
    span = context.get_value(propagation._SPAN_KEY)
    if span is None:
        return None
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return None
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"


def _start(provider: Provider, target: Target, kwargs: dict[str, Any], client: Any) -> Capture:
    _pipeline.prepare()  # the writer gets ready while the call runs
    cap = Capture(
        provider=provider.name,
        method=target.method,
        operation=target.operation,
        kwargs=snapshot_arguments(kwargs),
        stream=kwargs.get("stream") is True,  # also when it fails before the first event
        extract=provider.extract,
        context=_context.snapshot(),
        trace_ids=_trace_ids(),
        client=client,
    )
    # where the call goes, read now: the app may point the client elsewhere before the
    # writer builds the record
    cap.extra["server_address"] = server_address(client)
    cap.extra[BASE_URL] = getattr(client, "base_url", None)  # its port, read by the writer
    note_client_options(cap, client)  # default headers and query the app set on it
    return cap


def _let_go(var: ContextVar[list[Any] | None], token: Any, mark: list[Any]) -> None:
    """A call or helper is over: its mark matches nothing any more, and ``var`` is restored
    (unless the coroutine was closed outside its task, or ``set()`` cut short: no token)."""
    mark[0] = None
    if token is None:
        return
    try:  # noqa: SIM105 (suppress() would cost the caller a context manager)
        var.reset(token)
    except ValueError:
        pass


def _take_label(cap: Capture) -> None:
    mark = _label.get()
    if mark is not None and mark[0] is not None and _on_stack(mark[1]):
        cap.method = mark[0]
        mark[0] = None  # the helper's own call: later ones are not it


def labelled(label: str, *, is_async: bool) -> Wrapper:
    """A helper's ``__enter__`` (``__aenter__``): the call it makes is recorded as ``label``
    (however it ends: a failed request is the helper's too)."""
    if is_async:

        async def async_labelled(
            wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            mark, token = [label, id(_getframe())], None
            try:  # set within: Ctrl-C as set() returns must not leave it armed
                token = _label.set(mark)
                return await wrapped(*args, **kwargs)
            finally:
                _let_go(_label, token, mark)

        return async_labelled

    def sync_labelled(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        mark, token = [label, id(_getframe())], None
        try:
            token = _label.set(mark)
            return wrapped(*args, **kwargs)
        finally:
            _let_go(_label, token, mark)

    return sync_labelled


def make_wrapper(provider: Provider, target: Target) -> Wrapper:
    """The wrapt wrapper for one target (an ``async def`` for async targets)."""

    def begin(client: object, kwargs: dict[str, Any]) -> Capture | None:
        if _wanted.get(provider.name) is not provider:
            return None  # uninstrumented (a stale bound wrapper)
        if _context.logging_off() and not target.sends_when_entered:
            return None  # llmlog.context(log=False): no record, nothing copied, no proxy
        outer = _in_call.get()
        if outer is not None and outer[0] is client and _on_stack(outer[1]):
            return None  # within the same client's own call (see _in_call)
        try:
            if target.only_if is not None and not target.only_if(kwargs):
                return None
            read_iterators(kwargs)
            cap = _start(provider, target, kwargs, client)
            _take_label(cap)
            return cap
        except Exception as exc:
            _guard.report_internal_error(exc, f"{provider.name} {target.method}")
            return None

    def observed(result: Any) -> Any:
        if target.observe is not None and _wanted.get(provider.name) is provider:
            target.observe(result, target.method)
        return result

    if target.is_async:

        def async_wrapper(
            wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            """The call's coroutine, named as the SDK's own (a warning that it was never
            awaited, ``repr(task)``, asyncio's debug log name the SDK's method)."""
            coroutine: Any = async_call(wrapped, instance, args, kwargs)
            with contextlib.suppress(AttributeError, TypeError):
                coroutine.__name__ = wrapped.__name__
                coroutine.__qualname__ = wrapped.__qualname__
            return coroutine

        async def async_call(
            wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            client = getattr(instance, "_client", instance)
            cap = begin(client, kwargs)
            if cap is None:
                if target.observe is None:
                    return await wrapped(*args, **kwargs)
                return observed(await wrapped(*args, **kwargs))
            enter_flight(cap)
            call, token = [client, 0], None
            try:  # armed within: see sync_wrapper
                call[1] = id(_getframe())
                token = _in_call.set(call)
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                failed(cap, exc)
                raise
            finally:
                _let_go(_in_call, token, call)
            return deliver(cap, result, provider.on_result)

        return async_wrapper

    def sync_wrapper(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        client = getattr(instance, "_client", instance)
        cap = begin(client, kwargs)
        if cap is None:
            if target.observe is None:
                return wrapped(*args, **kwargs)
            return observed(wrapped(*args, **kwargs))
        enter_flight(cap)
        call, token = [client, 0], None
        try:  # armed within: Ctrl-C as set() returns must not leave later calls "nested"
            call[1] = id(_getframe())
            token = _in_call.set(call)
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            failed(cap, exc)
            raise
        finally:
            call[0] = None
            if token is not None:
                _in_call.reset(token)
        return deliver(cap, result, provider.on_result)

    return sync_wrapper


CALL_FRAMES: Final = frozenset(
    code
    for code in make_wrapper.__code__.co_consts
    if isinstance(code, CodeType) and code.co_name in ("sync_wrapper", "async_call")
)
"""The code of the frames a patched call runs in, its capture in their local ``cap`` (None
for a call not recorded): how a hook deep in the SDK finds the call it serves."""


def _patch_module(module: ModuleType) -> None:
    """Post-import hook: wrap every wanted target living in ``module``. Never raises."""
    try:
        with _lock:
            for provider in list(_wanted.values()):
                for target in provider.targets + provider.helpers:
                    if target.module != module.__name__:
                        continue
                    key = (target.module, target.qualname)
                    if still_patched(key, _handles, _held):
                        continue
                    if target in provider.helpers:
                        wrapper = (
                            provider.helper_wrappers.get(f"{target.module}:{target.qualname}")
                            or provider.helper_wrappers[target.qualname]
                        )
                    else:
                        wrapper = make_wrapper(provider, target)
                    try:
                        original = wrapt.resolve_path(module, target.qualname)[2]
                    except (AttributeError, wrapt.PathResolutionError):
                        log.debug("llmlog: %s.%s not in this SDK version; skipped", *key)
                        continue
                    kind = wrapper_class(stable=target.stable, is_async=target.is_async)
                    handle = wrapt.wrap_object(module, target.qualname, kind, (wrapper,))
                    _handles[key] = (module, handle)
                    _warnings_shim.install(original, target.module.partition(".")[0])
    except Exception as exc:
        # A failing import hook would break the app's own import: never let it.
        _guard.report_internal_error(exc, f"patching {getattr(module, '__name__', module)}")


def install(provider: Provider) -> None:
    """Patch ``provider``'s targets now or whenever their modules get imported."""
    global _active
    with _lock:
        _wanted[provider.name] = provider
        _active = True
        for name in dict.fromkeys(target.module for target in provider.targets + provider.helpers):
            if name in _hooked_modules:
                module = sys.modules.get(name)
                if module is not None:
                    _patch_module(module)
                continue
            _hooked_modules.add(name)
            wrapt.register_post_import_hook(_patch_module, name)


def uninstall(name: str) -> None:
    """Stop patching one provider (disabled by a later ``instrument()``): its wrappers go,
    its stale bound ones pass through; its calls in flight and open streams still end
    with their records. (Its ``warnings`` shim stays: it is the module's own otherwise.)"""
    global _active
    with _lock:
        provider = _wanted.pop(name, None)
        if provider is None:
            return
        for target in provider.targets + provider.helpers:
            key = (target.module, target.qualname)
            if key in _handles:
                take_off(key, *_handles.pop(key), _held)
        _active = bool(_wanted)


def uninstall_all(wait: float = 0.0) -> None:
    """Remove every wrapper we installed; stale bound wrappers become pass-throughs.

    Then the calls in flight on other threads get up to ``wait`` seconds to end (and be
    recorded as they end); those still in flight are recorded as ``cancelled``, and so is
    what is open (streams, sessions: the ``after_uninstall`` hooks).
    """
    global _active
    with _lock:
        _active = False
        _wanted.clear()
        for key, (module, handle) in list(_handles.items()):
            take_off(key, module, handle, _held)
        _handles.clear()
        _warnings_shim.uninstall_all()
    if wait > 0:
        wait_for_in_flight(wait)
    with _lock:
        finish_in_flight()
        for forget in after_uninstall:
            with _guard.guarded("uninstrument"):
                forget()


def installed() -> list[tuple[str, str]]:
    """(module, qualname) of every live patch: for tests and ``llmlog doctor``-like checks."""
    with _lock:
        return sorted(_handles)
