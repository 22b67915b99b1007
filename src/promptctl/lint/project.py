"""Lint checks of promptctl.yaml and labels.yaml."""

from __future__ import annotations

from pathlib import Path

from promptctl.errors import UsageError
from promptctl.labels import store as labels
from promptctl.lint.findings import Finding
from promptctl.lint.prompts import finding_for_load_error
from promptctl.project import config, yamlio
from promptctl.project.checks import Checker
from promptctl.project.config import Project


def check_config(project: Project, path: Path) -> list[Finding]:
    shown = project.rel(path)
    try:
        data = yamlio.load_mapping(path, shown, what="promptctl.yaml")
    except UsageError as e:
        return [finding_for_load_error(e)]
    checker = Checker(shown)
    parsed = config.parse_config(data, checker)
    for name, provider in parsed.providers.items():
        # the engine reports a missing bundle only at the first call; lint says it before
        if provider.ca_bundle and not (project.root / provider.ca_bundle).is_file():
            entry = data["providers"][name]
            checker.add(
                "PC301",
                f"provider {name!r}: ca_bundle {provider.ca_bundle!r} does not exist",
                entry.value_loc("ca_bundle"),
                "name the CA's PEM file relative to the project root",
            )
    if parsed.policy.labels:
        from promptctl.evals import suites

        known = set(suites.suite_files(project))
        for rule in parsed.policy.labels.values():
            for suite in rule.require_suites:
                if suite not in known:
                    checker.add(
                        "PC310",
                        f"policy.labels.{rule.label}: require_suites names {suite!r}, which is "
                        "no suite",
                        rule.source,
                        f"suites: {', '.join(sorted(known)) or 'none'}",
                    )
    return checker.findings


def check_labels(project: Project, path: Path) -> list[Finding]:
    """Structure, label names, prompts that exist, versions found in history (PC401-PC403)."""
    from promptctl.history import gitrepo
    from promptctl.prompts import loader

    shown = project.rel(path)
    try:
        data = yamlio.load_file(path, shown)
        if data is not None:
            data = yamlio.expect_mapping(data, shown, what="labels.yaml")
    except UsageError as e:
        return [finding_for_load_error(e)]
    checker = Checker(shown)
    pointers = labels.parse(data, checker)
    if data is None:
        return checker.findings
    files = loader.prompt_files(project)
    in_git = gitrepo.is_repo(project.root) and gitrepo.head_commit(project.root) is not None
    for name, entries in pointers.items():
        if name not in files:
            checker.add(
                "PC401",
                f"labels.yaml names the prompt {name!r}, which does not exist",
                data.key_loc(name),
                loader.unknown_prompt(project, name).hint,
            )
            continue
        try:
            current = loader.load_prompt_file(project, files[name]).version
        except UsageError:
            current = None  # the prompt file's own findings say why
        for label, entry in entries.items():
            if entry.version == current:
                continue
            found = in_git and (
                _at_commit(project, name, entry.commit) == entry.version
                or loader.find_version(project, name, entry.version) is not None
                or _serves(project, name, label, entry)
            )
            if not found:
                where = data[name].value_loc(label) if isinstance(data[name], dict) else None
                checker.add(
                    "PC403",
                    f"{name}.{label} points at version {entry.version}, which no commit of "
                    f"{name!r} produces (versions cover partials and used prompts)"
                    + (
                        ""
                        if in_git
                        else " (not a git repository: only the current version can be checked)"
                    ),
                    where,
                    f"re-promote it behind evidence: promptctl promote {name} --to {label}",
                )
    return checker.findings


def _serves(project: Project, name: str, label: str, entry: labels.LabelEntry) -> bool:
    """The label still loads as its version: a prompt pinning labels that moved since is served
    with the upstreams of then (loader.load_labelled)."""
    from promptctl.prompts import loader

    try:
        loader.load_labelled(project, name, label, entry.version, entry.commit)
    except UsageError:
        return False
    return True


def _at_commit(project: Project, name: str, commit: str | None) -> str | None:
    """The version of `name` at `commit` (a label's commit may be on another branch)."""
    from promptctl.prompts import loader

    if not commit:
        return None
    try:
        prompt = loader.load_at(project, name, commit)
    except UsageError:
        return None
    return prompt.version if prompt else None
