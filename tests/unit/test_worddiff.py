"""Word diffs of two replies (issue 16): both texts rebuild exactly; a changed phrase is one run."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from promptctl.reporters.worddiff import sides, word_diff

TEXT = st.text(alphabet=st.sampled_from("ab c,.\n\u00e9"), max_size=40)


@given(TEXT, TEXT)
def test_both_sides_rebuild_exactly(old: str, new: str) -> None:
    ops = word_diff(old, new)
    assert sides(ops) == (old, new)
    assert all(text for _, text in ops)
    assert all(a[0] != b[0] for a, b in itertools.pairwise(ops))  # runs are merged


def test_a_replaced_phrase_is_one_deletion_and_one_insertion() -> None:
    assert word_diff("Answer: tall mountain peak", "Answer: no idea") == [
        ("=", "Answer: "),
        ("-", "tall mountain peak"),
        ("+", "no idea"),
    ]


def test_equal_texts_are_one_run() -> None:
    assert word_diff("same text", "same text") == [("=", "same text")]
    assert word_diff("", "") == []
