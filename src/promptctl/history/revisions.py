"""Prompts at other revisions: NAME@label, NAME@version (searched in history), NAME@git-rev."""

from __future__ import annotations

from dataclasses import dataclass

from promptctl.errors import UsageError
from promptctl.history import gitrepo
from promptctl.project.config import Project
from promptctl.prompts import loader
from promptctl.prompts.prompt import Prompt


def load_at(project: Project, name: str, rev: str) -> Prompt | None:
    """The prompt `name` as committed at `rev`; None when the file did not exist there."""
    path = project.prompts_dir / f"{name}.yaml"
    data = gitrepo.read_file(project.root, rev, path)
    if data is None:
        return None
    sha = gitrepo.resolve_commit(project.root, rev)
    from promptctl.project import yamlio

    shown = f"{project.rel(path)}@{sha[:7]}"
    prompt = loader.load_prompt_text(
        yamlio.decode(data, shown), name, shown, project, source=loader.Source(project, sha)
    )
    object.__setattr__(prompt, "commit", sha)
    return prompt


def find_version(project: Project, name: str, version: str) -> Prompt | None:
    """The newest commit whose copy of `name` has `version`: commits touching anything under
    prompts/ are searched, since a partial's change makes a version too."""
    for commit in gitrepo.file_history(project.root, project.prompts_dir):
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
        return _load_labelled(project, name, rev, *label)
    if loader.VERSION_RE.match(rev) and gitrepo.is_repo(project.root):
        found = find_version(project, name, rev)
        if found is not None:
            return found
    if not gitrepo.is_repo(project.root):
        if gitrepo.is_bare(project.root):
            gitrepo.open_repo(project.root, why=f"{name}@{rev}")  # says: no working tree
        if not in_tree:
            raise loader.unknown_prompt(project, name)
        raise UsageError(
            f"{name}@{rev}: no such version or label, and this is not a git repository",
            hint="NAME@<git rev> needs git; NAME@<version> must be the current version outside git",
        )
    try:
        prompt = load_at(project, name, rev)
    except UsageError as e:
        if not e.message.startswith("git does not know the revision"):
            raise
        from promptctl.labels import store as labels

        held = sorted(labels.read(project).get(name, {}))
        shallow = gitrepo.is_shallow(project.root)
        raise UsageError(
            f"{name}@{rev}: {rev!r} is no label, version or git revision of {name!r}"
            + (" (this clone is shallow)" if shallow else ""),
            hint=gitrepo.history_hint()
            if shallow
            else (f"labels of {name}: {', '.join(held)}; " if held else f"{name} has no labels; ")
            + f"versions: promptctl log {name}",
        ) from None
    if prompt is None:
        raise UsageError(
            f"prompt {name!r} does not exist at {rev!r}",
            hint=f"check `promptctl log {name}` for the revisions that have it",
        )
    return prompt


def _load_labelled(
    project: Project, name: str, label: str, version: str, commit: str | None
) -> Prompt:
    """Exactly the labelled version, read at the commit labels.yaml records (the working tree
    may have moved on); if that commit is gone (rebased, shallow clone), searched in history."""
    gitrepo.open_repo(project.root, why=f"{name}@{label}")
    prompt = None
    if commit:
        try:
            prompt = load_at(project, name, commit)
        except UsageError:  # commit unknown here: fall back to the version's history
            prompt = None
    if prompt is None or prompt.version != version:
        prompt = find_version(project, name, version)
    if prompt is None:
        shallow = gitrepo.is_shallow(project.root)
        raise UsageError(
            f"label {label!r} of {name!r} points at version {version}"
            + (f" (commit {commit[:12]})" if commit else "")
            + (", which this shallow clone does not have" if shallow else ", found in no commit"),
            hint=gitrepo.history_hint() if shallow else "promote a version that is committed",
        )
    return prompt


def _label_target(project: Project, name: str, label: str) -> tuple[str, str | None] | None:
    from promptctl.labels import store as labels

    entry = labels.read(project).get(name, {}).get(label)
    if entry is None:
        return None
    return entry.version, entry.commit


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
            copies.append((c, load_at(project, name, c.sha), None))
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
        at_head = load_at(project, name, head)
    except UsageError:
        at_head = None
    if at_head is not None and at_head.version == version:
        return head
    found = find_version(project, name, version)
    return found.commit if found is not None else None
