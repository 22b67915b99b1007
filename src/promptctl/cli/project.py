"""init."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def init(
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[DIRECTORY] | [PROMPT...]",
            help="Where to scaffold (default: here); with --safety, the prompts to probe "
            "(default: every prompt).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
    ci: Annotated[
        str, typer.Option("--ci", help="CI workflow to write: github, github-sharded or none.")
    ] = "github",
    safety: Annotated[
        bool,
        typer.Option(
            "--safety",
            help="Write the safety probe suite (evals/safety.yaml, evals/data/safety.jsonl) "
            "for the named prompts of this project (docs/safety.md).",
        ),
    ] = False,
) -> None:
    """Scaffold promptctl.yaml, a prompt, a dataset, a suite and a CI workflow.

    Existing files are kept unless --force; in an existing project only the CI files are
    written. The scaffold runs offline on the mock provider.

    Example: promptctl init my-project && cd my-project && promptctl eval
    """
    from promptctl.errors import UsageError
    from promptctl.project import scaffold
    from promptctl.reporters import plain

    existing = False
    if safety:
        from promptctl.project import config
        from promptctl.project import safety as probes

        project = config.load_project()
        results = probes.write(project, list(targets or []), force=force)
        directory = project.root
    else:
        if targets and len(targets) > 1:
            raise UsageError(
                "init takes one DIRECTORY", hint="did you mean `promptctl init --safety PROMPT...`?"
            )
        directory = Path(targets[0]) if targets else Path()
        existing = scaffold.is_project(directory.resolve()) and not force
        results = scaffold.scaffold(directory.resolve(), force=force, ci=ci)
    for w in results:
        try:
            shown = w.path.resolve().relative_to(directory.resolve()).as_posix()
        except ValueError:
            shown = str(w.path)
        plain.write(f"{w.action:11} {shown}\n")
    if existing and ci not in ("none",):
        plain.warn("a project is already here: wrote only the CI files (--force writes them all)")
        return
    kept = [w for w in results if w.action == "kept" and w.path.name != ".gitignore"]
    if kept:
        plain.warn(f"kept {len(kept)} existing file(s); --force overwrites them")
    if safety:
        names = " ".join(sorted({w.path.stem for w in results if w.path.suffix == ".yaml"}))
        plain.warn(f"next: promptctl lint && promptctl eval {names} && promptctl baseline update")
    else:
        plain.warn("next: promptctl lint && promptctl eval && promptctl baseline update")


def register(app: typer.Typer) -> None:
    app.command()(init)
