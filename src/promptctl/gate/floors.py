"""Absolute floors of a run: min_pass_rate per scorer and critical cases (no baseline needed).

The gate (baseline comparison) adds its verdicts on top; this module is the part that needs
only the run itself. A scorer error counts as a fail (SPEC §5).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from promptctl.model import Gate, ScorerOutcome


@dataclass(frozen=True, slots=True, kw_only=True)
class FloorFailure:
    kind: str  # "min_pass_rate" | "critical"
    scorer_id: str
    message: str
    case_id: str | None = None


def pass_rates(outcomes: Iterable[ScorerOutcome]) -> dict[str, float]:
    """Scorer id -> pass rate with the case as the unit: the mean of the cases' pass fractions
    (what the gate compares, for a run or a baseline)."""
    fractions: dict[str, list[float]] = {}
    for o in outcomes:
        fractions.setdefault(o.scorer_id, []).append(o.pass_fraction)
    return {sid: sum(v) / len(v) for sid, v in sorted(fractions.items())}


def check_floors(gate: Gate, outcomes: Iterable[ScorerOutcome]) -> list[FloorFailure]:
    """Every floor the run misses, scorer by scorer, then critical case by case."""
    rates: dict[str, list[float]] = {}
    failures: list[FloorFailure] = []
    for o in outcomes:
        agg = rates.setdefault(o.scorer_id, [0.0, 0])
        agg[0] += o.pass_fraction * o.repeats
        agg[1] += o.repeats
        if o.critical and o.pass_fraction < 1.0:
            failures.append(
                FloorFailure(
                    kind="critical",
                    scorer_id=o.scorer_id,
                    case_id=o.case_id,
                    message=f"critical case {o.case_id} failed {o.scorer_id} "
                    f"({o.repeats - round(o.pass_fraction * o.repeats)}/{o.repeats} repeats)",
                )
            )
    if gate.min_pass_rate is not None:
        for sid, (passed, n) in rates.items():
            rate = passed / n if n else 0.0
            if rate < gate.min_pass_rate:
                failures.insert(
                    0,
                    FloorFailure(
                        kind="min_pass_rate",
                        scorer_id=sid,
                        message=f"{sid}: pass rate {rate:.1%} is under min_pass_rate "
                        f"{gate.min_pass_rate:.1%}",
                    ),
                )
    return failures
