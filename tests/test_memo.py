"""Memos keep copies of request strings, never the request's own objects, and stay bounded."""

from __future__ import annotations

import gc
import weakref

from cds_service.memo import detach, remember, request_memo


class Text(str):
    """A str that can be weakly referenced, standing in for a string of a parsed request."""


def test_detach_copies_strings_also_in_tuples() -> None:
    original = ("Patient/1", ("a", 1, None), "x" * 50)
    copy = detach(original)
    assert copy == original
    assert copy[0] is not original[0] and copy[1][0] is not original[1][0] and copy[2] is not original[2]
    assert copy[1][1] == 1 and copy[1][2] is None


def test_remember_does_not_keep_the_request_string_alive() -> None:
    memo: dict = {}
    request_string = Text("2026-11-25T10:15:00-05:00")
    alive = weakref.ref(request_string)
    assert remember(memo, request_string, "answer", maxsize=10) == "answer"
    del request_string
    gc.collect()
    assert alive() is None  # the memo holds its own copy
    assert memo == {"2026-11-25T10:15:00-05:00": "answer"}


def test_request_memo_computes_from_copies_and_starts_over_when_full() -> None:
    calls: list[str] = []

    @request_memo(maxsize=3)
    def shout(word: str) -> str:
        calls.append(word)
        return word.upper()

    word = Text("naltrexone")
    alive = weakref.ref(word)
    assert shout(word) == "NALTREXONE"
    assert shout("naltrexone") == "NALTREXONE" and calls == ["naltrexone"]  # remembered
    del word
    gc.collect()
    assert alive() is None
    for w in ("a", "b", "c"):
        shout(w)
    assert shout.cache_size() <= 3  # type: ignore[attr-defined]
