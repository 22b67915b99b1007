"""log, diff."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from promptctl.cli._options import check_format


def log(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The prompt.")],
    fmt: Annotated[str, typer.Option("--format", help="Output format: text or json.")] = "text",
    max_count: Annotated[int, typer.Option("--max-count", "-n", help="Commits to read.")] = 500,
) -> None:
    """The prompt's versions through git history, with the labels pointing at each.

    Example: promptctl log summarize --format json
    """
    from promptctl.history import revisions as history
    from promptctl.labels import store as labels
    from promptctl.project import config
    from promptctl.prompts import loader
    from promptctl.reporters import plain

    check_format(fmt, ("text", "json"))
    project = config.load_project()
    name = loader.split_ref(name)[0]
    entries = history.log(project, name, max_count=max_count)
    pointers = labels.read(project).get(name, {})
    marks = _label_rows(entries, pointers)
    rows = []
    for i, e in enumerate(entries):
        c = e.commit
        rows.append(
            {
                "commit": c.sha if c else None,
                "date": c.date if c else None,
                "author": c.author if c else None,
                "subject": c.subject if c else "(uncommitted changes)",
                "version": e.version,
                "changed": list(e.changed),
                "labels": marks.get(i, []),
                "error": e.error,
            }
        )
    if fmt == "json":
        plain.write_json({"name": name, "versions": rows})
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
    elsewhere = sorted(
        label for label, e in pointers.items() if not any(label in m for m in marks.values())
    )
    for label in elsewhere:
        plain.warn(
            f"label {label} points at {pointers[label].version}, which is not in this history"
        )


def _label_rows(entries: list, pointers: dict) -> dict[int, list[str]]:
    """Each label on one row: the commit it records when that row is there, else the newest
    row with its version."""
    out: dict[int, list[str]] = {}
    for label, e in sorted(pointers.items()):
        row = next(
            (
                i
                for i, x in enumerate(entries)
                if x.commit
                and e.commit
                and x.commit.sha.startswith(e.commit)
                and x.version == e.version
            ),
            None,
        )
        if row is None:
            row = next((i for i, x in enumerate(entries) if x.version == e.version), None)
        if row is not None:
            out.setdefault(row, []).append(label)
    return out


def diff(
    rev_a: Annotated[str | None, typer.Argument(metavar="[REV_A]", help="Default: HEAD.")] = None,
    rev_b: Annotated[
        str | None, typer.Argument(metavar="[REV_B]", help="Default: the working tree.")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="Output format: text, markdown or json.")
    ] = "text",
    fail_on_loosened: Annotated[
        bool, typer.Option("--fail-on-loosened", help="Exit 1 when a gate was loosened.")
    ] = False,
) -> None:
    """What changed in prompts, suites, gates and config between two revisions.

    Example: promptctl diff origin/main --format markdown > comment.md
    """
    from promptctl.history import diff as diffing
    from promptctl.project import config
    from promptctl.redaction import printable, redact
    from promptctl.reporters import diff_out, plain

    check_format(fmt, ("text", "markdown", "json"))
    project = config.load_project()
    result = diffing.diff(project, rev_a or "HEAD", rev_b)
    if fmt == "json":
        text = json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n"
    elif fmt == "markdown":
        text = diff_out.render_markdown(result)
    else:
        text = diff_out.render_text(result)
    # Prompt text and URLs come from the repository: no terminal escapes, no credentials.
    plain.write(redact(printable(text)))
    if fail_on_loosened and result.loosened:
        plain.warn(f"gate loosened in {len(result.loosened)} place(s) (--fail-on-loosened)")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(log)
    app.command()(diff)
