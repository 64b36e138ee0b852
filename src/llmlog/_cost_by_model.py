"""Anthropic answers that more than one model worked on, split so each is priced at its own rate.

An advisor's sub-inferences (``advisor_message``) run on the advisor model; a
server-side fallback has a declined hop on the model asked for (``message``)
before the one that served (``fallback_message``). ``usage.iterations`` lists
each with its model. The split is used only when the entries account for the
top-level counts exactly (advisor entries either inside them or on top of them);
otherwise the record is priced as one model, as before.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any, Final

_SAMPLING: Final = frozenset({"message", "fallback_message", "advisor_message"})
# What the whole request ran under, which prices every model's part (see ``_cost_mode``).
_REQUEST_MODE: Final = ("speed", "inference_geo")
_COUNTS: Final = (
    "input_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "output_tokens",
)


def parts_by_model(record: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """One record per model, each with that model's share of the usage; None: one model."""
    if record.get("provider") != "anthropic":
        return None
    usage = record.get("usage")
    raw = usage.get("raw") if isinstance(usage, dict) else None
    iterations = raw.get("iterations") if isinstance(raw, dict) else None
    if not isinstance(iterations, list):
        return None
    main = record.get("response_model") or record.get("model")
    entries = [i for i in iterations if isinstance(i, dict) and i.get("type") in _SAMPLING]
    if not isinstance(main, str) or not entries:
        return None
    if all(not isinstance(i.get("model"), str) or i["model"] == main for i in entries):
        return None
    inside = [i for i in entries if i.get("type") != "advisor_message"]
    if _totals(entries) != _totals([raw]) and _totals(inside) != _totals([raw]):
        return None  # the entries do not account for the top-level counts
    by_model: dict[str, list[dict[str, Any]]] = {main: []}
    for entry in entries:
        model = entry.get("model")
        by_model.setdefault(model if isinstance(model, str) else main, []).append(entry)
    compactions = [i for i in iterations if isinstance(i, dict) and i.get("type") == "compaction"]
    mode = {key: raw[key] for key in _REQUEST_MODE if isinstance(raw, dict) and key in raw}
    return [
        _part(record, model, group, raw if model == main else None, compactions, mode)
        for model, group in by_model.items()
    ]


def _totals(entries: list[Any]) -> tuple[int, ...] | None:
    sums = [0] * len(_COUNTS)
    for entry in entries:
        for index, key in enumerate(_COUNTS):
            value = entry.get(key) or 0
            if not isinstance(value, int) or isinstance(value, bool):
                return None
            sums[index] += value
    return tuple(sums)


def _part(
    record: Mapping[str, Any],
    model: str,
    entries: list[dict[str, Any]],
    main_raw: Mapping[str, Any] | None,
    compactions: list[dict[str, Any]],
    mode: Mapping[str, Any],
) -> dict[str, Any]:
    """A copy of ``record`` for ``model`` alone; the main model's part also carries what is
    billed per request (server tool fees) and the compactions, priced at its rate."""
    plain, read, write, output = _totals(entries) or (0, 0, 0, 0)
    one_hour = 0
    for entry in entries:
        creation = entry.get("cache_creation")
        hour = creation.get("ephemeral_1h_input_tokens") if isinstance(creation, dict) else None
        one_hour += hour if isinstance(hour, int) and not isinstance(hour, bool) else 0
    raw: dict[str, Any] = {"cache_creation": {"ephemeral_1h_input_tokens": one_hour}, **mode}
    if main_raw is not None:
        raw["server_tool_use"] = main_raw.get("server_tool_use")
        raw["iterations"] = compactions
    part: MutableMapping[str, Any] = dict(record)
    part["response_model"] = model
    if main_raw is None:  # another model's part; the main one keeps the model asked for
        part["model"] = model  # (a Bedrock profile: global. or regional, priced as asked)
    part["usage"] = {
        "input_tokens": plain + read + write,
        "output_tokens": output,
        "cached_input_tokens": read,
        "cache_write_tokens": write,
        "raw": raw,
    }
    return dict(part)
