"""An internal error's traceback on stderr (often kept in log files) keeps its frames and
type, but not the app's e-mail addresses or long numbers its message quotes. Driven through
the real OpenAI SDK over ``httpx2.MockTransport``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

import openai_fakes as ofake
from llmlog import _guard
from llmlog.testing import capture_records

EMAIL = "jane.doe.unique@example.org"
PHONE = "+1 415-555-0132"
CARD = "4111 1111 1111 1111"


class Unreadable(Mapping[str, Any]):
    """A message the app passes whose iteration fails, quoting the app's data."""

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError(f"cannot list {EMAIL}, {PHONE}, card {CARD}")

    def __len__(self) -> int:
        return 2


def test_an_internal_errors_traceback_masks_the_apps_pii(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("_LLMLOG_RAISE_INTERNAL_ERRORS", "0")
    _guard._reset_for_tests()
    client = ofake.sync_client(lambda _: ofake.json_response(ofake.chat_completion("ok")))
    with capture_records(), pytest.raises(RuntimeError):  # the SDK itself fails on it too
        client.chat.completions.create(model="gpt-4o", messages=[Unreadable()])  # type: ignore[list-item]
    err = capsys.readouterr().err
    assert "internal error in openai chat.completions.create" in err
    assert EMAIL not in err and "jane.doe" not in err
    assert PHONE not in err and "555-0132" not in err
    assert CARD not in err and "1111 1111" not in err
    # What a bug report needs is still there: the frames, the exception's type.
    assert f'{__file__}", line ' in err and ", in __iter__" in err
    assert "llmlog" in err and "RuntimeError: cannot list <EMAIL_ADDRESS>" in err
