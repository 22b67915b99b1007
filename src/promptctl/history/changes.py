"""Which suites depend on which files, and which of them changed since a git revision.

A suite depends on: its own file, its dataset, its prompt's file and every partial that prompt
includes (transitively), the same of every prompt it `uses:` (transitively), each judge
template it names, its committed baseline, labels.yaml when a prompt is pinned by label
(`name@label`), and promptctl.yaml (providers, prices, the default judge model: a change there
can change every reply). `eval --changed-since REF` runs only the
suites with a changed dependency (issue 6 §6).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from promptctl.errors import PromptctlError
from promptctl.project.config import CONFIG_FILE, Project


@dataclass(frozen=True, slots=True)
class SuiteDeps:
    suite: str
    files: frozenset[str]  # paths relative to the git top level
    loads: bool = True  # False: the suite does not parse, so its dependencies are unknown


def suite_dependencies(project: Project, suite_path: Path, top: Path) -> set[Path] | None:
    """Absolute paths `suite_path` depends on (files that do not exist included: a deleted
    dependency is a change too), read by the one suite parser; None when the suite does not
    parse (its dependencies cannot be known: `eval` must load it and report the problem)."""
    from promptctl.evals import suites

    deps: set[Path] = {suite_path.resolve(), (project.root / CONFIG_FILE).resolve()}
    deps.add((project.baselines_dir / f"{suite_path.stem}.json").resolve())
    try:
        suite, checker = suites.check_suite_file(project, suite_path)
    except PromptctlError:
        return None
    if suite is None or checker.errors:
        return None
    if suite.dataset is not None:
        deps.add(Path(suite.dataset).resolve())
    for scorer in suite.scorers:
        template = scorer.options.get("template")
        if isinstance(template, str):
            deps.add(Path(template).resolve())
    from promptctl.prompts import loader

    try:
        name, rev = loader.split_ref(suite.prompt_ref)
    except PromptctlError:
        return None
    if rev:
        deps.add(project.labels_file.resolve())
    deps |= _prompt_dependencies(project, name)
    return {d for d in deps if _inside(d, top)}


def _prompt_dependencies(project: Project, name: str, seen: set[str] | None = None) -> set[Path]:
    """The prompt's file, the partials it loads and, through `uses:`, the same of every upstream
    (labels.yaml too when one is pinned by label): a change upstream re-runs this prompt's
    suites (issue 14 §4)."""
    from promptctl.prompts import loader

    seen = set() if seen is None else seen
    seen.add(name)
    files = loader.prompt_files(project)
    path = files.get(name, project.prompts_dir / f"{name}.yaml")
    deps = {path.resolve()}
    try:
        prompt = loader.load_prompt_file(project, path)
    except PromptctlError:
        return deps  # a broken or missing prompt: its file is the dependency that matters
    from promptctl.prompts import rendering

    for message in prompt.messages:
        for partial in rendering.included_partials(message, prompt.partials_dir):
            deps.add((project.partials_dir / partial).resolve())
    for use in prompt.uses:
        upstream, pinned = loader.split_ref(use.ref)
        if pinned:
            deps.add(project.labels_file.resolve())
        if upstream not in seen:
            deps |= _prompt_dependencies(project, upstream, seen)
    return deps


def _inside(path: Path, top: Path) -> bool:
    return path == top or top in path.parents


def dependency_map(project: Project) -> list[SuiteDeps]:
    """Every suite with its dependencies, as paths relative to the git top level."""
    from promptctl.evals import suites
    from promptctl.history import gitrepo

    top = gitrepo.toplevel(project.root)
    out = []
    for name, path in suites.suite_files(project).items():
        files = suite_dependencies(project, path, top)
        if files is None:
            out.append(SuiteDeps(name, frozenset(), loads=False))
            continue
        out.append(SuiteDeps(name, frozenset(p.relative_to(top).as_posix() for p in files)))
    return out


def suites_changed_since(project: Project, ref: str) -> list[str]:
    """Names of the suites with a dependency that differs between `ref` and the working tree
    (uncommitted and untracked changes included), and every suite that does not load (eval
    reports it rather than skipping it unseen). An unknown `ref` (e.g. a shallow clone) is a
    UsageError saying to fetch it."""
    from promptctl.history import gitrepo

    changed = gitrepo.changed_files(project.root, ref)
    return [d.suite for d in dependency_map(project) if not d.loads or d.files & changed]
