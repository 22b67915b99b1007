"""Absolute floors of a run: min_pass_rate per scorer and critical cases (no baseline needed).

The gate (baseline comparison) adds its verdicts on top; this module is the part that needs
only the run itself. A scorer error counts as a fail (SPEC §5).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from promptctl.model import Gate, ScorerOutcome

_EPS = 1e-9  # a rate computed as a mean of fractions must not miss a floor it meets exactly


@dataclass(frozen=True, slots=True, kw_only=True)
class FloorFailure:
    kind: str  # "min_pass_rate" | "critical"
    scorer_id: str
    message: str  # for the run: names the scorer
    case_id: str | None = None
    detail: str = ""  # for the scorer's own line in the gate report


def pass_rates(outcomes: Iterable[ScorerOutcome]) -> dict[str, float]:
    """Scorer id -> pass rate with the case as the unit: the mean of the cases' pass fractions
    (what the gate compares, for a run or a baseline)."""
    fractions: dict[str, list[float]] = {}
    for o in outcomes:
        fractions.setdefault(o.scorer_id, []).append(o.pass_fraction)
    return {sid: sum(v) / len(v) for sid, v in sorted(fractions.items())}


def scorer_floors(
    gate: Gate, scorer_id: str, outcomes: Sequence[ScorerOutcome]
) -> list[FloorFailure]:
    """The floors one scorer misses: min_pass_rate (cases as the unit, as the gate counts),
    then each critical case that failed any repeat (SPEC: a critical case must pass)."""
    failures: list[FloorFailure] = []
    if gate.min_pass_rate is not None and outcomes:
        rate = sum(o.pass_fraction for o in outcomes) / len(outcomes)
        if rate < gate.min_pass_rate - _EPS:
            detail = f"pass rate {rate:.1%} is under min_pass_rate {gate.min_pass_rate:.1%}"
            failures.append(
                FloorFailure(
                    kind="min_pass_rate",
                    scorer_id=scorer_id,
                    message=f"{scorer_id}: {detail}",
                    detail=detail,
                )
            )
    for o in sorted(outcomes, key=lambda o: o.case_id):
        if o.critical and o.pass_fraction < 1 - _EPS:
            failed = o.repeats - round(o.pass_fraction * o.repeats)
            failures.append(
                FloorFailure(
                    kind="critical",
                    scorer_id=scorer_id,
                    case_id=o.case_id,
                    message=f"critical case {o.case_id} failed {scorer_id} "
                    f"({failed}/{o.repeats} repeats)",
                    detail=f"critical case {o.case_id!r} failed",
                )
            )
    return failures


def check_floors(gate: Gate, outcomes: Iterable[ScorerOutcome]) -> list[FloorFailure]:
    """Every floor the run misses: each scorer's min_pass_rate first, then critical cases."""
    by_scorer: dict[str, list[ScorerOutcome]] = {}
    for o in outcomes:
        by_scorer.setdefault(o.scorer_id, []).append(o)
    found = [f for sid in sorted(by_scorer) for f in scorer_floors(gate, sid, by_scorer[sid])]
    return [f for f in found if f.kind == "min_pass_rate"] + [
        f for f in found if f.kind != "min_pass_rate"
    ]
