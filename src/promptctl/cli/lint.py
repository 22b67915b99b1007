"""lint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from promptctl.cli._options import check_format


def lint(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or directories (default: all).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json or github.")] = "text",
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too.")] = False,
) -> None:
    """Check prompts, suites, datasets, promptctl.yaml and labels.yaml.

    Every finding has a stable code (docs/lint.md), a severity and file:line:col.
    Exit 1 on errors (or on warnings with --strict), else 0.

    Example: promptctl lint --format github
    """
    from promptctl import lint
    from promptctl.errors import UsageError
    from promptctl.project import config
    from promptctl.reporters import lint_out

    check_format(fmt, ("text", "json", "github"))
    try:
        project = config.load_project()
    except UsageError:
        # A broken promptctl.yaml is itself a finding: lint the rest with the defaults and let
        # the config checker report every problem in it.
        project = config.Project(root=config.find_root(), config=config.Config())
    for p in paths or []:
        if not p.exists():
            raise UsageError(f"{p}: no such file or directory")
        if not lint.inside(project, p):
            # "0 errors" for a file that was never checked would pass a CI job
            raise UsageError(
                f"{p} is outside the promptctl project at {project.root}",
                hint="run lint from that project's directory",
            )
    files = lint.expand(project, paths) if paths else None
    if files is not None and not any(lint.classify(project, f) for f in files):
        raise UsageError(
            f"nothing to lint in {', '.join(str(p) for p in paths)}: lint checks prompts, "
            "suites, baselines, promptctl.yaml and labels.yaml (a dataset through the suites "
            "that use it, a partial through the prompts that include it)",
            hint="run `promptctl lint` alone to check the whole project",
        )
    if not paths and not lint.has_project_files(project):
        # "0 errors" from the wrong directory would pass a CI job that checked nothing
        raise UsageError(
            "no promptctl project here (no prompts/ or promptctl.yaml)",
            hint=f"run lint in the project's directory (looked in {project.root} and above), "
            "or `promptctl init` to start one",
        )
    findings = lint.lint_paths(project, files)
    lint_out.write(findings, fmt)
    errors = sum(f.severity is lint.Severity.ERROR for f in findings)
    warnings = len(findings) - errors
    raise typer.Exit(1 if errors or (strict and warnings) else 0)


def register(app: typer.Typer) -> None:
    app.command()(lint)
