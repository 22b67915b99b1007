"""report, show, view: see what a run did (HTML file, one case in the terminal, a local viewer)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Runs = Annotated[list[str], typer.Argument(metavar="RUN...", help="Run ids or run directories.")]
BaselineRef = Annotated[
    str | None,
    typer.Option(
        "--baseline-ref", metavar="REF", help="Compare with the baseline as committed at REF."
    ),
]


def report(
    run_refs: Runs,
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="FILE", help="The HTML file to write.")
    ],
    baseline_ref: BaselineRef = None,
) -> None:
    """Write one self-contained HTML report of runs: verdicts, cases, replies side by side.

    The file makes no network request (inline CSS and JS under a strict Content-Security-Policy),
    so it opens from disk or as a CI artifact.

    Example: promptctl report 20261125T120501Z-summarize-1a2b -o report.html
    """
    from promptctl.evals import review, runs
    from promptctl.project import config
    from promptctl.reporters import html, plain

    project = config.load_project()
    paths = [runs.find_run(project, ref) for ref in run_refs]
    html.write_html(
        output, [review.review_run(project, p, baseline_ref=baseline_ref) for p in paths]
    )
    plain.warn(f"wrote {output}")


def show(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="A run id or run directory.")],
    case_id: Annotated[str, typer.Argument(metavar="CASE", help="The case id.")],
    scorer: Annotated[
        str | None, typer.Option("--scorer", metavar="ID", help="Only this scorer's verdicts.")
    ] = None,
    baseline_ref: BaselineRef = None,
) -> None:
    """Print one case of a run: input, reply, the baseline's reply with a word diff, and every
    scorer's verdict and reason.

    Example: promptctl show 20261125T120501Z-summarize-1a2b s-007 --scorer faithful
    """
    from promptctl.errors import UsageError
    from promptctl.evals import review, runs
    from promptctl.project import config
    from promptctl.reporters import case_text

    project = config.load_project()
    run = review.review_run(project, runs.find_run(project, run_ref), baseline_ref=baseline_ref)
    if scorer is not None and scorer not in run.scorer_ids:
        raise UsageError(
            f"run {run.run_id} has no scorer {scorer!r}",
            hint="its scorers: " + ", ".join(run.scorer_ids),
        )
    case_text.write_case(run, review.find_case(run, case_id), scorer=scorer)


def view(
    run_ref: Annotated[
        str | None,
        typer.Argument(metavar="[RUN]", help="The run to open first (default: the latest)."),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", help="Loopback address to bind: 127.0.0.1 or ::1.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port (default: a free one).")
    ] = 0,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the address; do not open a browser.")
    ] = False,
    baseline_ref: BaselineRef = None,
) -> None:
    """Serve the reports of recent runs on this machine only (read-only); Ctrl-C stops.

    Binds a loopback address and nothing else; opens a browser when one is available (never
    in CI or without a terminal).

    Example: promptctl view
    """
    from promptctl.evals import runs
    from promptctl.project import config
    from promptctl.reporters import viewer

    viewer.check_loopback(host)
    project = config.load_project()
    first = runs.find_run(project, run_ref) if run_ref else None
    viewer.serve(
        project, first, host=host, port=port, browser=not no_browser, baseline_ref=baseline_ref
    )


def register(app: typer.Typer) -> None:
    app.command()(report)
    app.command()(show)
    app.command()(view)
