"""Plain-text helpers shared by reporters: aligned tables without Rich's import cost."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from promptctl.redaction import printable


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[printable(str(c)) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def write_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def write(text: str) -> None:
    sys.stdout.write(text)


def warn(text: str) -> None:
    sys.stderr.write(printable(text) + "\n")
