"""The one atomic writer: same-directory temp, replace, modes, one error naming the path."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptctl.errors import IncompleteError
from promptctl.project import files


def test_writes_bytes_and_text_exactly_and_creates_parents(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "x.json"
    files.write_atomic(target, "line\r\nnext\n\u00e9")
    assert target.read_bytes() == "line\r\nnext\n\u00e9".encode()
    files.write_atomic(target, b"\x00\xff")
    assert target.read_bytes() == b"\x00\xff"
    assert sorted(os.listdir(target.parent)) == ["x.json"]


def test_a_new_file_is_0644_and_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    new = tmp_path / "new.yaml"
    files.write_atomic(new, "a: 1\n")
    assert new.stat().st_mode & 0o777 == 0o644
    new.chmod(0o600)
    files.write_atomic(new, "a: 2\n")
    assert new.stat().st_mode & 0o777 == 0o600
    assert new.read_text() == "a: 2\n"


def test_the_temp_file_lives_in_the_target_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, str]] = []
    real = os.replace

    def spy(src: str, dst: str) -> None:
        seen.append((src, str(dst)))
        real(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    target = tmp_path / "sub" / "labels.yaml"
    files.write_atomic(target, "x")
    ((src, dst),) = seen
    assert Path(src).parent == target.parent and Path(src).name.startswith(".labels.yaml.")
    assert src.endswith(".tmp") and dst == str(target)


def test_a_failed_write_keeps_the_old_file_leaves_no_temp_and_names_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "labels.yaml"
    files.write_atomic(target, "old\n")

    def full_disk(src: str, dst: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full_disk)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(IncompleteError) as caught:
        files.write_atomic(target, "new\n")
    assert str(caught.value) == "labels.yaml: cannot write the file: No space left on device"
    assert caught.value.exit_code == 3 and caught.value.hint
    assert target.read_bytes() == b"old\n"
    assert os.listdir(tmp_path) == ["labels.yaml"]


def test_an_unwritable_directory_is_the_same_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(IncompleteError) as caught:
        files.write_atomic(blocker / "x.json", "{}")
    assert caught.value.where is not None
    assert caught.value.where.path.endswith("not-a-dir/x.json")


def test_every_owner_reports_a_failed_write_the_same_way_at_the_cli(
    project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """init (scaffold), eval (runs) and baseline update (baselines) all write through one
    writer: a full disk is exit 3 naming the file, no traceback, the old bytes kept."""
    assert project.run("init").code == 0
    assert project.run("eval").code == 0
    real = os.replace

    def baselines_full(src: str, dst: str) -> None:
        if "baselines" in str(dst) or "runs" in str(dst):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(src, dst)

    monkeypatch.setattr(os, "replace", baselines_full)
    r = project.run("baseline", "update")
    assert r.code == 3
    assert "evals/baselines/summarize.json: error: cannot write the file: No space left" in r.err
    assert (
        "Traceback" not in r.err and not (project.root / "evals/baselines/summarize.json").exists()
    )
    r = project.run("eval")
    assert r.code == 3
    assert "/run.json: error: cannot write the file: No space left on device" in r.err


def test_chunks_are_written_as_they_come_and_the_same_bytes_leave_the_file_alone(
    tmp_path: Path,
) -> None:
    """Issue 18: a 100k-case baseline is written a line at a time; `unless_same` keeps an
    unchanged file untouched (mtime too) and says so."""
    target = tmp_path / "b.json"
    produced: list[int] = []

    def lines() -> Iterator[bytes]:
        for i in range(3):
            produced.append(i)
            yield f"line {i}\n".encode()

    assert files.write_atomic(target, lines(), unless_same=True) is True
    assert target.read_bytes() == b"line 0\nline 1\nline 2\n" and produced == [0, 1, 2]
    before = target.stat().st_mtime_ns
    assert files.write_atomic(target, lines(), unless_same=True) is False
    assert target.stat().st_mtime_ns == before
    assert files.write_atomic(target, [b"line 0\n", b"other\n"], unless_same=True) is True
    assert target.read_bytes() == b"line 0\nother\n"
    assert sorted(os.listdir(tmp_path)) == ["b.json"]  # no temp file left either way


def test_a_state_directory_on_another_file_system_still_gets_the_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The temp file goes to .promptctl/tmp/; when the rename crosses file systems (EXDEV), the
    written temp file is copied beside the target and renamed there: chunks are not asked twice."""
    (tmp_path / ".promptctl").mkdir()
    target = tmp_path / "evals" / "x.json"
    real_replace = os.replace

    def replace(src: str, dst: Any) -> None:
        if os.sep + ".promptctl" + os.sep in str(src):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    assert files.write_atomic(target, iter([b"a\n", b"b\n"])) is True
    assert target.read_bytes() == b"a\nb\n"
    assert sorted(os.listdir(target.parent)) == ["x.json"]
    assert os.listdir(tmp_path / ".promptctl" / "tmp") == []
