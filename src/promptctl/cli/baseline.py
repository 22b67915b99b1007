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
    accept_failing: Annotated[
        bool,
        typer.Option(
            "--accept-failing",
            help="Record a run whose gate failed (needs --reason; recorded, and never "
            "promotion evidence).",
        ),
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why a failing run is recorded.")
    ] = None,
) -> None:
    """Write the baselines of SUITEs from their latest complete runs; review and commit them.

    Each baseline records the verdict of its run's gate. A run whose gate failed is refused
    (exit 1, nothing written) unless --accept-failing --reason TEXT.

    Example: promptctl eval summarize && promptctl baseline update summarize
    """
    from promptctl.gate import baseline
    from promptctl.project import config
    from promptctl.reporters import plain

    project = config.load_project()
    accepted = accepted_reason(accept_failing, reason)
    for u in baseline.update_from_runs(project, suites or None, from_run, accept_failing=accepted):
        state = "wrote" if u.changed else "unchanged"
        plain.write(
            f"{state} {u.path}: {u.cases} cases, {u.outputs} recorded outputs (run {u.run_id}, "
            f"verdict {u.verdict})\n"
        )


def accepted_reason(accept_failing: bool, reason: str | None) -> str | None:
    """The reason to record for --accept-failing; --reason alone means nothing."""
    from promptctl.errors import UsageError

    if not accept_failing:
        if reason is not None:
            raise UsageError(
                "--reason is recorded only with --accept-failing", hint="add --accept-failing"
            )
        return None
    if not (reason and reason.strip()):
        raise UsageError(
            "--accept-failing needs --reason TEXT",
            hint="the reason is recorded in the baseline, whose history is the audit trail",
        )
    return reason


def register(app: typer.Typer) -> None:
    app.add_typer(baseline_app, name="baseline")
