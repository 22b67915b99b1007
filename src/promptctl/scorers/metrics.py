"""latency and cost: the call's own numbers against a ceiling in `value` (seconds, USD)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from promptctl.model import Case, Reply, Score, ScorerSpec
from promptctl.scorers.base import ScorerContext


@dataclass(frozen=True, slots=True)
class _Ceiling:
    GRADED: ClassVar[bool] = True  # the score falls off above the ceiling (gate.metric)
    spec: ScorerSpec
    limit: float

    @classmethod
    def from_spec(cls, spec: ScorerSpec, ctx: ScorerContext) -> Any:
        return cls(spec, float(spec.value))

    @classmethod
    def check(cls, spec: ScorerSpec) -> Iterator[tuple[str, str, str]]:
        v = spec.value
        if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
            yield "PC004", f"{spec.type} needs `value`: a positive number", "value"

    def judge(self, observed: float, unit: str) -> Score:
        ok = observed <= self.limit
        # Within the ceiling scores 1; above it, the score falls off as limit / observed.
        value = 1.0 if ok else (self.limit / observed if observed > 0 else 0.0)
        fmt = f"{observed:.3f} s" if unit == "s" else f"${observed:.6f}"
        limit = f"{self.limit:g} s" if unit == "s" else f"${self.limit:g}"
        return Score(value=value, passed=ok, reason=f"{fmt} {'<=' if ok else '>'} {limit}")


@dataclass(frozen=True, slots=True)
class Latency(_Ceiling):
    async def score(self, reply: Reply, case: Case, *, repeat: int = 0) -> Score:
        return self.judge(reply.latency_s, "s")


@dataclass(frozen=True, slots=True)
class Cost(_Ceiling):
    async def score(self, reply: Reply, case: Case, *, repeat: int = 0) -> Score:
        if reply.cost_usd is None:
            raise ValueError(
                f"cost unknown for model {reply.model or '?'}: add its price under "
                "`prices:` in promptctl.yaml"
            )
        return self.judge(reply.cost_usd, "usd")
