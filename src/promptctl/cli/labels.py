"""promote, rollback, export."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from promptctl.cli._options import check_format

if TYPE_CHECKING:
    from promptctl.labels import promote as promotion

Label = Annotated[str, typer.Option("--label", help="The label, e.g. production.")]


def promote(
    ref: Annotated[str, typer.Argument(metavar="NAME[@REF]", help="Prompt, optionally @ref.")],
    to: Annotated[str, typer.Option("--to", help="The label to move, e.g. production.")],
    force: Annotated[bool, typer.Option("--force", help="Promote without a passing eval.")] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (required with --force; recorded).")
    ] = None,
    commit: Annotated[bool, typer.Option("--commit", help="Commit labels.yaml.")] = False,
) -> None:
    """Move LABEL to the version of NAME[@REF], after checking that exactly that version passed
    its gate (a committed baseline recording a passing verdict, or its suites run now).

    Example: promptctl promote summarize --to production --commit
    """
    from promptctl.labels import policy
    from promptctl.project import config
    from promptctl.reporters import plain

    project = config.load_project()
    change = policy.promote(
        project, ref, to, force=force, reason=reason, commit=commit, eval_now=_eval_now()
    )
    target = f"{change.name} {change.label}"
    if change.refused and change.evidence and change.evidence.kind == "policy":
        plain.warn(
            f"promotion refused: {target} stays at {change.old_version or '(unset)'}; "
            f"{change.evidence.detail}"
        )
        plain.warn("  hint: the policy is in promptctl.yaml (docs/policy.md)")
        raise typer.Exit(1)
    if change.refused:
        evidence = change.evidence.detail if change.evidence else "no evidence"
        plain.warn(
            f"promotion refused: {target} stays at {change.old_version or '(unset)'}; "
            f"version {change.new_version} has no passing gate: {evidence}"
        )
        plain.warn(
            "  hint: fix the regression and eval again, or override with --force --reason TEXT"
        )
        raise typer.Exit(1)
    if not change.changed:
        plain.write(f"{target} is already {change.new_version}; nothing to do\n")
        return
    plain.write(f"promoted {target}: {change.old_version or '(unset)'} -> {change.new_version}\n")
    if change.evidence:
        plain.write(f"  evidence: {change.evidence.detail}\n")
    if change.committed:
        plain.write(f"  committed {project.rel(project.labels_file)} as {change.committed[:12]}\n")


def rollback(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The prompt.")],
    label: Label,
    to: Annotated[
        str | None, typer.Option("--to", help="The version to go back to (default: previous).")
    ] = None,
    commit: Annotated[bool, typer.Option("--commit", help="Commit labels.yaml.")] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (recorded in labels.yaml).")
    ] = None,
) -> None:
    """Move LABEL of NAME back to the version it held before (from labels.yaml's git history).

    A label that was itself rolled back is not rolled back again onto the version it left (exit 2
    with the versions it has held): name one with --to.

    Example: promptctl rollback summarize --label production --reason "refunds misrouted"
    """
    from promptctl.labels import policy
    from promptctl.project import config
    from promptctl.reporters import plain

    project = config.load_project()
    change = policy.rollback(project, name, label, to=to, commit=commit, reason=reason)
    target = f"{change.name} {change.label}"
    if change.refused:
        detail = change.evidence.detail if change.evidence else "refused"
        plain.warn(f"rollback refused: {target} stays at {change.old_version}; {detail}")
        plain.warn("  hint: the policy is in promptctl.yaml (docs/policy.md)")
        raise typer.Exit(1)
    if not change.changed:
        plain.write(f"{target} is already {change.new_version}; nothing to do\n")
        return
    plain.write(f"rolled back {target}: {change.old_version} -> {change.new_version}\n")
    if change.committed:
        plain.write(f"  committed {project.rel(project.labels_file)} as {change.committed[:12]}\n")


def export(
    label: Label,
    output: Annotated[str, typer.Option("-o", "--output", help="The file to write.")],
    fmt: Annotated[
        str, typer.Option("--format", help="bundle (JSON, for load()) or prompt-yml.")
    ] = "bundle",
) -> None:
    """Write every prompt with LABEL, resolved to that exact version, for deploys without git.

    Example: promptctl export --label production -o bundle.json
    (then PROMPTCTL_BUNDLE=bundle.json makes promptctl.load() read it)
    """
    from promptctl.labels import export as bundles
    from promptctl.project import config
    from promptctl.reporters import plain

    check_format(fmt, ("bundle", "prompt-yml"))
    project = config.load_project()
    if fmt == "prompt-yml":
        written = [str(p) for p in bundles.write_prompt_yml(project, label, Path(output))]
    else:
        bundle = bundles.write(project, label, Path(output))
        written = [output]
        plain.write(f"exported {len(bundle['prompts'])} prompt(s) labelled {label} to {output}\n")
        return
    plain.write("".join(f"wrote {p}\n" for p in written))


def _eval_now() -> promotion.EvalNow:
    """Evaluate the suites now (no baseline or run vouches for the version), saying so first:
    this can call a paid model."""
    from promptctl.labels import promote as promotion
    from promptctl.reporters import plain

    def run(project: Any, prompt: Any, suites: list[str]) -> promotion.Evidence:
        plain.warn(
            f"no committed baseline with a passing verdict records {prompt.name}@"
            f"{prompt.version}: evaluating {', '.join(suites)} now"
        )
        return promotion.eval_suites_now(project, prompt, suites)

    return run


def register(app: typer.Typer) -> None:
    app.command()(promote)
    app.command()(rollback)
    app.command()(export)
