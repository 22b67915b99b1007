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
    from promptctl.project import config
    from promptctl.prompts import loader
    from promptctl.reporters import log_out

    check_format(fmt, ("text", "json"))
    project = config.load_project()
    found = history.labelled_log(project, loader.split_ref(name)[0], max_count=max_count)
    log_out.write_log(found, fmt)


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
