"""levenshtein: the edit distance between the output and a rendered `value`, at most `threshold`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from promptctl.model import Case, Reply, Score, ScorerSpec
from promptctl.scorers.base import ScorerContext, as_text, render_value

DEFAULT_THRESHOLD = 5  # promptfoo's default, so an imported assert keeps its meaning
# Quadratic in time: two 20,000-character texts are 4e8 steps. Past this, compare prefixes.
MAX_CHARS = 5_000


def distance(a: str, b: str) -> int:
    """Levenshtein distance (insert, delete, substitute all cost 1), two rows of memory."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


@dataclass(frozen=True, slots=True)
class Levenshtein:
    GRADED: ClassVar[bool] = True  # similarity 1 - distance / length (gate.metric)
    spec: ScorerSpec
    threshold: int
    partials_dir: str | None = None

    @classmethod
    def from_spec(cls, spec: ScorerSpec, ctx: ScorerContext) -> Any:
        return cls(spec, int(spec.options.get("threshold", DEFAULT_THRESHOLD)), ctx.partials_dir)

    @classmethod
    def check(cls, spec: ScorerSpec) -> Iterator[tuple[str, str, str]]:
        if spec.value is None:
            yield "PC005", 'levenshtein needs `value` (e.g. "{{ expected }}")', "value"
        t = spec.options.get("threshold", DEFAULT_THRESHOLD)
        if isinstance(t, bool) or not isinstance(t, int) or t < 0:
            yield "PC004", "levenshtein `threshold` must be a whole number >= 0", "threshold"

    async def score(self, reply: Reply, case: Case, *, repeat: int = 0) -> Score:
        want = as_text(render_value(self.spec.value, case, self.spec, self.partials_dir)).strip()
        got = reply.text.strip()
        d = distance(got[:MAX_CHARS], want[:MAX_CHARS])
        d += abs(len(got) - len(want)) if max(len(got), len(want)) > MAX_CHARS else 0
        longest = max(len(got), len(want), 1)
        passed = d <= self.threshold
        return Score(
            value=max(0.0, 1.0 - d / longest),
            passed=passed,
            reason=f"{d} edit(s) {'<=' if passed else '>'} threshold {self.threshold}",
        )
