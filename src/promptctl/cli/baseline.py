"""baseline update: write evals/baselines/<suite>.json from a run (a reviewed change)."""

from __future__ import annotations

from typing import Annotated

import typer

baseline_app = typer.Typer(
    help="Committed baselines the gate compares runs with.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@baseline_app.command("update")
def update(
    suites: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[SUITE]...", help="Suites to update (default: every suite with a run)."
        ),
    ] = None,
    from_run: Annotated[
        str | None,
        typer.Option(
            "--from-run",
            metavar="RUN",
            help="The run to record (id or directory); default: the latest complete run of each "
            "suite.",
        ),
    ] = None,
) -> None:
    """Write the baselines of SUITEs from their latest complete runs; review and commit them.

    Example: promptctl eval summarize && promptctl baseline update summarize
    """
    from promptctl.gate import baseline
    from promptctl.project import config
    from promptctl.reporters import plain

    project = config.load_project()
    for u in baseline.update_from_runs(project, suites or None, from_run):
        state = "wrote" if u.changed else "unchanged"
        plain.write(
            f"{state} {u.path}: {u.cases} cases, {u.outputs} recorded outputs (run {u.run_id})\n"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(baseline_app, name="baseline")
