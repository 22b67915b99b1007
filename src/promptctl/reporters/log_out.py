"""`promptctl log`: a prompt's versions through history, as a table or JSON."""

from __future__ import annotations

from typing import Any

from promptctl.history.revisions import LabelledLog
from promptctl.reporters import plain


def log_rows(found: LabelledLog) -> list[dict[str, Any]]:
    rows = []
    for i, e in enumerate(found.entries):
        c = e.commit
        rows.append(
            {
                "commit": c.sha if c else None,
                "date": c.date if c else None,
                "author": c.author if c else None,
                "subject": c.subject if c else "(uncommitted changes)",
                "version": e.version,
                "changed": list(e.changed),
                "labels": list(found.labels.get(i, ())),
                "error": e.error,
            }
        )
    return rows


def write_log(found: LabelledLog, fmt: str) -> None:
    rows = log_rows(found)
    if fmt == "json":
        plain.write_json({"name": found.name, "versions": rows})
        return
    plain.write(
        plain.table(
            ["COMMIT", "DATE", "AUTHOR", "VERSION", "CHANGED", "LABELS", "SUBJECT"],
            [
                [
                    (r["commit"] or "working")[:12],
                    (r["date"] or "-")[:10],
                    r["author"] or "-",
                    r["version"] or "-",
                    ",".join(r["changed"]) or "-",
                    ",".join(r["labels"]) or "-",
                    r["subject"],
                ]
                for r in rows
            ],
        )
    )
    for label, version in found.elsewhere.items():
        plain.warn(f"label {label} points at {version}, which is not in this history")
