"""Prompts at other revisions: NAME@label, NAME@version (searched in history), NAME@git-rev."""

from __future__ import annotations

import re

from promptctl import gitrepo, loader
from promptctl.config import Project
from promptctl.errors import UsageError
from promptctl.model import Prompt

_VERSION = re.compile(r"^[0-9a-f]{12}$")


def load_at(project: Project, name: str, rev: str) -> Prompt | None:
    """The prompt `name` as committed at `rev`; None when the file did not exist there."""
    path = project.prompts_dir / f"{name}.yaml"
    data = gitrepo.read_file(project.root, rev, path)
    if data is None:
        return None
    sha = gitrepo.resolve_commit(project.root, rev)
    from promptctl import yamlio

    shown = f"{project.rel(path)}@{sha[:7]}"
    prompt = loader.load_prompt_text(yamlio.decode(data, shown), name, shown, project)
    object.__setattr__(prompt, "commit", sha)
    return prompt


def find_version(project: Project, name: str, version: str) -> Prompt | None:
    """The newest commit whose copy of `name` has `version`."""
    path = project.prompts_dir / f"{name}.yaml"
    for commit in gitrepo.file_history(project.root, path):
        try:
            prompt = load_at(project, name, commit.sha)
        except UsageError:
            continue
        if prompt is not None and prompt.version == version:
            return prompt
    return None


def resolve_rev(project: Project, name: str, rev: str, *, in_tree: bool) -> Prompt:
    label = _label_target(project, name, rev)
    if label is not None:
        version, commit = label
        prompt = load_at(project, name, commit) if commit else None
        if prompt is None or prompt.version != version:
            prompt = find_version(project, name, version)
        if prompt is None:
            raise UsageError(
                f"label {rev!r} of {name!r} points at version {version}, found in no commit",
                hint="fetch the full history (`fetch-depth: 0`), or promote again",
            )
        return prompt
    if _VERSION.match(rev) and gitrepo.is_repo(project.root):
        found = find_version(project, name, rev)
        if found is not None:
            return found
    if not gitrepo.is_repo(project.root):
        if not in_tree:
            raise loader.unknown_prompt(project, name)
        raise UsageError(
            f"{name}@{rev}: no such version or label, and this is not a git repository",
            hint="NAME@<git rev> needs git; NAME@<version> must be the current version outside git",
        )
    prompt = load_at(project, name, rev)
    if prompt is None:
        raise UsageError(
            f"prompt {name!r} does not exist at {rev!r}",
            hint=f"check `promptctl log {name}` for the revisions that have it",
        )
    return prompt


def _label_target(project: Project, name: str, label: str) -> tuple[str, str | None] | None:
    from promptctl import labels

    entry = labels.read(project).get(name, {}).get(label)
    if entry is None:
        return None
    return entry.version, entry.commit
