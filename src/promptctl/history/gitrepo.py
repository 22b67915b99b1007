"""The only module that talks to git (GitPython, imported lazily: ~90 ms)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from promptctl.errors import UsageError

_FETCH_HINT = "fetch it first (git fetch origin <ref>); in GitHub Actions set `fetch-depth: 0`"


@dataclass(frozen=True, slots=True)
class CommitInfo:
    sha: str
    short: str
    date: str  # ISO 8601 with offset
    author: str
    subject: str


# Bounded: each Repo keeps `git cat-file` processes alive; an evicted one is closed when
# collected, so a test session or a long-lived service does not pile up child processes.
@lru_cache(maxsize=8)
def _repo(root: str) -> Any:
    if _surely_outside_git(root):
        return None
    import git

    try:
        return git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def _surely_outside_git(root: str) -> bool:
    """True when GitPython's search from `root` cannot find a repository, so an eval of an
    export or a tarball (check_state_untracked runs on every eval) does not import it for
    nothing (~25 ms).

    GitPython stops at a directory holding `.git` (a directory or a gitfile) or being a git
    directory itself, which needs a `HEAD` in it: neither anywhere from `root` up means no
    repository. A path it would expand (`~`, `$VAR`) or one that does not exist is left to it.
    """
    if "$" in root or "~" in root:
        return False
    here = os.path.normpath(os.path.abspath(root))
    if not os.path.isdir(here):
        return False
    while True:
        if os.path.lexists(os.path.join(here, ".git")) or os.path.lexists(
            os.path.join(here, "HEAD")
        ):
            return False
        parent, tail = os.path.split(here)
        if not tail:
            return True
        here = parent


def open_repo(root: Path, *, why: str = "this command") -> Any:
    repo = _repo(str(root))
    if repo is None:
        raise UsageError(
            f"{root} is not inside a git repository, which {why} needs",
            hint="run it in a git clone of the project (from a tarball or an export, "
            "render, lint and eval of the working tree work without git)",
        )
    if repo.bare:
        # A bare repository has no working tree: nothing to compare with, no relative paths
        # (GitPython's working_tree_dir is None and every path join was a TypeError).
        raise UsageError(
            f"{root} is a bare git repository (no working tree), and {why} needs a checkout",
            hint="run promptctl in a clone with a working tree: git clone <this repo> <dir>",
        )
    return repo


def is_repo(root: Path) -> bool:
    """True inside a git work tree (a bare repository has none: see open_repo)."""
    repo = _repo(str(root))
    return repo is not None and not repo.bare


def is_bare(root: Path) -> bool:
    repo = _repo(str(root))
    return repo is not None and bool(repo.bare)


def toplevel(root: Path) -> Path:
    return Path(open_repo(root).working_tree_dir).resolve()


def toplevel_if_repo(root: Path) -> Path | None:
    """The work tree's top level, or None outside a git work tree."""
    return toplevel(root) if is_repo(root) else None


def relpath(root: Path, path: Path) -> str:
    """`path` relative to the repository's top level, as git names it."""
    return path.resolve().relative_to(toplevel(root)).as_posix()


def is_shallow(root: Path) -> bool:
    repo = open_repo(root)
    return os.path.exists(os.path.join(repo.git_dir, "shallow"))


def resolve_commit(root: Path, rev: str) -> str:
    """Full sha of `rev`, or a UsageError that says how to get it."""
    import git

    repo = open_repo(root, why=f"resolving {rev!r}")
    if rev.startswith("-"):
        raise UsageError(f"{rev!r} is not a git revision")
    if ":" in rev:
        # REV:PATH names a file (a blob or tree), never a commit; GitPython's lookup of it
        # was a KeyError for `HEAD:x:y` or `HEAD:../f`.
        raise UsageError(
            f"{rev!r} names a file in git, not a commit",
            hint="give a commit, branch or tag (NAME@HEAD, NAME@main, NAME@v1.2); "
            "the prompt's path comes from its name",
        )
    try:
        return repo.commit(rev).hexsha
    except (git.BadName, git.BadObject, ValueError, KeyError, IndexError, TypeError):
        pass  # GitPython's own parser gave up (HEAD@{100}: IndexError): ask git itself
    except NotImplementedError:
        pass  # HEAD@{yesterday}, HEAD@{u}: forms GitPython does not parse, git does
    try:
        return repo.git.rev_parse("--verify", "--quiet", f"{rev}^{{commit}}").strip()
    except git.GitCommandError:
        shallow = " (this clone is shallow)" if is_shallow(root) else ""
        raise UsageError(
            f"git does not know the revision {rev!r}{shallow}", hint=_FETCH_HINT
        ) from None


def default_branch(root: Path) -> str:
    """The branch pushes land on: origin's HEAD, else the checked-out branch, else "main"."""
    import git

    repo = _repo(str(root))
    if repo is None:
        return "main"
    try:
        ref = repo.git.symbolic_ref("--quiet", "--short", "refs/remotes/origin/HEAD").strip()
        return ref.split("/", 1)[1] if "/" in ref else ref
    except git.GitCommandError:
        pass  # no origin, or its HEAD unknown (`git remote set-head origin -a` sets it)
    try:
        return str(repo.head.reference.name)  # an unborn branch has a name too
    except (TypeError, ValueError):  # detached HEAD
        return "main"


def head_commit(root: Path) -> str | None:
    repo = _repo(str(root))
    if repo is None:
        return None
    try:
        return repo.head.commit.hexsha
    except ValueError:  # no commits yet
        return None


def read_file(root: Path, rev: str, path: Path | str) -> bytes | None:
    """Content of `path` (absolute, or relative to the top level) at `rev`; None if absent."""
    import git

    repo = open_repo(root)
    sha = resolve_commit(root, rev)
    rel = relpath(root, Path(path)) if Path(path).is_absolute() else str(path)
    try:
        blob = repo.commit(sha).tree / rel
    except KeyError:
        return None
    except git.GitCommandError:
        return None
    if blob.type != "blob":
        return None
    return blob.data_stream.read()


def list_files(root: Path, rev: str, under: Path) -> list[str]:
    """Paths (relative to the top level) of the blobs under `under` at `rev`."""
    repo = open_repo(root)
    sha = resolve_commit(root, rev)
    rel = relpath(root, under)
    try:
        tree = repo.commit(sha).tree / rel if rel != "." else repo.commit(sha).tree
    except KeyError:
        return []
    return sorted(item.path for item in tree.traverse() if item.type == "blob")


def file_history(
    root: Path, path: Path, *, max_count: int = 500, rev: str | None = None
) -> list[CommitInfo]:
    """Commits touching `path` reachable from `rev` (default HEAD), newest first (follows no
    renames: a prompt's name is its path)."""
    repo = open_repo(root, why="history")
    if head_commit(root) is None:
        return []
    rel = relpath(root, path)
    start = resolve_commit(root, rev) if rev else None
    return [_info(c) for c in repo.iter_commits(start, paths=rel, max_count=max_count)]


def changed_files(root: Path, rev: str) -> set[str]:
    """Files (relative to the top level) that differ between `rev` and the working tree,
    untracked files included."""
    repo = open_repo(root)
    sha = resolve_commit(root, rev)
    names = repo.git.diff("--name-only", sha, "--").splitlines()
    names += repo.untracked_files
    return {n for n in names if n}


_HISTORY_HINT = (
    "fetch the full history: `git fetch --unshallow` (in GitHub Actions: "
    "actions/checkout with `fetch-depth: 0`)"
)


def require_history(root: Path, why: str) -> None:
    """Refuse to answer from a shallow clone: the history `why` needs is not there."""
    if is_shallow(root):
        raise UsageError(
            f"this clone is shallow: {why} needs the git history it lacks", hint=_HISTORY_HINT
        )


def history_hint() -> str:
    return _HISTORY_HINT


def _info(c: Any) -> CommitInfo:
    return CommitInfo(
        sha=c.hexsha,
        short=c.hexsha[:7],
        date=c.committed_datetime.isoformat(),
        author=str(c.author.name),
        subject=c.summary if isinstance(c.summary, str) else c.summary.decode(),
    )


def is_dirty(root: Path, path: Path) -> bool:
    """True when `path` differs from HEAD: modified, staged, or untracked."""
    repo = open_repo(root)
    rel = relpath(root, path)
    return bool(repo.git.status("--porcelain", "--untracked-files=all", "--", rel).strip())


def require_identity(root: Path, *, why: str) -> None:
    """Refuse before anything is written when git could not commit: no user.name/user.email."""
    import git

    repo = open_repo(root, why=why)
    try:
        repo.git.var("GIT_COMMITTER_IDENT")
        repo.git.var("GIT_AUTHOR_IDENT")
    except git.GitCommandError:
        raise UsageError(
            f"git has no identity to commit with, which {why} needs; nothing was written",
            hint='set one: git config user.name "Your Name" && '
            "git config user.email you@example.com",
        ) from None


def tracked_under(root: Path, path: Path) -> list[str]:
    """Files git tracks at or below `path` (not resolved: a tracked symlink counts); [] outside
    a repository."""
    repo = _repo(str(root))
    if repo is None:
        return []
    top = Path(repo.working_tree_dir).resolve()
    rel = os.path.relpath(os.path.abspath(path), top)
    if rel == ".." or rel.startswith(".." + os.sep):
        return []
    out = repo.git.ls_files("-z", "--", rel)
    return [p for p in out.split("\0") if p]


def commit_paths(root: Path, paths: list[Path], message: str) -> str:
    """Commit exactly `paths` (whatever else is staged stays staged); the new commit's sha."""
    import git

    repo = open_repo(root, why="--commit")
    rels = [relpath(root, p) for p in paths]
    try:
        repo.git.add("--", *rels)
        # `commit -- PATHS` commits only those paths, not the rest of the index.
        repo.git.commit("-q", "-m", message, "--", *rels)
    except git.GitCommandError as e:
        detail = (e.stderr or "").strip().splitlines()
        why = detail[-1].removeprefix("stderr: ").strip(" '") if detail else "git commit failed"
        raise UsageError(
            f"could not commit {', '.join(rels)}: {why}",
            hint="check `git status`; set user.name and user.email if git asks for them",
        ) from None
    return repo.head.commit.hexsha
