"""equals, contains, icontains, starts-with: string comparisons against a rendered `value`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from promptctl.model import Case, Reply, Score, ScorerSpec
from promptctl.scorers.base import ScorerContext, as_text, render_value, short


@dataclass(frozen=True, slots=True)
class _TextScorer:
    spec: ScorerSpec
    partials_dir: str | None = None
    verb: ClassVar[str] = ""

    @classmethod
    def from_spec(cls, spec: ScorerSpec, ctx: ScorerContext) -> Any:
        return cls(spec, ctx.partials_dir)

    @classmethod
    def check(cls, spec: ScorerSpec) -> Iterator[tuple[str, str, str]]:
        if spec.value is None:
            yield "PC005", f'{spec.type} needs `value` (e.g. "{{{{ expected }}}}")', "value"

    def expected(self, case: Case) -> Any:
        return render_value(self.spec.value, case, self.spec, self.partials_dir)

    async def score(self, reply: Reply, case: Case, *, repeat: int = 0) -> Score:
        want = self.expected(case)
        hit = self.test(reply.text, want)
        return Score(
            value=float(hit),
            passed=hit,
            reason=f"{'' if hit else 'not '}{self.verb} {short(as_text(want))!r}",
        )

    def test(self, text: str, want: Any) -> bool:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Equals(_TextScorer):
    """Exact match after trimming surrounding whitespace; a non-string value compares as JSON."""

    verb: ClassVar[str] = "equals"

    def test(self, text: str, want: Any) -> bool:
        if isinstance(want, str):
            return text.strip() == want.strip()
        try:
            return json.loads(text) == want
        except ValueError:
            return False


@dataclass(frozen=True, slots=True)
class Contains(_TextScorer):
    verb: ClassVar[str] = "contains"

    def test(self, text: str, want: Any) -> bool:
        return as_text(want) in text


@dataclass(frozen=True, slots=True)
class IContains(_TextScorer):
    verb: ClassVar[str] = "contains (any case)"

    def test(self, text: str, want: Any) -> bool:
        return as_text(want).casefold() in text.casefold()


@dataclass(frozen=True, slots=True)
class StartsWith(_TextScorer):
    verb: ClassVar[str] = "starts with"

    def test(self, text: str, want: Any) -> bool:
        return text.lstrip().startswith(as_text(want))
