"""drift: re-run the labelled versions fresh and say whether the model moved under the label."""

from __future__ import annotations

from typing import Annotated

import typer

from promptctl.cli._options import Batch, BatchRetry, Format, TrustedRef, check_format


def drift(
    label: Annotated[
        str, typer.Option("--label", help="The label whose versions to check.")
    ] = "production",
    sample: Annotated[
        int | None,
        typer.Option(
            "--sample",
            min=1,
            help="Every critical case plus N others, drawn with today's date as the seed.",
        ),
    ] = None,
    max_cost: Annotated[
        float | None,
        typer.Option("--max-cost", min=0.0, help="Stop scheduling before spending more than USD."),
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", min=1, max=1024, help="Calls in flight at once.")
    ] = None,
    fmt: Format = "text",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress.")] = False,
    trusted_config_ref: TrustedRef = None,
    batch: Batch = False,
    batch_retry: BatchRetry = "live",
) -> None:
    """Re-run, fresh (no replay, no cache), the suites of the versions LABEL serves and compare
    them with their committed baselines: stable | regressed | improved | changed (outputs moved,
    rates did not) | inconclusive | unmeasured. Exit 1 on a regression, 3 when a provider
    outage left a suite unmeasured.

    With --batch the fresh calls go through the providers' batch APIs at half the price, and
    drift waits for the batches to end (a nightly job with a long timeout).

    Example: promptctl drift --label production --sample 50 --max-cost 2 --batch
    """
    from promptctl.engine.batch import check_retry
    from promptctl.evals import drift as drift_mod
    from promptctl.project import config
    from promptctl.reporters import plain, terminal

    check_format(fmt, ("text", "json"))
    project = config.load_project(trusted_ref=trusted_config_ref)
    progress = terminal.progress_for(quiet=quiet or fmt == "json")
    result = drift_mod.check(
        project,
        label,
        sample=sample,
        max_cost_usd=max_cost,
        concurrency=concurrency,
        progress=progress,
        batch=batch,
        batch_retry=check_retry(batch_retry),
    )
    if fmt == "json":
        plain.write_json(
            {
                "label": result.label,
                "suites": [
                    {
                        "suite": s.suite,
                        "prompt": s.prompt,
                        "version": s.version,
                        "status": s.status,
                        "detail": s.detail,
                        "changed_outputs": s.changed_outputs,
                        "compared_outputs": s.compared_outputs,
                        "served_models": list(s.served_models),
                        "run": s.run_dir and project.rel(s.run_dir),
                    }
                    for s in result.suites
                ],
            }
        )
    else:
        if result.eval is not None and result.eval.suites and not quiet:
            terminal.write_result(result.eval)
        rows = [
            (
                s.suite,
                f"{s.prompt}@{s.version}",
                s.status.upper(),
                ", ".join(s.served_models) or "-",
                s.detail,
            )
            for s in result.suites
        ]
        plain.write(f"\ndrift of label {result.label}:\n")
        plain.write(plain.table(["SUITE", "PROMPT", "STATUS", "SERVED MODEL", "DETAIL"], rows))
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command()(drift)
