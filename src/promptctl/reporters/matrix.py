"""The model matrix of `eval --model A --model B` as a terminal table."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from promptctl.evals.matrix import MatrixRow
from promptctl.reporters.plain import table


def write_matrix(rows: Sequence[MatrixRow], stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    if not rows:
        return
    models = [c.model for c in rows[0].cells]
    head = ["SUITE", "SCORER", *models]
    body = []
    for row in rows:
        cells = [f"{row.cells[0].rate:.1%}"]
        for c in row.cells[1:]:
            v = c.versus_first
            if v is None:
                cells.append(f"{c.rate:.1%}")
                continue
            cells.append(
                f"{c.rate:.1%} ({v.delta * 100:+.1f} pts [{v.ci_low * 100:+.1f}, "
                f"{v.ci_high * 100:+.1f}], p={v.p_value:.3g})"
            )
        body.append([row.suite, row.scorer, *cells])
    stream.write(f"\nmodels side by side (each against {models[0]}, paired by case):\n")
    stream.write(table(head, body))
