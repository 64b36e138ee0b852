"""Which model a managed-agent session's subagent runs (see ``_openai_agent_sessions``).

The server says which model a ``create_subagent_call`` asked for, and later shows the
subagent's turns by its own id, with no link between the two: a call is matched to the
next subagent only when it was the one waiting, never guessed among several.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Final

from llmlog.instrumentors._sdk_field import field

_MAX_SUBAGENTS: Final = 64  # subagents' models remembered per session


class Subagents:
    """The model each subagent of a session runs: the one its ``create_subagent_call``
    asked for, known when exactly one such call was waiting as the subagent first
    showed; else None (never another subagent's, nor the root agent's)."""

    __slots__ = ("asked", "expected", "models", "settled", "unexplained")

    def __init__(self) -> None:
        self.asked: dict[str, Any] = {}  # calls waiting for their subagent: id -> model
        self.settled: OrderedDict[str, None] = OrderedDict()  # calls matched or given up
        self.models: OrderedDict[str, Any] = OrderedDict()  # subagent id -> model (or None)
        self.expected = 0  # subagents of calls given up on (several waited at once)
        self.unexplained = 0  # subagents that showed with no call waiting (theirs is late)

    def asked_for(self, item: Any) -> None:
        """A ``create_subagent_call`` item (added or done)."""
        call_id = field(item, "id")
        if not isinstance(call_id, str) or call_id in self.asked or call_id in self.settled:
            return
        if self.unexplained:  # a subagent showed before it: most likely this call's
            self.unexplained -= 1
            self._settle(call_id)
        elif len(self.asked) < _MAX_SUBAGENTS:
            self.asked[call_id] = field(item, "model")

    def model(self, subagent_id: Any) -> Any:
        if not isinstance(subagent_id, str):
            return None
        if subagent_id not in self.models:
            waiting = list(self.asked.values())
            if not waiting and self.expected:
                self.expected -= 1
            elif not waiting:
                self.unexplained = min(self.unexplained + 1, _MAX_SUBAGENTS)
            self.expected += max(len(waiting) - 1, 0)
            for call_id in self.asked:
                self._settle(call_id)
            self.asked.clear()
            self.models[subagent_id] = waiting[0] if len(waiting) == 1 else None
            while len(self.models) > _MAX_SUBAGENTS:
                self.models.popitem(last=False)
        return self.models[subagent_id]

    def _settle(self, call_id: str) -> None:
        self.settled[call_id] = None
        while len(self.settled) > _MAX_SUBAGENTS:
            self.settled.popitem(last=False)
