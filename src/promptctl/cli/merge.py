"""merge: shard runs -> one run per suite, gated as an unsharded run would be (SPEC §3)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from promptctl.cli._options import check_format


def merge(
    run_refs: Annotated[
        list[str],
        typer.Argument(
            metavar="RUN...",
            help="Shard runs: run ids, run directories, or a directory holding run directories.",
        ),
    ],
    baseline_ref: Annotated[
        str | None,
        typer.Option(
            "--baseline-ref",
            metavar="REF",
            help=(
                "Gate against the baseline at REF (default: the one the shards were gated against)."
            ),
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write results.json, junit.xml and report.md into DIR."
        ),
    ] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML to FILE.")] = None,
    markdown: Annotated[
        Path | None,
        typer.Option("--markdown", help="Write a markdown report (PR-comment ready) to FILE."),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            metavar="FILE",
            help="Write a self-contained HTML report (verdicts, cases, replies side by side).",
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="One line per suite.")] = False,
) -> None:
    """Merge the shard runs of `eval --shard I/N` into one run per suite and gate it.

    Refuses (exit 2) runs that are not complete shards, shards of different prompt versions,
    scorers or gates, and missing or duplicated shards. Exit codes as for eval.

    Example: promptctl merge .promptctl/runs --markdown report.md
    """
    from promptctl.evals import merge as merging
    from promptctl.history import gitrepo
    from promptctl.project import config
    from promptctl.reporters import github, report_files

    check_format(fmt, ("table", "json"))
    project = config.load_project()
    result = merging.merge(project, merging.expand(project, run_refs), baseline_ref=baseline_ref)
    report_files.write_reports(result, output=output, junit=junit, markdown=markdown)
    if html is not None:
        report_files.write_html(project, result, html, baseline_ref)
    if fmt == "json":
        from promptctl.reporters import json_out, plain

        plain.write_json(json_out.eval_json(result))
    else:
        from promptctl.reporters import terminal

        terminal.write_result(result, quiet=quiet)
    if github.active():
        github.report(project, result, repo_root=gitrepo.toplevel_if_repo(project.root))
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command()(merge)
