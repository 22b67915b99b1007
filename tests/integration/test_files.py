"""The one atomic writer: same-directory temp, replace, modes, one error naming the path."""

from __future__ import annotations

import errno
import os
from pathlib import Path

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
