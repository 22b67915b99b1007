"""A prompt's history: its versions through git log, what changed in each, and their commits.

Resolving NAME@REF lives in prompts/loader.py: loading a prompt resolves its `uses:` refs, and
that recursion must stay inside one module."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from promptctl.errors import UsageError
from promptctl.history import gitrepo
from promptctl.project.config import Project
from promptctl.prompts import loader
from promptctl.prompts.prompt import Prompt


@dataclass(frozen=True, slots=True, kw_only=True)
class LogEntry:
    """One commit that touched a prompt's file: its version there and what changed."""

    commit: gitrepo.CommitInfo | None  # None: the uncommitted working tree
    version: str | None  # None: the file was deleted or invalid at that commit
    changed: tuple[str, ...]  # text, model, params, input, output, metadata, added, deleted
    error: str | None = None


def changed_aspects(old: Prompt | None, new: Prompt | None) -> tuple[str, ...]:
    """What differs between two copies of a prompt, in the words `log` prints."""
    if old is None and new is None:
        return ()
    if old is None:
        return ("added",)
    if new is None:
        return ("deleted",)
    out = []
    if [(m.role, m.content) for m in old.messages] != [(m.role, m.content) for m in new.messages]:
        out.append("text")
    if old.model != new.model:
        out.append("model")
    if dict(old.params) != dict(new.params):
        out.append("params")
    if dict(old.input) != dict(new.input):
        out.append("input")
    if old.output != new.output:
        out.append("output")
    # a partial's change is a new version of every prompt that loads it (issue 14)
    for partial in sorted(set(old.partials) | set(new.partials)):
        if old.partials.get(partial) != new.partials.get(partial):
            out.append(f"partial:{partial}")
    # an upstream's new version (its text, partials or label) is a new version here too
    was = {u.alias: (u.ref, u.version) for u in old.uses}
    now = {u.alias: (u.ref, u.version) for u in new.uses}
    for alias in sorted(set(was) | set(now)):
        if was.get(alias) != now.get(alias):
            out.append(f"uses:{alias}")
    if not out and (old.description, old.tags) != (new.description, new.tags):
        out.append("metadata")
    return tuple(out)


def log(project: Project, name: str, *, max_count: int = 500) -> list[LogEntry]:
    """The commits that changed the prompt's effective version or file, newest first (the working
    tree first when it differs from HEAD): its own file, and the partials it loads."""
    path = project.prompts_dir / f"{name}.yaml"
    gitrepo.open_repo(project.root, why="`promptctl log`")
    if not gitrepo.file_history(project.root, path, max_count=1) and not path.exists():
        raise loader.unknown_prompt(project, name)
    # every commit under prompts/: a commit that changes only a partial changes the version
    commits = gitrepo.file_history(project.root, project.prompts_dir, max_count=max_count)
    gitrepo.require_history(project.root, f"the history of {project.rel(path)}")
    copies: list[tuple[gitrepo.CommitInfo | None, Prompt | None, str | None]] = []
    if path.exists() and (not commits or gitrepo.is_dirty(project.root, project.prompts_dir)):
        try:
            copies.append((None, loader.load_prompt_file(project, path), None))
        except UsageError as e:
            copies.append((None, None, str(e)))
    for c in commits:
        try:
            copies.append((c, loader.load_at(project, name, c.sha), None))
        except UsageError as e:
            copies.append((c, None, str(e)))
    out = []
    for i, (commit, prompt, error) in enumerate(copies):
        older = copies[i + 1][1] if i + 1 < len(copies) else None
        changed = changed_aspects(older, prompt) if error is None else ("invalid",)
        if not changed:
            continue  # this commit touched other prompts or partials, not this one
        out.append(
            LogEntry(
                commit=commit,
                version=prompt.version if prompt else None,
                changed=changed,
                error=error,
            )
        )
    return out


def commit_with_version(project: Project, name: str, version: str) -> str | None:
    """A commit whose copy of `name` has `version`: HEAD when it does, else the newest one."""
    head = gitrepo.head_commit(project.root)
    if head is None:
        return None
    try:
        at_head = loader.load_at(project, name, head)
    except UsageError:
        at_head = None
    if at_head is not None and at_head.version == version:
        return head
    found = loader.find_version(project, name, version)
    return found.commit if found is not None else None


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelledLog:
    """A prompt's log with labels.yaml joined in: what `promptctl log` shows."""

    name: str
    entries: tuple[LogEntry, ...]
    labels: Mapping[int, tuple[str, ...]]  # row index -> the labels shown on that row
    elsewhere: Mapping[str, str]  # label -> its version, not found in this history


def labelled_log(project: Project, name: str, *, max_count: int = 500) -> LabelledLog:
    """`log` of `name` with each label of labels.yaml on one row: the commit it records when that
    row is there, else the newest row with its version."""
    from promptctl.labels import store as labels

    entries = log(project, name, max_count=max_count)
    pointers = labels.read(project).get(name, {})
    rows: dict[int, list[str]] = {}
    elsewhere: dict[str, str] = {}
    for label, e in sorted(pointers.items()):
        row = next(
            (
                i
                for i, x in enumerate(entries)
                if x.commit
                and e.commit
                and x.commit.sha.startswith(e.commit)
                and x.version == e.version
            ),
            None,
        )
        if row is None:
            row = next((i for i, x in enumerate(entries) if x.version == e.version), None)
        if row is None:
            elsewhere[label] = e.version
        else:
            rows.setdefault(row, []).append(label)
    return LabelledLog(
        name=name,
        entries=tuple(entries),
        labels={i: tuple(v) for i, v in rows.items()},
        elsewhere=elsewhere,
    )
