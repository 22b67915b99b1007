"""Word-level diffs of two replies (stdlib difflib), shared by the HTML report and `show`."""

from __future__ import annotations

import difflib
import re

# A word or a punctuation mark with the whitespace after it (a run of whitespace alone only at
# the start): a changed comma is one token, joining the tokens gives back the text exactly, and
# half as many tokens as splitting the spaces apart keeps difflib's matching fast (issue 16).
_TOKEN = re.compile(r"\s+|\w+\s*|[^\w\s]\s*")

# Past this many tokens a side, SequenceMatcher's quadratic worst case outweighs the value of a
# word diff; such replies are diffed line by line instead.
MAX_WORD_TOKENS = 4000

Op = tuple[str, str]  # ("=", text) | ("-", baseline only) | ("+", current only)


def word_diff(old: str, new: str) -> list[Op]:
    """Ops that rebuild `old` from "=" and "-" and `new` from "=" and "+", merged per run."""
    if old == new:
        return [("=", old)] if old else []
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    if len(a) > MAX_WORD_TOKENS or len(b) > MAX_WORD_TOKENS:
        a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    chunks: list[tuple[str, str, str]] = []  # (tag, old text, new text)
    # No autojunk: it drops every word in over 1% of a 200+ token reply as an anchor, and a
    # repetitive reply then diffs as one block replaced by another.
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        chunks.append((tag, "".join(a[i1:i2]), "".join(b[j1:j2])))
    # A lone space kept between two changes reads as noise ("[-tall-]{+no+} [-peak-]{+idea+}"):
    # it joins the change around it, so a replaced phrase shows as one deletion and one insertion.
    for i in range(1, len(chunks) - 1):
        tag, text, _ = chunks[i]
        if (
            tag == "equal"
            and not text.strip()
            and "equal"
            not in (
                chunks[i - 1][0],
                chunks[i + 1][0],
            )
        ):
            chunks[i] = ("replace", text, text)
    ops: list[Op] = []
    pending_old, pending_new = "", ""
    for tag, old_text, new_text in chunks:
        if tag == "equal":
            ops += [op for op in (("-", pending_old), ("+", pending_new)) if op[1]]
            pending_old = pending_new = ""
            ops.append(("=", old_text))
        else:
            pending_old += old_text
            pending_new += new_text
    ops += [op for op in (("-", pending_old), ("+", pending_new)) if op[1]]
    return ops


def sides(ops: list[Op]) -> tuple[str, str]:
    """The two texts a diff was made from."""
    old = "".join(t for op, t in ops if op != "+")
    new = "".join(t for op, t in ops if op != "-")
    return old, new
