"""rollout start|step|status|finish|abort|analyze: a candidate version for a slice of keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from promptctl.cli._options import Format, check_format

if TYPE_CHECKING:
    from promptctl.labels.rollout import RolloutChange

rollout_app = typer.Typer(
    name="rollout",
    help="Serve a candidate version to a deterministic slice of keys under a label.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

Name = Annotated[str, typer.Argument(metavar="NAME", help="The prompt.")]
Label = Annotated[str, typer.Option("--label", help="The label, e.g. production.")]
Percent = Annotated[
    float, typer.Option("--percent", help="Share of keys (1-100) that get the candidate.")
]
Commit = Annotated[bool, typer.Option("--commit", help="Commit labels.yaml.")]


@rollout_app.command()
def start(
    name: Name,
    label: Label,
    to: Annotated[str, typer.Option("--to", help="The candidate: a version or NAME@REF.")],
    percent: Percent,
    commit: Commit = False,
) -> None:
    """Serve version TO to PERCENT % of keys under LABEL (the rest keep the label's version).

    Example: promptctl rollout start summarize --label production --to 1a2b3c4d5e6f --percent 5
    """
    from promptctl.labels import rollout
    from promptctl.project import config

    project = config.load_project()
    _report(rollout.start(project, name, label, to, percent, commit=commit))


@rollout_app.command()
def step(name: Name, label: Label, percent: Percent, commit: Commit = False) -> None:
    """Widen the rollout to PERCENT % of keys (never narrower: no key moves back).

    Example: promptctl rollout step summarize --label production --percent 25
    """
    from promptctl.labels import rollout
    from promptctl.project import config

    project = config.load_project()
    _report(rollout.step(project, name, label, percent, commit=commit))


@rollout_app.command()
def finish(name: Name, label: Label, commit: Commit = False) -> None:
    """Move LABEL to the candidate for every key and end the rollout.

    Example: promptctl rollout finish summarize --label production --commit
    """
    from promptctl.labels import rollout
    from promptctl.project import config

    project = config.load_project()
    _report(rollout.finish(project, name, label, commit=commit))


@rollout_app.command()
def abort(name: Name, label: Label, commit: Commit = False) -> None:
    """End the rollout: every key gets the label's version again.

    Example: promptctl rollout abort summarize --label production
    """
    from promptctl.labels import rollout
    from promptctl.project import config

    project = config.load_project()
    _report(rollout.abort(project, name, label, commit=commit))


@rollout_app.command()
def status(
    name: Annotated[str | None, typer.Argument(metavar="[NAME]", help="Only this prompt.")] = None,
    fmt: Format = "text",
) -> None:
    """Rollouts in progress: label, stable and candidate versions, percent, steps.

    Example: promptctl rollout status --format json
    """
    from promptctl.labels import rollout
    from promptctl.project import config
    from promptctl.reporters import plain

    check_format(fmt, ("text", "json"))
    found = rollout.status(config.load_project(), name)
    if fmt == "json":
        plain.write_json(
            [
                {
                    "name": s.name,
                    "label": s.label,
                    "stable": s.stable,
                    "candidate": s.rollout.candidate,
                    "percent": s.rollout.percent,
                    "salt": s.rollout.salt,
                    "started_at": s.rollout.started_at,
                    "steps": [{"percent": t.percent, "at": t.at} for t in s.rollout.steps],
                }
                for s in found
            ]
        )
        return
    if not found:
        plain.write("no rollout in progress\n")
        return
    rows = [
        (
            s.name,
            s.label,
            s.stable,
            s.rollout.candidate,
            f"{s.rollout.percent:g}%",
            " -> ".join(f"{t.percent:g}%" for t in s.rollout.steps),
            s.rollout.started_at or "",
        )
        for s in found
    ]
    plain.write(
        plain.table(["PROMPT", "LABEL", "STABLE", "CANDIDATE", "NOW", "STEPS", "STARTED"], rows)
    )


@rollout_app.command()
def analyze(
    name: Name,
    label: Label,
    scores: Annotated[
        str, typer.Option("--scores", help="JSONL of outcomes: key, variant, score or pass.")
    ],
    max_drop: Annotated[
        float, typer.Option("--max-drop", help="Largest tolerated drop of the candidate.")
    ] = 0.02,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
    fmt: Format = "text",
) -> None:
    """Compare the arms from production outcomes: per-arm rate or mean, the difference with its
    interval and p-value, and widen | hold | abort (exit 1 on abort).

    Example: promptctl rollout analyze summarize --label production --scores outcomes.jsonl
    """
    from pathlib import Path

    from promptctl.labels import arms, rollout
    from promptctl.project import config
    from promptctl.reporters import plain

    check_format(fmt, ("text", "json"))
    project = config.load_project()
    if not [s for s in rollout.status(project, name) if s.label == label]:
        plain.warn(f"note: {name} {label} has no rollout in progress; analysing the file as given")
    a = arms.analyze(arms.read_scores(Path(scores), scores), alpha=alpha, max_drop=max_drop)
    if fmt == "json":
        plain.write_json(
            {
                "metric": a.metric,
                "arms": {
                    arm.variant: {
                        "keys": arm.keys,
                        "requests": arm.requests,
                        "mean": arm.mean,
                        "interval": list(arm.interval),
                    }
                    for arm in (a.stable, a.candidate)
                },
                "difference": a.difference,
                "interval": list(a.interval),
                "p_value": a.p_value,
                "min_detectable": a.min_detectable,
                "recommendation": a.recommendation,
                "reason": a.reason,
                "more_keys": a.more_keys,
            }
        )
    else:
        rows = [
            (
                arm.variant,
                str(arm.keys),
                str(arm.requests),
                f"{arm.mean:.3f}",
                f"{arm.interval[0]:.3f} to {arm.interval[1]:.3f}",
            )
            for arm in (a.stable, a.candidate)
        ]
        plain.write(plain.table(["ARM", "KEYS", "REQUESTS", a.metric.upper(), "95% CI"], rows))
        lo, hi = a.interval
        plain.write(
            f"difference (candidate - stable): {a.difference:+.3f} [{lo:+.3f}, {hi:+.3f}], "
            f"p = {a.p_value:.3g}, minimum detectable {a.min_detectable:.3f}\n"
            f"recommendation: {a.recommendation.upper()}: {a.reason}\n"
        )
    if a.recommendation == "abort":
        raise typer.Exit(1)


def _report(change: RolloutChange) -> None:
    from promptctl.reporters import plain

    target = f"{change.name} {change.label}"
    if change.refused:
        detail = change.evidence.detail if change.evidence else "no evidence"
        if change.evidence is not None and change.evidence.kind == "policy":
            plain.warn(f"rollout {change.action} refused: {detail}")
        else:
            plain.warn(
                f"rollout {change.action} refused: {change.candidate} has no passing gate: {detail}"
            )
        raise typer.Exit(1)
    if not change.changed:
        plain.write(f"{target}: already at {change.percent:g}%; nothing to do\n")
        return
    plain.write(
        {
            "start": f"rollout started: {target} serves {change.candidate} to "
            f"{change.percent:g}% of keys ({change.stable} to the rest)\n",
            "step": f"rollout widened: {target} {change.candidate} "
            f"{(change.old_percent or 0):g}% -> {change.percent:g}%\n",
            "finish": f"rollout finished: {target} {change.stable} -> {change.candidate}\n",
            "abort": f"rollout aborted: {target} serves {change.stable} to every key\n",
        }[change.action]
    )
    if change.committed:
        plain.write(f"  committed labels.yaml as {change.committed[:12]}\n")


def register(app: typer.Typer) -> None:
    app.add_typer(rollout_app, name="rollout")
