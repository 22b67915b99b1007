"""Path confinement: the one place that decides whether promptctl may read or write a path.

SPEC §6 (issue 19): a pull request controls every file of the checkout, symlinks included. A read
stays inside the project root once symlinks are resolved and only ever opens a regular file of a
bounded size (never /dev/zero, a FIFO or a /proc entry); a write never goes through a symlink,
whether the symlink is the file itself or a directory on the way to it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from promptctl.errors import Location, UsageError

if TYPE_CHECKING:  # config imports nothing from here at runtime either way
    from promptctl.project.config import Project

# Far above any prompt, suite or golden set we have seen (the largest dataset in the benchmarks
# is 40 MB); a bound so that a file cannot make a command read until MemoryError.
MAX_READ_BYTES = 256 * 1024 * 1024


def shown(root: Path, path: Path) -> str:
    """`path` relative to `root` when it is (lexically) inside it, else as given."""
    try:
        return Path(os.path.abspath(path)).relative_to(root).as_posix()
    except ValueError:
        return str(path)


def is_inside(root: Path, path: Path) -> bool:
    """True when `path`, all symlinks resolved, is `root` or below it (`root` is resolved)."""
    resolved = Path(path).resolve()
    return resolved == root or root in resolved.parents


def readable(root: Path, path: Path, *, max_bytes: int = MAX_READ_BYTES) -> Path:
    """`path` resolved, once it is known to be a regular file inside `root` of at most
    `max_bytes`; else a UsageError naming the file (exit 2).

    Every reader of a project file (prompts, partials, suites, datasets, labels, baselines, the
    mock's replies, import sources) goes through here, so lint and the commands agree.
    """
    where = Location(shown(root, path))
    resolved = Path(path).resolve()
    if not (resolved == root or root in resolved.parents):
        raise UsageError(
            f"the file leaves the project (it resolves to {resolved})",
            where=where,
            hint="keep project files inside the project: no absolute paths, `..` or symlinks "
            "pointing out of it",
        )
    try:
        st = resolved.stat()
    except OSError as e:
        raise UsageError(f"cannot read the file: {e.strerror or e}", where=where) from None
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(
            "the file is not a regular file",
            where=where,
            hint="promptctl reads only regular files (no devices, FIFOs, sockets or directories)",
        )
    if st.st_size > max_bytes:
        raise UsageError(
            f"the file is larger than {max_bytes:,} bytes ({st.st_size:,})",
            where=where,
            hint="split it into smaller files",
        )
    return resolved


def read_bytes(root: Path, path: Path, *, max_bytes: int = MAX_READ_BYTES) -> bytes:
    """The bytes of a file `readable` allows, never more than `max_bytes` (the file may grow
    between the check and the read)."""
    resolved = readable(root, path, max_bytes=max_bytes)
    # O_NOFOLLOW: the resolved path names no symlink; one swapped in since is refused.
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(resolved, flags)
    except OSError as e:
        where = Location(shown(root, path))
        raise UsageError(f"cannot read the file: {e.strerror or e}", where=where) from None
    chunks, size = [], 0
    with os.fdopen(fd, "rb") as fh:
        # in chunks: read(max_bytes + 1) would allocate the whole cap up front
        while size <= max_bytes:
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        where = Location(shown(root, path))
        raise UsageError(f"the file is larger than {max_bytes:,} bytes", where=where)
    return data


def writable(root: Path, path: Path, *, directory: bool = False) -> Path:
    """`path` (absolute, symlinks NOT resolved) once nothing on the way from `root` to it is a
    symlink and it is not something other than a regular file (or a directory, `directory`);
    else a UsageError naming the offending part (exit 2), before anything is written.

    A write that followed a committed `labels.yaml -> /etc/x` or `.promptctl/runs -> /home/u`
    would write outside the project; the atomic writer replaces the link itself, but appends
    (results.jsonl) and directories on the way would not.
    """
    target = Path(os.path.abspath(path))
    try:
        rel = target.relative_to(root)
    except ValueError:
        raise UsageError(
            f"{target} is outside the project",
            hint="promptctl writes only inside the project (paths in promptctl.yaml are "
            "relative to it)",
        ) from None
    current = root
    for i, part in enumerate(rel.parts):
        current = current / part
        try:
            st = current.lstat()
        except FileNotFoundError:
            return target  # nothing below a missing part exists: mkdir/create make real ones
        except OSError as e:
            raise UsageError(f"cannot write {rel.as_posix()}: {e.strerror or e}") from None
        last = i == len(rel.parts) - 1
        if stat.S_ISLNK(st.st_mode):
            name = Path(*rel.parts[: i + 1]).as_posix()
            raise UsageError(
                f"{name} is a symlink: promptctl does not write through symlinks",
                hint=f"remove the symlink {name} (a pull request can commit one pointing "
                "anywhere) and run again",
            )
        ok = stat.S_ISDIR(st.st_mode) if (directory or not last) else stat.S_ISREG(st.st_mode)
        if not ok:
            name = Path(*rel.parts[: i + 1]).as_posix()
            kind = "a directory" if (directory or not last) else "a regular file"
            raise UsageError(f"{name} is not {kind}: promptctl does not write there")
    return target


def open_append(root: Path, path: Path) -> int:
    """A descriptor appending to `path` (created 0644), never through a symlink."""
    target = writable(root, path)
    return os.open(
        target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644
    )


def check_state_untracked(project: Project) -> None:
    """Refuse a state directory (`.promptctl/` or `paths.state`) holding files tracked in git:
    a pull request could commit a cache or runs there, and gate evidence must never come from
    the pull request itself (SPEC §6)."""
    from promptctl.history import gitrepo

    state = project.state_dir
    tracked = gitrepo.tracked_under(project.root, state)
    if tracked:
        name = shown(project.root, state)
        listing = ", ".join(tracked[:3]) + (", ..." if len(tracked) > 3 else "")
        raise UsageError(
            f"the state directory {name}/ holds files tracked in git ({listing}): promptctl "
            "does not use a cache or runs that a commit can supply",
            where=Location(name),
            hint=f"git rm -r --cached {name} and keep it ignored (its .gitignore says *)",
        )
