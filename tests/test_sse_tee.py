"""The event texts a stream keeps, and how the writer reads them back."""

from __future__ import annotations

import copy
from typing import Any

from llmlog.instrumentors._sse_tee import DECODE_BATCH, TeeDecoder, decoded, tee


class _Decoder:
    def iter_bytes(self, iterator: Any) -> Any:
        return iter(())


class _Stream:
    def __init__(self, decoder: Any) -> None:
        self._decoder = decoder


class TestDecoded:
    def test_texts_become_their_objects_in_order(self) -> None:
        """[DONE] and keep-alives are not events; leading blanks are fine."""
        texts = ['{"a": 1}', "[DONE]", "", ' {"b": 2}', '{"c": "x,y}{"}']
        assert list(decoded(texts)) == [{"a": 1}, {"b": 2}, {"c": "x,y}{"}]

    def test_a_broken_text_leaves_the_others(self) -> None:
        """One text that is no JSON: the array parse fails, the others still count."""
        assert list(decoded(['{"a": 1}', '{"b": ', '{"c": 3}'])) == [{"a": 1}, {"c": 3}]

    def test_two_objects_in_one_text_are_not_an_event(self) -> None:
        """A text holding two objects would shift every later one: it is dropped."""
        texts = ['{"a": 1}', '{"b": 2}, {"x": 0}', '{"c": 3}']
        assert list(decoded(texts)) == [{"a": 1}, {"c": 3}]

    def test_what_only_pythons_parser_reads_counts(self) -> None:
        """NaN, infinities, lone surrogates: orjson refuses them, the SDK reads them."""
        texts = ['{"a": NaN}', '{"b": -Infinity}', '{"c": "\\ud83d"}', '{"d": 1}']
        events = list(decoded(texts))
        assert [sorted(e) for e in events] == [["a"], ["b"], ["c"], ["d"]]
        assert events[2]["c"] == "\ud83d" and events[1]["b"] == float("-inf")

    def test_json_that_is_no_object_is_not_an_event(self) -> None:
        """Numbers, strings, arrays: the SDK builds no chunk of them either."""
        assert list(decoded(["1", '"s"', "[1]", '{"a": 1}'])) == [{"a": 1}]

    def test_a_long_stream_is_read_in_batches_in_order(self) -> None:
        """Past one batch, a broken text costs only its own batch the array parse; every
        other event is still there, in order, across the batches' seams."""
        count = 2 * DECODE_BATCH + 3
        texts = [f'{{"n": {n}}}' for n in range(count)]
        texts[DECODE_BATCH + 1] = '{"n": '
        kept = [n for n in range(count) if n != DECODE_BATCH + 1]
        assert [event["n"] for event in decoded(texts)] == kept

    def test_chunk_objects_pass_as_they_are(self) -> None:
        """A stream that kept its chunk objects (no decoder to tee): the very objects."""
        chunk = object()
        first, *rest = decoded([chunk, '{"a": 1}'])
        assert first is chunk and rest == [{"a": 1}]


class TestTee:
    def test_a_decoder_is_teed_once(self) -> None:
        """A second proxy over the same stream does not tee the tee."""
        stream = _Stream(_Decoder())
        first = tee(stream, [])
        assert isinstance(first, TeeDecoder) and stream._decoder is first
        assert tee(stream, []) is None and stream._decoder is first

    def test_streams_without_an_sdk_decoder_are_left_alone(self) -> None:
        """No ``_decoder``, or one without ``iter_bytes``: nothing replaced."""
        plain = object()
        assert tee(plain, []) is None
        odd = _Stream(object())
        decoder = odd._decoder
        assert tee(odd, []) is None and odd._decoder is decoder

    def test_a_tee_copies(self) -> None:
        """copy / deepcopy of a stream reach its decoder: they work as on the SDK's own."""
        teed = TeeDecoder(_Decoder(), ["x"])
        assert copy.copy(teed).detach() == ["x"]
        assert copy.deepcopy(teed).started is False

    def test_the_tee_forwards_what_it_does_not_define(self) -> None:
        """Anything else the SDK may read of its decoder still answers."""
        decoder = _Decoder()
        decoder.name = "sse"  # type: ignore[attr-defined]
        assert TeeDecoder(decoder, []).name == "sse"  # type: ignore[attr-defined]
