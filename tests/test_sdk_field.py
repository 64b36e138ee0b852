"""Reading one field of an SDK answer: the same value ``getattr`` gives for every kind of
attribute a pydantic model has, without the failing lookup (see ``_sdk_field``)."""

from __future__ import annotations

from collections import UserDict
from types import SimpleNamespace
from typing import Any

import pydantic
import pytest
from openai.types.chat import ChatCompletion

from llmlog.instrumentors._sdk_field import field


class Answer(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")

    text: str
    note: str | None = None
    _secret: str = pydantic.PrivateAttr(default="private")

    @property
    def shout(self) -> str:
        return self.text.upper()


def _answer() -> Answer:
    return Answer.model_validate({"text": "hi", "added": {"by": "server"}})


@pytest.mark.parametrize("name", ["text", "note", "added", "shout", "_secret", "missing"])
def test_a_pydantic_model_reads_as_getattr_does(name: str) -> None:
    answer = _answer()
    assert field(answer, name) == getattr(answer, name, None)


def test_a_field_missing_from_a_model_is_none_without_a_failing_lookup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []
    original = pydantic.BaseModel.__getattr__

    def counting(self: Any, name: str) -> Any:
        asked.append(name)
        return original(self, name)

    monkeypatch.setattr(pydantic.BaseModel, "__getattr__", counting)
    completion = ChatCompletion.model_validate(
        {"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": []}
    )
    assert field(completion, "error") is None
    assert field(completion, "model") == "m"
    assert asked == []


def test_a_property_of_the_same_name_wins_over_an_extra_as_with_getattr() -> None:
    answer = Answer.model_validate({"text": "hi", "shout": "from the server"})
    assert field(answer, "shout") == answer.shout == "HI"


@pytest.mark.parametrize(
    "obj",
    [{"text": "hi"}, UserDict({"text": "hi"}), SimpleNamespace(text="hi")],
    ids=["dict", "mapping", "namespace"],
)
def test_decoded_json_and_plain_objects(obj: Any) -> None:
    assert field(obj, "text") == "hi"
    assert field(obj, "missing") is None


def test_classes_made_per_call_are_not_kept_for_ever() -> None:
    """An app that makes its answer class per call (``pydantic.create_model``): the reader's
    caches stay bounded and let the classes go."""
    import gc
    import weakref

    made = []
    for number in range(5000):
        cls = pydantic.create_model(f"Answer{number}", text=(str, ...))
        assert field(cls(text="hi"), "missing") is None
        made.append(weakref.ref(cls))
        del cls
    gc.collect()
    assert sum(ref() is not None for ref in made) < 5000


def test_a_model_with_its_own_getattr_is_asked_as_getattr_would() -> None:
    class Lenient(pydantic.BaseModel):
        text: str

        def __getattr__(self, name: str) -> Any:
            return f"computed {name}"

    assert field(Lenient(text="hi"), "anything") == "computed anything"


def test_a_model_made_without_its_init_reads_as_absent() -> None:
    assert field(Answer.__new__(Answer), "added") is None
