"""Verdict colours for terminal text: on a terminal only, never in CI logs unless FORCE_COLOR.

Plain ANSI SGR codes, not Rich: the table reporters stay import-cheap. NO_COLOR (no-color.org)
wins over everything; FORCE_COLOR (any non-empty value but 0) turns colour on anywhere.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TextIO

GREEN, RED, YELLOW, DIM, BOLD = "32", "31", "33", "2", "1"

VERDICT_COLOURS = {
    "passed": GREEN,
    "regressed": RED,
    "failed": RED,
    "incomplete": RED,
    "interrupted": RED,
    "inconclusive": YELLOW,
}


def enabled(stream: TextIO, env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    if env.get("NO_COLOR"):
        return False
    force = env.get("FORCE_COLOR")
    if force is not None and force not in ("", "0"):
        return True
    if env.get("CI") or env.get("GITHUB_ACTIONS") or env.get("TERM") == "dumb":
        return False  # some CI runners give a pty; their logs still want plain text
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Painter:
    """paint(text, code) -> text, coloured only when colour is on."""

    def __init__(self, on: bool) -> None:
        self.on = on

    def __call__(self, text: str, code: str | None) -> str:
        if not self.on or not code:
            return text
        return f"\x1b[{code}m{text}\x1b[0m"

    def verdict(self, text: str) -> str:
        return self(text, VERDICT_COLOURS.get(text.strip().lower()))

    def verdict_words(self, text: str) -> str:
        """Colour every verdict word in upper case (PASSED, REGRESSED, ...) inside `text`."""
        if not self.on:
            return text
        return _WORDS.sub(lambda m: self.verdict(m.group(0)), text)


_WORDS = re.compile(r"\b(PASSED|REGRESSED|FAILED|INCONCLUSIVE|INCOMPLETE|INTERRUPTED)\b")
