"""User regexes with a timeout that works (`re` holds the GIL; the `regex` package can stop)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from promptctl.errors import UsageError

TIMEOUT_S = 1.0


class RegexTimeout(Exception):
    """A user pattern ran past its time budget (catastrophic backtracking)."""


@lru_cache(maxsize=512)
def compile_user(pattern: str, flags: int = 0) -> Any:
    import regex

    try:
        return regex.compile(pattern, flags | regex.VERSION0)
    except regex.error as e:
        raise UsageError(f"regex {pattern!r} does not compile: {e}") from None


def compile_error(pattern: str) -> str | None:
    """Why `pattern` does not compile, or None."""
    try:
        compile_user(pattern)
    except UsageError as e:
        return e.message
    return None


def search_bounded(
    pattern: str, text: str, *, flags: int = 0, timeout_s: float = TIMEOUT_S
) -> bool:
    compiled = compile_user(pattern, flags)
    try:
        return compiled.search(text, timeout=timeout_s) is not None
    except TimeoutError:
        raise RegexTimeout(
            f"regex {pattern!r} took over {timeout_s:g} s (catastrophic backtracking?)"
        ) from None
