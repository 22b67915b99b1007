"""The one atomic file writer: every owner of a file format (runs, baselines, labels, import,
editor schemas, exports) writes through `write_atomic`."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from promptctl.errors import IncompleteError, Location

NEW_FILE_MODE = 0o644  # mkstemp creates 0600; a committed file must stay readable by the team


def write_atomic(
    path: Path, data: bytes | str | Iterable[bytes], *, unless_same: bool = False
) -> bool:
    """Write `data` to `path` so readers see the old file or the new one, never half of one.

    Temp file in the same directory (so the rename cannot cross a file system), fsync, then
    `os.replace`, then fsync of the directory so the rename itself survives a power cut. An
    existing file keeps its permission bits; a new one gets 0644. Text is written as UTF-8 with
    the newlines given (no platform translation). `data` may be chunks of bytes, written as they
    come, so a 100k-case baseline is never one string in memory (issue 18).

    With `unless_same`, a file that already holds exactly these bytes is not touched at all
    (its mtime neither: an unchanged baseline stays out of `git status`). Returns whether the
    file was written.

    Raises:
        IncompleteError: the directory or file cannot be written (full disk, read-only, ...);
            names the path. No temp file is left behind and the old file is untouched.
    """
    chunks = (
        [data.encode("utf-8") if isinstance(data, str) else data]
        if isinstance(data, str | bytes)
        else data
    )
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=temp_dir_for(path))
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        if unless_same and _same_bytes(tmp, path):
            return False
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = NEW_FILE_MODE
        os.chmod(tmp, mode)
        try:
            os.replace(tmp, path)
        except OSError as e:
            if e.errno != errno.EXDEV:
                raise
            # the state directory is on another file system: copy the temp file beside
            first, tmp = tmp, None
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "wb") as fh, open(first, "rb") as src:
                shutil.copyfileobj(src, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.unlink(first)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise IncompleteError(
            f"cannot write the file: {e.strerror or e}",
            where=Location(_shown(path)),
            hint="free some space or make the directory writable, then run the command again",
        ) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    _fsync_dir(path.parent)
    return True


def _same_bytes(a: str | Path, b: Path) -> bool:
    """Whether two files hold the same bytes (b missing: no), compared a block at a time."""
    try:
        with open(a, "rb") as fa, open(b, "rb") as fb:
            if os.fstat(fa.fileno()).st_size != os.fstat(fb.fileno()).st_size:
                return False
            while True:
                x, y = fa.read(1 << 20), fb.read(1 << 20)
                if x != y:
                    return False
                if not x:
                    return True
    except (FileNotFoundError, IsADirectoryError):
        return False


STATE_DIR = ".promptctl"  # the default state directory, git-ignored by the `*` inside it
_IGNORE_ALL = "# local promptctl state: cache, runs, temp files\n*\n"


def temp_dir_for(path: Path) -> Path:
    """Where the temp file of `path`'s atomic write goes: `.promptctl/tmp/` of the project or
    repository that holds it, which git ignores. A SIGKILL between write and rename left
    `evals/baselines/.s.json.<random>.tmp` beside the baseline, where the refresh job's
    `git add` committed it (issue 20). Without a state directory, the repository's `.git/`;
    outside both: beside the file."""
    start = path.parent.resolve()
    for d in (start, *start.parents):
        if (d / STATE_DIR).is_dir():  # never created here: `paths.state` may put it elsewhere
            tmp = d / STATE_DIR / "tmp"
            try:
                tmp.mkdir(parents=True, exist_ok=True)
                ignore = d / STATE_DIR / ".gitignore"
                if not ignore.exists():
                    ignore.write_text(_IGNORE_ALL, encoding="utf-8")
            except OSError:
                return path.parent  # a read-only state directory: beside the file, as before
            return tmp
        if (d / ".git").exists():
            # a repository without promptctl state yet: git never adds what is inside .git/
            return d / ".git" if (d / ".git").is_dir() else path.parent
    return path.parent


def _fsync_dir(directory: Path) -> None:
    # The new bytes are in place once os.replace returned; the directory fsync only makes the
    # rename durable across a power cut. Windows cannot open a directory and some file systems
    # refuse the fsync (EINVAL): neither is a reason to report a write that happened as failed.
    if not hasattr(os, "O_DIRECTORY"):
        return
    with contextlib.suppress(OSError):
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _shown(path: Path) -> str:
    """The path as a user typed it: relative to the working directory when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):
        return str(path)
