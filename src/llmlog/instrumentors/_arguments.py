"""The app's arguments as its call saw them, taken on the caller's thread for every call.

The record is built later, on the writer thread: by then the app may have appended to its
``messages`` list, and a generator it passed has been read by the SDK. So containers are
copied (leaves shared: they are immutable), SDK objects dumped, and one-pass iterators are
read here once and handed to the SDK as lists.
"""

from __future__ import annotations

from collections import UserString
from collections.abc import ItemsView, Iterator, KeysView, Mapping, Sequence, Set, ValuesView
from typing import Any, TypeGuard

_LEAVES = frozenset({str, int, float, bool, type(None), bytes})
_PLAIN = _LEAVES | {list, tuple, dict}
_TEXTS = (str, bytes, bytearray, memoryview, UserString)
"""Sequences that are one value, not a list of them (a UserString's items are UserStrings)."""


def snapshot(value: Any) -> Any:
    """Copy containers recursively, keep leaves: the app may mutate its lists later.

    Runs on the caller's thread for every call, hence the exact-type fast paths.
    """
    kind = type(value)
    if kind in _LEAVES:
        return value
    if kind is dict or isinstance(value, dict):
        return {k: v if type(v) in _LEAVES else snapshot(v) for k, v in value.items()}
    if kind is list or kind is tuple or isinstance(value, list | tuple):
        return [v if type(v) in _LEAVES else snapshot(v) for v in value]
    if isinstance(value, Mapping):  # a UserDict, a mappingproxy: copied as a dict is
        return {k: snapshot(v) for k, v in value.items()}
    if isinstance(value, Sequence | Set | KeysView | ValuesView | ItemsView) and not isinstance(
        value, _TEXTS
    ):
        return [snapshot(v) for v in value]  # a deque, a set, dict.values(): what the SDK reads
    try:
        to_list = getattr(value, "tolist", None)
        dump = getattr(value, "model_dump", None)
    except Exception:  # an app object whose attributes raise: kept as it is
        return value
    if callable(to_list) and not isinstance(value, type):
        # a numpy array or a pandas Series (`df.text.values` as embeddings input): its items,
        # not numpy's abbreviated repr, and not the array the app may change afterwards
        try:
            return snapshot(to_list())
        except Exception:
            return value
    if dump is not None and not isinstance(value, type):
        # an SDK object passed back (``response.content`` as the next turn's history):
        # dumped as the SDK sends it, so later changes to it do not reach the record
        try:
            return dump(
                mode="json",
                exclude_unset=True,
                exclude=getattr(value, "__api_exclude__", None),  # fields never sent
                by_alias=type(value).__module__.startswith("anthropic"),  # its wire names
                warnings=False,
            )
        except Exception:
            return value
    return value


def snapshot_arguments(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``snapshot(kwargs)`` with ``extra_body`` merged over the other arguments, as the
    SDKs merge it into the body they send (``model``, ``messages``, ``temperature``
    given there are what was sent). Arguments nested past the recursion limit (a tool
    schema hundreds of levels deep, a cycle in ``extra_body``) are kept as they are, one
    level down: the call is still recorded (the writer cuts what it cannot write)."""
    try:
        copied: dict[str, Any] = snapshot(kwargs)
    except RecursionError:
        return dict(kwargs)
    extra_body = copied.get("extra_body")
    if isinstance(extra_body, dict):
        del copied["extra_body"]
        # The SDK leaves out extra_body's NOT_GIVEN values (an `omit` removes the argument)
        copied.update((k, v) for k, v in extra_body.items() if type(v).__name__ != "NotGiven")
    return copied


def read_iterators(kwargs: dict[str, Any]) -> None:
    """One-pass iterators among the arguments (the SDKs take any iterable for ``messages``,
    ``tools``, ``input``, and within a message for its content blocks): a generator is
    read once, by the SDK, before the writer could look. So each is read here into a
    list, which the SDK then gets instead, and the record sees what was sent. Files are
    left alone. If the app's iterator raises, the SDK gets the items before the failure
    and then the same exception, as it would have.
    """
    for key, value in kwargs.items():
        if _one_pass(value):
            kwargs[key] = _read(value)
    for key in _MESSAGE_LISTS:
        messages = kwargs.get(key)
        if (type(messages) is list or type(messages) is tuple) and not _plain(messages):
            kwargs[key] = _read_each(messages)


_MESSAGE_LISTS = ("messages", "input")
"""Arguments holding messages (chat, Anthropic) or input items (Responses) whose fields
may hold iterators of their own."""


_NESTED = ("content", "tool_calls", "citations")
"""Fields of a message or content block the SDKs type as any iterable: content (a
message's, a ``tool_result``'s, a ``search_result``'s), openai's ``tool_calls``, a text
block's ``citations``. Content given as a list holds blocks of its own."""

_LIST_OR_NONE = frozenset({list, type(None)})


def _plain(items: list[Any] | tuple[Any, ...]) -> bool:
    """Whether no message or block in ``items`` (nor in the content lists they hold) has
    anything but text or a list in a field of :data:`_NESTED`. Runs for every call, so it
    neither copies nor calls anything for a message of text."""
    for item in items:
        if not isinstance(item, dict):
            continue
        content = item.get("content")
        if type(content) is list:
            if not _plain(content):
                return False
        elif content is not None and type(content) is not str:
            return False
        if ("tool_calls" in item or "citations" in item) and (
            type(item.get("tool_calls")) not in _LIST_OR_NONE
            or type(item.get("citations")) not in _LIST_OR_NONE
        ):
            return False
    return True


def _one_pass(value: Any) -> TypeGuard[Iterator[Any]]:
    return type(value) not in _PLAIN and isinstance(value, Iterator) and not hasattr(value, "read")


def _read(iterator: Iterator[Any]) -> list[Any] | Iterator[Any]:
    """The iterator's items; a replay of them and its exception if it raised."""
    items: list[Any] = []
    try:
        for item in iterator:
            items.append(item)
    except Exception as exc:
        return _replay(items, exc)
    return items


def _replay(items: list[Any], exc: Exception) -> Iterator[Any]:
    yield from items
    raise exc


def _read_each(items: list[Any] | tuple[Any, ...]) -> list[Any] | tuple[Any, ...]:
    """``items`` with the one-pass iterators in each dict's :data:`_NESTED` fields read
    (and in the blocks those hold, and so on). The very same sequence if none held one;
    else a new list in which only the dicts that held one are copies: the app's own
    messages are never changed."""
    read: list[Any] | None = None
    for index, item in enumerate(items):
        if isinstance(item, dict):
            new = _read_fields(item)
            if new is not item:
                if read is None:
                    read = list(items)
                read[index] = new
    return items if read is None else read


def _read_fields(item: dict[str, Any]) -> dict[str, Any]:
    """``item``, or a shallow copy of it with its fields' iterators read."""
    copied: dict[str, Any] | None = None
    for field in _NESTED:
        value = item.get(field)
        if field == "content" and (type(value) is list or type(value) is tuple):
            new: Any = _read_each(value)
        elif _one_pass(value):
            new = _read(value)
            if field == "content" and type(new) is list:  # blocks, which may hold some too
                new = _read_each(new)
        else:
            continue
        if new is not value:
            if copied is None:
                copied = dict(item)
            copied[field] = new
    return item if copied is None else copied
