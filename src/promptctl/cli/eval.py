"""eval: run suites, score, report, exit with the verdict (SPEC §3, §4)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from promptctl.cli._options import Batch, BatchRetry, TrustedRef, check_format

if TYPE_CHECKING:
    from promptctl.evals import runner
    from promptctl.evals.runner import EvalResult
    from promptctl.project.config import Project


def eval_cmd(
    suites: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[SUITE|RUN]...",
            help="Suite names (file stems under evals/; default: all), or runs with --resume.",
        ),
    ] = None,
    filter_expr: Annotated[
        str | None,
        typer.Option(
            "--filter", help="Cases to run: id:GLOB, tag:GLOB or a bare id GLOB; comma = or."
        ),
    ] = None,
    repeat: Annotated[
        int | None,
        typer.Option("--repeat", min=1, max=100, help="Samples per case (overrides the suite)."),
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", min=1, max=1024, help="Calls in flight at once.")
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option("--fresh", help="No cache or baseline reuse: call the model for everything."),
    ] = False,
    offline: Annotated[
        bool, typer.Option("--offline", help="Fail (exit 3) if any call would need the network.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print the calls needed and their estimated cost; call nothing."
        ),
    ] = False,
    max_cost: Annotated[
        float | None,
        typer.Option("--max-cost", min=0.0, help="Stop scheduling before spending more than USD."),
    ] = None,
    max_retries: Annotated[
        int | None,
        typer.Option(
            "--max-retries",
            min=0,
            max=20,
            help="Retries per call (over promptctl.yaml's defaults and providers; default 4).",
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
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress; one line per suite.")
    ] = False,
    # Typer has no optional-value options: `--resume` is a flag and its RUNs come as arguments.
    resume: Annotated[
        bool,
        typer.Option(
            "--resume", help="Finish interrupted runs: `--resume [RUN]...` (default: the latest)."
        ),
    ] = False,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard", metavar="I/N", help="Run only shard I of N (cases split by id hash)."
        ),
    ] = None,
    update_baseline: Annotated[
        bool, typer.Option("--update-baseline", help="Rewrite the baselines from this run.")
    ] = False,
    accept_failing: Annotated[
        bool,
        typer.Option(
            "--accept-failing",
            help="With --update-baseline: record a failing run (needs --reason; recorded).",
        ),
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why a failing run is recorded.")
    ] = None,
    baseline_ref: Annotated[
        str | None,
        typer.Option(
            "--baseline-ref", metavar="REF", help="Gate against the baseline as committed at REF."
        ),
    ] = None,
    changed_since: Annotated[
        str | None,
        typer.Option(
            "--changed-since", metavar="REF", help="Only suites whose inputs changed since REF."
        ),
    ] = None,
    settle: Annotated[
        bool,
        typer.Option(
            "--settle",
            help="Re-sample the cases of inconclusive scorers with fresh calls until decided "
            "(sequential test; the eval-wide false-alarm rate stays at alpha).",
        ),
    ] = False,
    settle_budget: Annotated[
        int | None,
        typer.Option(
            "--settle-budget",
            metavar="CALLS",
            help="Most fresh calls --settle may make (default: as many as the eval made).",
        ),
    ] = None,
    trusted_config_ref: TrustedRef = None,
    models: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            metavar="PROVIDER/MODEL",
            help="Run the prompts on this model instead, gated against the same baselines; "
            "repeat for a side-by-side matrix.",
        ),
    ] = None,
    params: Annotated[
        list[str] | None,
        typer.Option("--param", metavar="K=V", help="Override a model parameter, e.g. top_p=0.9."),
    ] = None,
    batch: Batch = False,
    batch_retry: BatchRetry = "live",
    no_wait: Annotated[
        bool,
        typer.Option(
            "--no-wait", help="With --batch: submit, record and exit 0; --resume collects."
        ),
    ] = False,
) -> None:
    """Run eval suites, score every case, report, and exit with the verdict.

    Exit codes: 0 every gate passed (an inconclusive one warns), 1 a gate failed: a significant
    regression against the baseline, a floor missed, a critical case failed or max_cost_usd
    exceeded; 2 bad input or zero cases, 3 could not complete (provider errors after retries,
    auth, --max-cost budget), 130 interrupted (then: promptctl eval --resume).

    Example: promptctl eval classify --filter tag:billing --repeat 3 --junit junit.xml
    """
    from promptctl.errors import UsageError
    from promptctl.evals import datasets, runner
    from promptctl.evals import suites as suite_files
    from promptctl.history import gitrepo
    from promptctl.project import config
    from promptctl.reporters import github, report_files, terminal

    check_format(fmt, ("table", "json"))
    if batch_retry != "live":  # the default needs no check (nor batch.py, ~3 ms to import)
        from promptctl.engine.batch import check_retry

        batch_retry = check_retry(batch_retry)
    if no_wait and not batch:
        raise UsageError("--no-wait goes with --batch")
    options = runner.EvalOptions(
        batch=batch,
        batch_retry=batch_retry,
        no_wait=no_wait,
        filter=filter_expr,
        shard=datasets.parse_shard(shard),
        repeat=repeat,
        concurrency=concurrency,
        fresh=fresh,
        offline=offline,
        max_cost_usd=max_cost,
        baseline_ref=baseline_ref,
        max_retries=max_retries,
        settle=settle or settle_budget is not None,  # a budget asks for settling
        settle_budget=settle_budget,
    )
    if update_baseline and (filter_expr or shard):
        raise UsageError(
            "--update-baseline records whole suites; it cannot be combined with "
            "--filter or --shard",
            hint="drop --filter/--shard (merge shard runs "
            "first, then `promptctl baseline update --from-run RUN`)",
        )
    from promptctl.cli.baseline import accepted_reason

    accepted = accepted_reason(accept_failing, reason)  # before any call is paid for
    if accepted is not None and not update_baseline:
        raise UsageError("--accept-failing goes with --update-baseline")
    project = config.load_project(trusted_ref=trusted_config_ref)
    if changed_since is not None and not resume:
        from promptctl.history import changes

        affected = changes.suites_changed_since(project, changed_since)
        suites = [s for s in suites if s in affected] if suites else affected
        if not suites:
            # Not the same as a filter selecting zero cases (exit 2): nothing to do is success.
            terminal.warn(f"nothing to evaluate: no suite's inputs changed since {changed_since}")
            raise typer.Exit(0)
    if resume:
        from promptctl.evals import runs

        paths = runs.resume_paths(project, suites or [])
        selected = []
    else:
        paths = None
        selected = suite_files.select(project, suites)
    if dry_run:
        if paths:
            raise UsageError("--dry-run cannot be combined with --resume")
        from dataclasses import replace

        from promptctl.evals.dryrun import dry_run

        # the estimate of what would run: the swapped model and params included
        plans = []
        if models or params:
            overrides = _param_overrides(params or [])
            for model in models or [None]:
                opts = replace(options, model=model, params=overrides)
                for plan in dry_run(project, selected, opts):
                    named = f"{plan.suite} @ {model}" if model and len(models or []) > 1 else None
                    plans.append(replace(plan, suite=named) if named else plan)
        else:
            plans = dry_run(project, selected, options)
        if fmt == "json":
            from dataclasses import asdict

            from promptctl.reporters import plain

            plain.write_json([asdict(p) for p in plans])
        else:
            terminal.write_dry_run(plans)
        raise typer.Exit(0)
    progress = terminal.progress_for(quiet=quiet or fmt == "json")
    if models or params:
        if update_baseline:
            raise UsageError(
                "--update-baseline records the prompts as written; it cannot be combined with "
                "--model or --param",
                hint="change the model in the prompt file, then eval --update-baseline",
            )
        reports = {"output": output, "junit": junit, "markdown": markdown, "html": html}
        if len(models or []) > 1 and any(reports.values()):
            raise UsageError(
                "reports (--output, --junit, --markdown, --html) describe one run: use one "
                "--model at a time to write them"
            )
        results = _eval_models(
            project, selected, options, models or [], params or [], paths, progress
        )
        if len(results) == 1:
            report_files.write_reports(results[0], output=output, junit=junit, markdown=markdown)
            if html is not None:
                report_files.write_html(project, results[0], html, baseline_ref)
        raise typer.Exit(max(r.exit_code for r in results))
    result = runner.run_eval(project, selected, options, progress, resume=paths)
    submitted = [s for s in result.suites if s.status == "submitted"]
    if submitted:
        for s in submitted:
            terminal.warn(f"{s.suite.name}: batches submitted and recorded in run {s.run_id}")
        terminal.warn(
            "collect them later (the run re-attaches, nothing is submitted twice): "
            "promptctl eval --resume " + " ".join(s.run_id for s in submitted)
        )
        raise typer.Exit(0)
    refused: Exception | None = None
    if update_baseline:
        from promptctl.errors import GateError

        try:
            result = _update_baselines(project, result, accepted)
        except GateError as e:  # no baseline written; the run is still reported, then refused
            refused = e
    report_files.write_reports(result, output=output, junit=junit, markdown=markdown)
    if html is not None:
        report_files.write_html(project, result, html, baseline_ref)
    if fmt == "json":
        from promptctl.reporters import json_out, plain

        plain.write_json(json_out.eval_json(result))
    else:
        terminal.write_result(result, quiet=quiet)
    if github.active():  # annotations and step summary inside GitHub Actions only
        github.report(project, result, repo_root=gitrepo.toplevel_if_repo(project.root))
    for line in result.warnings():
        terminal.warn(line)
    if refused is not None:
        raise refused
    raise typer.Exit(result.exit_code)


def _update_baselines(project: Project, result: EvalResult, accepted: str | None) -> EvalResult:
    """--update-baseline: record each complete run (all or none: a run whose gate failed is
    refused unless accepted); the gate then compares with what it wrote."""
    from dataclasses import replace

    from promptctl.gate import baseline
    from promptctl.reporters import terminal

    complete = [s.run_id for s in result.suites if s.status == "complete"]
    if not complete:
        return result
    for u in baseline.update_from_runs(project, None, complete, accept_failing=accepted):
        terminal.warn(
            f"{'wrote' if u.changed else 'unchanged'} {u.path}: {u.cases} cases, "
            f"{u.outputs} recorded outputs (verdict {u.verdict})"
        )
    # floors only: the run is the new reference
    suites = [replace(s, gate=None) if s.status == "complete" else s for s in result.suites]
    return replace(result, suites=tuple(suites))


def _param_overrides(params: list[str]) -> dict[str, object]:
    """--param K=V: each value read as a YAML scalar (0.5 a number, true a boolean), as the
    prompt file would give it: a provider rejects "0.5", and the budget reads max_tokens."""
    from promptctl.errors import UsageError
    from promptctl.project import yamlio

    overrides: dict[str, object] = {}
    for item in params:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--param {item!r} is not NAME=VALUE", hint="e.g. --param top_p=0.9")
        overrides[key.strip()] = yamlio.parse_scalar(raw)
    return overrides


def _eval_models(
    project: Project,
    selected: list,  # list[Suite]
    options: runner.EvalOptions,
    models: list[str],
    params: list[str],
    resume: list[Path] | None,
    progress: object,
) -> list[EvalResult]:
    """`--model`/`--param`: each model gated against the baselines; several: side by side."""
    from dataclasses import replace

    from promptctl.errors import UsageError
    from promptctl.evals import matrix, runner
    from promptctl.reporters import terminal
    from promptctl.reporters.matrix import write_matrix

    if resume:
        raise UsageError("--model and --param cannot be combined with --resume")
    overrides = _param_overrides(params)
    results = []
    for model in models or [None]:
        opts = replace(options, model=model, params=overrides)
        for suite in selected:
            before = runner.resolve_prompt(project, suite)
            after = runner.swap_model(project, before, opts)
            terminal.warn(
                f"{suite.name}: {before.name} on {after.model} "
                f"(was {before.model}; version {before.version} -> {after.version})"
            )
        result = runner.run_eval(project, selected, opts, progress)
        terminal.write_result(result)  # defanged at the CLI edge under GitHub Actions
        results.append((model or "params", result))
    if len(results) > 1:
        write_matrix(matrix.compare_models(results))
    return [r for _m, r in results]


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_cmd)
