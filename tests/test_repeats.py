"""The run's memory of embedded texts (``vectorstore.repeats``): which texts a report still
needs embedded, and the vectors the rest take."""

from __future__ import annotations

import pytest

from vectorstore.repeats import RepeatedTexts, text_key


def test_a_text_seen_earlier_or_twice_in_one_report_is_embedded_once():
    memo = RepeatedTexts()
    first = memo.plan(["licence", "finding one", "licence"])
    assert first.todo_texts == ["licence", "finding one"]
    vectors = memo.vectors(first, [[1.0, 0.0], [0.0, 1.0]])
    assert vectors == [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]
    second = memo.plan(["finding two", "licence"])
    assert second.todo_texts == ["finding two"]
    assert memo.vectors(second, [[0.5, 0.5]]) == [[0.5, 0.5], [1.0, 0.0]]
    assert memo.reused == 2


def test_the_least_recently_used_text_is_forgotten_first():
    memo = RepeatedTexts(capacity=2)
    memo.vectors(memo.plan(["a", "b"]), [[1.0], [2.0]])
    memo.vectors(memo.plan(["a"]), [])  # "a" used again: "b" is now the oldest
    memo.vectors(memo.plan(["c"]), [[3.0]])
    assert memo.plan(["a", "b", "c"]).todo_texts == ["b"]


def test_vectors_for_the_wrong_number_of_texts_are_refused():
    memo = RepeatedTexts()
    with pytest.raises(ValueError, match="1 vectors for 2 texts"):
        memo.vectors(memo.plan(["a", "b"]), [[1.0]])


def test_vectors_made_before_the_run_are_taken_by_their_texts():
    """A changed report's stored version primes the memory: its unchanged texts are not embedded."""
    memo = RepeatedTexts(capacity=3)
    memo.vectors(memo.plan(["a", "b"]), [[1.0], [2.0]])
    memo.prime({text_key("kept"): [4.0], text_key("a"): [1.5]})  # "a" as the store has it: the latest word
    assert memo.plan(["kept", "a", "new"]).todo_texts == ["new"]
    reuse = memo.plan(["kept", "a", "new"])
    assert memo.vectors(reuse, [[5.0]]) == [[4.0], [1.5], [5.0]]
    assert memo.plan(["b"]).todo_texts == ["b"]  # "b" went first when "new" made four
