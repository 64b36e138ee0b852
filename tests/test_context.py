"""Context: session, user, template and tags follow threads and asyncio tasks."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import AsyncIterator, Generator
from typing import Any

import pytest

import llmlog
from llmlog import _context
from llmlog.testing import CapturedRecords
from support import toy_sdk

MESSAGES = [{"role": "user", "content": "hi"}]


def ask() -> None:
    toy_sdk.Client().create(messages=MESSAGES, model="toy")


class TestContext:
    def test_values_reach_the_record(self, toy: CapturedRecords) -> None:
        """session, user, template (name/version/variables) and tags are in the record."""
        with llmlog.context(
            session_id="s1",
            user_id="u1",
            tags=["beta"],
            template={"name": "greet", "version": 2, "variables": {"n": "Ann"}},
        ):
            ask()
        [r] = toy.calls
        assert (r["session_id"], r["user_id"]) == ("s1", "u1")
        assert r["template"] == {"name": "greet", "version": "2", "variables": {"n": "Ann"}}
        assert r["tags"] == {"beta": True}

    def test_nesting_adds_and_restores(self, toy: CapturedRecords) -> None:
        """An inner context overrides and merges tags; leaving it restores the outer."""
        with llmlog.context(session_id="outer", tags={"team": "a"}):
            with llmlog.context(user_id="u", tags={"step": "2"}):
                ask()
            ask()
        inner, outer = toy.calls
        assert inner["tags"] == {"team": "a", "step": "2"} and inner["user_id"] == "u"
        assert outer["tags"] == {"team": "a"} and outer["user_id"] is None

    def test_a_context_left_before_one_entered_inside_it_leaves_nothing_behind(
        self, toy: CapturedRecords
    ) -> None:
        """A generator holding a context, closed inside another block: once both are left,
        no value is stuck on the thread; until then the later one's values stay."""

        def numbers() -> Generator[int, None, None]:
            with llmlog.context(session_id="g"):
                yield 1
                yield 2

        gen = numbers()
        next(gen)
        with llmlog.context(user_id="u"):
            gen.close()
            ask()
        ask()
        inside, after = toy.calls
        assert (inside["session_id"], inside["user_id"]) == (None, "u")
        assert (after["session_id"], after["user_id"]) == (None, None)

    def test_an_async_function_under_another_decorator_runs_inside(
        self, toy: CapturedRecords
    ) -> None:
        """A plain functools.wraps decorator hides the coroutine function: the coroutine
        it returns still runs in the context."""

        def passthrough(func: Any) -> Any:
            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                return func(*args, **kwargs)

            return wrapper

        @llmlog.context(session_id="wrapped")
        @passthrough
        async def handler() -> None:
            await toy_sdk.Client().acreate(messages=MESSAGES, model="toy")

        asyncio.run(handler())
        assert toy.calls[0]["session_id"] == "wrapped"

    @pytest.mark.parametrize(
        ("template", "named"),
        [
            ({"name": "t", "variables": "abc"}, "'variables'"),
            ({"name": "t", "variables": [1, 2]}, "'variables'"),
            ({"name": None}, "'name'"),
            ({"name": ""}, "'name'"),
        ],
    )
    def test_a_bad_template_is_refused_naming_the_part(
        self, template: dict[str, Any], named: str
    ) -> None:
        with pytest.raises((TypeError, ValueError), match=named):
            llmlog.context(template=template)

    def test_decorators_work_on_sync_and_async_functions(self, toy: CapturedRecords) -> None:
        """@llmlog.context(...) wraps plain and coroutine functions alike."""

        @llmlog.context(session_id="sync")
        def f() -> None:
            ask()

        @llmlog.context(session_id="async")
        async def g() -> None:
            await toy_sdk.Client().acreate(messages=MESSAGES, model="toy")

        f()
        asyncio.run(g())
        assert [r["session_id"] for r in toy.calls] == ["sync", "async"]

    def test_threads_do_not_see_each_others_values(self, toy: CapturedRecords) -> None:
        """Each thread's calls carry that thread's session only."""

        def worker(name: str) -> None:
            llmlog.bind(session_id=name)
            for _ in range(20):
                ask()

        threads = [threading.Thread(target=worker, args=(f"t{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        counts: dict[str, int] = {}
        for r in toy.calls:
            counts[r["session_id"]] = counts.get(r["session_id"], 0) + 1
        assert counts == {"t0": 20, "t1": 20, "t2": 20, "t3": 20}

    async def test_asyncio_tasks_keep_their_own_values(self, toy: CapturedRecords) -> None:
        """Concurrent tasks interleaving awaits keep separate sessions."""

        async def task(name: str) -> None:
            with llmlog.context(session_id=name):
                for _ in range(5):
                    await toy_sdk.Client().acreate(messages=MESSAGES, model="toy")
                    await asyncio.sleep(0)

        await asyncio.gather(task("a"), task("b"))
        assert sorted(r["session_id"] for r in toy.calls) == ["a"] * 5 + ["b"] * 5

    async def test_one_instance_entered_by_many_tasks_and_threads(
        self, toy: CapturedRecords
    ) -> None:
        """A context made once (a module constant) used by concurrent tasks and threads:
        each leaves on its own, nothing is raised into the app."""
        shared = llmlog.context(tags=["batch"])

        async def task(name: str, pause: float) -> None:
            with shared, llmlog.context(session_id=name):
                await asyncio.sleep(pause)
                await toy_sdk.Client().acreate(messages=MESSAGES, model="toy")

        def worker(name: str, pause: float) -> None:
            with shared:
                llmlog.bind(session_id=name)
                time.sleep(pause)
                ask()

        threads = [threading.Thread(target=worker, args=(f"t{i}", i / 50)) for i in range(2)]
        for thread in threads:
            thread.start()
        await asyncio.gather(task("first", 0.01), task("second", 0.03))
        for thread in threads:
            thread.join()
        got = sorted((r["session_id"], r["tags"]) for r in toy.calls)
        batch = {"batch": True}
        assert got == [("first", batch), ("second", batch), ("t0", batch), ("t1", batch)]
        assert _context.snapshot() == {}

    def test_decorated_generators_apply_to_each_step_only(self, toy: CapturedRecords) -> None:
        """``@llmlog.context`` on a generator: its calls get the values, the caller's calls
        between its steps do not; send, throw, close and the return value pass through."""

        @llmlog.context(session_id="gen")
        def answers() -> Generator[Any, Any, None]:
            ask()
            try:
                received = yield 1
            except KeyError:
                received = "thrown"
            ask()
            yield received

        steps = answers()
        assert next(steps) == 1
        ask()  # the caller's own call, between steps
        assert steps.throw(KeyError()) == "thrown"
        steps.close()
        assert [r["session_id"] for r in toy.calls] == ["gen", None, "gen"]

        @llmlog.context(session_id="gen")
        def echo() -> Generator[str, str, str]:
            received = yield "ready"
            return received + "!"

        def outer() -> Generator[str, str, None]:
            result = yield from echo()
            yield result

        delegating = outer()
        assert next(delegating) == "ready"
        assert delegating.send("hi") == "hi!"  # sent in, and returned out of ``yield from``

    def test_closing_a_decorated_generator_runs_its_cleanup_in_its_context(
        self, toy: CapturedRecords
    ) -> None:
        """``close()`` reaches the generator at once, and its ``finally`` runs with its
        values, not later (when collected) with none."""
        cleaned = []

        @llmlog.context(session_id="gen")
        def steps() -> Generator[int, None, None]:
            try:
                yield 1
                yield 2
            finally:
                cleaned.append(True)
                ask()

        running = steps()
        assert next(running) == 1
        running.close()
        assert cleaned == [True]
        assert [r["session_id"] for r in toy.calls] == ["gen"]

    def test_what_a_decorated_generator_binds_or_enters_lasts_across_its_yields(
        self, toy: CapturedRecords
    ) -> None:
        """``bind()`` and a ``with`` around ``yield`` inside the generator hold for its later
        steps, and stay its own: the caller's calls between steps get none of it."""

        @llmlog.context(session_id="gen")
        def steps() -> Generator[None, None, None]:
            llmlog.bind(user_id="bound")
            with llmlog.context(tags=["inner"]):
                yield
                ask()
            yield
            ask()

        running = steps()
        next(running)
        ask()  # the caller's, between steps
        next(running)
        next(running, None)
        got = [(r["session_id"], r["user_id"], r["tags"]) for r in toy.calls]
        assert got == [
            (None, None, None),
            ("gen", "bound", {"inner": True}),
            ("gen", "bound", None),
        ]
        assert _context.snapshot() == {}

    def test_a_with_around_a_yield_never_reaches_a_block_the_caller_has_left(
        self, toy: CapturedRecords
    ) -> None:
        """Started inside the caller's ``with``, the generator hands back the caller's own
        block at each yield: once the caller has left it, its calls get none of the
        generator's values."""

        @llmlog.context(session_id="gen")
        def steps() -> Generator[None, None, None]:
            with llmlog.context(tags=["inner"]):
                yield
                ask()

        with llmlog.context(user_id="caller"):
            running = steps()
            next(running)
        ask()  # the caller's, after leaving its block
        next(running, None)
        got = [(r["session_id"], r["user_id"], r["tags"]) for r in toy.calls]
        # the generator keeps what it started with: the caller's values then, and its own
        assert got == [(None, None, None), ("gen", "caller", {"inner": True})]
        assert _context.snapshot() == {}

    async def test_decorated_async_generators_apply_to_each_step_only(
        self, toy: CapturedRecords
    ) -> None:
        """The streaming-endpoint shape: ``async def ... yield`` decorated."""

        @llmlog.context(session_id="agen", tags=["stream"])
        async def chunks() -> AsyncIterator[str]:
            for text in ("a", "b"):
                await toy_sdk.Client().acreate(messages=MESSAGES, model="toy")
                yield text

        got = []
        async for text in chunks():
            got.append(text)
            ask()  # the consumer's call is not the generator's
        assert got == ["a", "b"]
        sessions = [(r["session_id"], r["tags"]) for r in toy.calls]
        assert sessions == [("agen", {"stream": True}), (None, None)] * 2

    def test_values_are_taken_when_the_call_starts(self, toy: CapturedRecords) -> None:
        """A stream read after leaving the context still carries the context of its call."""
        with llmlog.context(session_id="at-call"):
            stream = toy_sdk.Client().create(messages=MESSAGES, model="toy", stream=True)
        list(stream)
        assert toy.calls[0]["session_id"] == "at-call"

    def test_bad_template_fails_where_it_is_written(self) -> None:
        """A template mapping without a name is refused at once."""
        with pytest.raises(ValueError, match="name"):
            llmlog.context(template={"version": "1"})
        _context.clear()

    @pytest.mark.parametrize("tags", [5, 1.5, True, object()])
    @pytest.mark.parametrize("setter", ["context", "bind"])
    def test_bad_tags_fail_where_they_are_written_and_say_what_tags_may_be(
        self, tags: Any, setter: str
    ) -> None:
        """tags=5 is refused when the context is made (not when entered), with what tags
        may be rather than "'int' object is not iterable"."""
        make = llmlog.context if setter == "context" else llmlog.bind
        with pytest.raises(TypeError, match=r"tags must be a mapping .* labels, not "):
            make(tags=tags)
        assert _context.snapshot() == {}

    def test_tags_of_every_accepted_kind_reach_the_record(self, toy: CapturedRecords) -> None:
        """A mapping, a label, and a list, tuple, set or iterator of labels are all taken,
        an iterator as often as the context is entered."""
        kinds: list[Any] = [{"team": "a"}, "solo", ["l"], ("t",), {"s"}, iter(["i"])]
        contexts = [llmlog.context(tags=tags) for tags in kinds]
        for ctx in (*contexts, contexts[-1]):
            with ctx:
                ask()
        assert [r["tags"] for r in toy.calls] == [
            {"team": "a"},
            {"solo": True},
            {"l": True},
            {"t": True},
            {"s": True},
            {"i": True},
            {"i": True},
        ]
