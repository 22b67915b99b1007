"""regex: a user pattern searched in the output, bounded in time (no catastrophic backtracking)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from promptctl import regexes
from promptctl.model import Case, Reply, Score, ScorerSpec
from promptctl.scorers.base import ScorerContext, render_value


@dataclass(frozen=True, slots=True)
class Regex:
    spec: ScorerSpec
    partials_dir: str | None = None

    @classmethod
    def from_spec(cls, spec: ScorerSpec, ctx: ScorerContext) -> Any:
        return cls(spec, ctx.partials_dir)

    @classmethod
    def check(cls, spec: ScorerSpec) -> Iterator[tuple[str, str, str]]:
        if not isinstance(spec.value, str):
            yield "PC203", "regex needs `value`: a pattern string", "value"
            return
        if "{{" in spec.value or "{%" in spec.value:
            return  # templated: checked per case when rendered
        error = regexes.compile_error(spec.value)
        if error:
            yield "PC203", error, "value"

    async def score(self, reply: Reply, case: Case, *, repeat: int = 0) -> Score:
        pattern = str(render_value(self.spec.value, case, self.spec, self.partials_dir))
        # RegexTimeout propagates: the runner records it as this scorer's error (a fail).
        hit = regexes.search_bounded(pattern, reply.text)
        return Score(
            value=float(hit),
            passed=hit,
            reason=f"/{pattern}/ {'matched' if hit else 'did not match'}",
        )
