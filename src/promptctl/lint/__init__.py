"""Lint: every check of every project file, as Findings with stable codes (docs/lint.md).

Each file kind has one module with `check(project, path) -> list[Finding]`; the table below
maps a kind to it, so later checks plug in without touching the runner.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from promptctl.lint.findings import RULES, Finding, Rule, Severity

if TYPE_CHECKING:  # config imports checks, which imports lint.findings: no cycle at runtime
    from promptctl.project.config import Project

CONFIG_FILE = "promptctl.yaml"

__all__ = ["RULES", "Finding", "Rule", "Severity", "lint_paths"]

CHECKERS: dict[str, str] = {
    "prompt": "promptctl.lint.prompts:check",
    "config": "promptctl.lint.project:check_config",
    "labels": "promptctl.lint.project:check_labels",
    "suite": "promptctl.lint.suites:check",  # a suite and the dataset it names
    "baseline": "promptctl.lint.suites:check_baseline",
}


def _checker(kind: str) -> Callable[[Project, Path], list[Finding]] | None:
    module, _, attr = CHECKERS[kind].partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ModuleNotFoundError, AttributeError):
        return None  # that kind's checks are not built yet


def classify(project: Project, path: Path) -> str | None:
    # Where the file sits, not where a symlink points: a prompt symlinked out of the project is
    # still a prompt, and its check reports it (PC007) as `render` and `eval` refuse it.
    path = Path(os.path.abspath(path))
    if path == project.root / CONFIG_FILE:
        return "config"
    if path == project.labels_file:
        return "labels"
    if path.suffix not in (".yaml", ".yml", ".json"):
        return None
    if project.prompts_dir in path.parents and project.partials_dir not in path.parents:
        return "prompt" if path.suffix != ".json" else None
    if project.baselines_dir in path.parents:
        return "baseline" if path.suffix == ".json" else None
    if project.evals_dir in path.parents and path.suffix != ".json":
        data_dir = project.evals_dir / "data"
        if data_dir in path.parents:
            return None  # datasets are checked through the suites that use them
        from promptctl.evals.suites import foreign_file

        if foreign_file(path.name):
            return None  # a promptfoo config or .prompt.yml kept here: `promptctl import` it
        return "suite"
    return None


def project_files(project: Project) -> list[Path]:
    files: list[Path] = []
    for extra in (project.root / CONFIG_FILE, project.labels_file):
        if extra.is_file():
            files.append(extra)
    for base in (project.prompts_dir, project.evals_dir):
        if base.is_dir():
            # not only regular files: a FIFO or a symlink to /dev/zero is reported (PC007)
            files.extend(sorted(p for p in base.rglob("*") if p.is_symlink() or not p.is_dir()))
    return files


def has_project_files(project: Project) -> bool:
    """A promptctl.yaml or a prompts directory: something here is a promptctl project."""
    return (project.root / CONFIG_FILE).is_file() or project.prompts_dir.is_dir()


def inside(project: Project, path: Path) -> bool:
    """Whether `path` (as written, not where a symlink points) is within the project."""
    here = Path(os.path.abspath(path))
    return here == project.root or project.root in here.parents


def expand(project: Project, paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.is_symlink() or not q.is_dir()))
        else:
            out.append(p)
    return out


def lint_paths(project: Project, paths: Iterable[Path] | None = None) -> list[Finding]:
    """Findings for `paths` (default: the whole project), sorted by file and line."""
    files = project_files(project) if paths is None else expand(project, paths)
    findings: list[Finding] = []
    for path in files:
        kind = classify(project, path)
        if kind is None:
            continue
        check = _checker(kind)
        if check is not None:
            findings.extend(check(project, path))
    kept = _not_ignored(project, set(findings))
    # The whole finding is the key: two on one line with one code came out in set order
    return sorted(
        kept,
        key=lambda f: (
            str(f.where.path) if f.where else "",
            (f.where.line or 0) if f.where else 0,
            (f.where.col or 0) if f.where else 0,
            f.code,
            f.message,
            f.hint or "",
        ),
    )


# `# promptctl: ignore[PC211]` or `# promptctl: ignore[PC103, PC211]` on the line, as ruff's noqa
_IGNORE = re.compile(r"#\s*promptctl:\s*ignore\[([A-Z0-9,\s]+)\]")


def _not_ignored(project: Project, findings: Iterable[Finding]) -> list[Finding]:
    ignored = project.config.lint_ignore
    lines: dict[str, list[str]] = {}
    kept = []
    for f in findings:
        if f.code in ignored:
            continue
        if f.where is not None and f.where.line:
            path = str(f.where.path)
            if path not in lines:
                try:
                    text = (project.root / path).read_text(encoding="utf-8-sig", errors="replace")
                except OSError:  # `name@rev` locations and the like: no file on disk
                    text = ""
                lines[path] = text.splitlines()
            file_lines = lines[path]
            if f.where.line <= len(file_lines):
                m = _IGNORE.search(file_lines[f.where.line - 1])
                if m and f.code in {c.strip() for c in m.group(1).split(",")}:
                    continue
        kept.append(f)
    return kept
