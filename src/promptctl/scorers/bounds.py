"""word-count and length: the output's size in words or characters within `min`..`max`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from promptctl.model import Case, Reply, Score, ScorerSpec
from promptctl.scorers.base import ScorerContext

_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class _Bounds:
    GRADED: ClassVar[bool] = True  # the score falls off outside the bounds (gate.metric)
    spec: ScorerSpec
    low: int | None
    high: int | None
    unit: ClassVar[str] = ""

    @classmethod
    def from_spec(cls, spec: ScorerSpec, ctx: ScorerContext) -> Any:
        low, high = _limits(spec)
        return cls(spec, low, high)

    @classmethod
    def check(cls, spec: ScorerSpec) -> Iterator[tuple[str, str, str]]:
        for key in ("min", "max"):
            v = spec.options.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                yield "PC004", f"{spec.type} `{key}` must be a whole number >= 0", key
                return
        low, high = _limits(spec)
        if low is None and high is None:
            yield "PC005", f"{spec.type} needs `min`, `max` or both", "max"
        elif low is not None and high is not None and low > high:
            yield "PC004", f"{spec.type}: min {low} is above max {high}", "min"

    def measure(self, text: str) -> int:
        raise NotImplementedError

    async def score(self, reply: Reply, case: Case, *, repeat: int = 0) -> Score:
        n = self.measure(reply.text)
        if self.low is not None and n < self.low:
            # Below or above the range, the score falls off as the ratio to the nearest bound.
            return Score(value=n / self.low, passed=False, reason=f"{n} {self.unit} < {self.low}")
        if self.high is not None and n > self.high:
            return Score(value=self.high / n, passed=False, reason=f"{n} {self.unit} > {self.high}")
        return Score(value=1.0, passed=True, reason=f"{n} {self.unit} within {_range(self)}")


def _limits(spec: ScorerSpec) -> tuple[int | None, int | None]:
    low, high = spec.options.get("min"), spec.options.get("max")
    if isinstance(spec.value, int) and not isinstance(spec.value, bool) and high is None:
        high = spec.value  # `value: 100` reads as a maximum
    return low, high


def _range(b: _Bounds) -> str:
    return f"{b.low if b.low is not None else 0}..{b.high if b.high is not None else '∞'}"


@dataclass(frozen=True, slots=True)
class WordCount(_Bounds):
    unit: ClassVar[str] = "words"

    def measure(self, text: str) -> int:
        return len(_WORD.findall(text))


@dataclass(frozen=True, slots=True)
class Length(_Bounds):
    unit: ClassVar[str] = "characters"

    def measure(self, text: str) -> int:
        return len(text)
