"""`eval --model A --model B`: the same suites on several models, compared with each other.

Each model's run is gated against the committed baselines like any eval; here the models are
also compared case by case with the first one named, with the gate's paired statistics
(gate/stats.compare), so "is B worse than A on this scorer?" gets an interval and a p-value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptctl.evals.runner import EvalResult
from promptctl.gate import stats


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelCell:
    model: str
    rate: float  # mean pass fraction over cases
    versus_first: stats.PairedComparison | None  # None for the first model


@dataclass(frozen=True, slots=True, kw_only=True)
class MatrixRow:
    suite: str
    scorer: str
    cells: tuple[ModelCell, ...]


def compare_models(results: Sequence[tuple[str, EvalResult]]) -> list[MatrixRow]:
    """One row per suite and scorer, one cell per model (in the order given)."""
    by_model = [
        {
            (s.suite.name, o.scorer_id, o.case_id): o.pass_fraction
            for s in result.suites
            for o in s.outcomes
        }
        for _model, result in results
    ]
    keys = sorted({(suite, scorer) for table in by_model for suite, scorer, _ in table})
    rows = []
    for suite, scorer in keys:
        cases = sorted(
            set.intersection(
                *({c for (su, sc, c) in table if (su, sc) == (suite, scorer)} for table in by_model)
            )
        )
        first = [by_model[0][(suite, scorer, c)] for c in cases]
        cells = []
        for i, (model, _result) in enumerate(results):
            values = [by_model[i][(suite, scorer, c)] for c in cases]
            rate = sum(values) / len(values) if values else 0.0
            versus = None if i == 0 or not cases else stats.compare(first, values)
            cells.append(ModelCell(model=model, rate=rate, versus_first=versus))
        rows.append(MatrixRow(suite=suite, scorer=scorer, cells=tuple(cells)))
    return rows
