"""Local run state: one process per run directory, and lines of results.jsonl with wrong types."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from promptctl.evals import runs
from promptctl.project import config

REPO = Path(__file__).resolve().parents[2]


def _interrupted_run(project: Any) -> Path:
    project.write(
        "prompts/p.yaml", "model: mock/echo\ninput: {t: {type: string}}\ntemplate: '{{ t }}'\n"
    )
    project.write(
        "evals/s.yaml",
        "prompt: p\ncases: [{id: a, vars: {t: x}}, {id: b, vars: {t: y}}, {id: c, vars: {t: x}}]\n"
        "scorers: [{id: s, type: contains, value: x}]\n",
    )
    assert project.run("eval").code == 0
    path = runs.latest_run(config.load_project(root=project.root))
    assert path is not None
    (path / runs.SUMMARY).unlink()  # as a kill -9 leaves it
    return path


def test_a_second_resume_of_a_run_in_use_exits_2_naming_the_holder(project: Any) -> None:
    path = _interrupted_run(project)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from promptctl.evals.runs import RunWriter; "
            f"w = RunWriter(Path({str(path)!r})); print('held', flush=True); sys.stdin.read(); "
            "w.close()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        before = (path / runs.RESULTS).read_bytes()
        r = project.run("eval", "--resume", path.name)
        assert r.code == 2
        assert f"run {path.name} is in use by another promptctl (pid {holder.pid} on " in r.err
        assert (path / runs.RESULTS).read_bytes() == before  # nothing asked, nothing appended
    finally:
        holder.communicate("")
    r = project.run("eval", "--resume", path.name)
    assert r.code == 0, r.err


def test_a_wrong_typed_line_is_reported_and_its_pair_runs_again(project: Any) -> None:
    path = _interrupted_run(project)
    lines = (path / runs.RESULTS).read_text().splitlines()
    first = json.loads(lines[0])
    first["repeat"] = "x"
    lines[0] = json.dumps(first)
    (path / runs.RESULTS).write_text("\n".join(lines) + "\n")
    r = project.run("eval", "--resume", path.name)
    assert r.code == 0, r.err
    assert f"warning: {path.name}/results.jsonl:1: repeat must be a whole number, not 'x'" in r.err
    assert "skipped, its pair runs again" in r.err
    after = (path / runs.RESULTS).read_text().splitlines()
    assert len(after) == 4 and json.loads(after[3])["case_id"] == first["case_id"]
    summary = json.loads((path / runs.SUMMARY).read_text())
    assert (summary["status"], summary["pairs_done"]) == ("complete", 3)


KILL_DURING_REPLACE = """
import os, signal, sys
from pathlib import Path
from promptctl.project import files
os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)  # the worst moment to die
files.write_atomic(Path(sys.argv[1]), '{"cases": {}}\\n')
"""


@pytest.mark.parametrize("config", [True, False])
def test_a_write_killed_before_its_rename_leaves_nothing_git_add_would_commit(
    git_project: Any, config: bool
) -> None:
    if config:
        git_project.write("promptctl.yaml", "defaults: {repeat: 1}\n")
    git_project.write("prompts/p.yaml", "model: mock/echo\ntemplate: hi\n")
    git_project.commit("start")
    target = git_project.root / "evals" / "baselines" / "s.json"
    target.parent.mkdir(parents=True)
    done = subprocess.run(
        [sys.executable, "-c", KILL_DURING_REPLACE, str(target)],
        env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == -9
    git_project.git("add", "-A")
    assert git_project.git("status", "--porcelain", "--untracked-files=all") == ""
    assert not target.exists() and list(target.parent.iterdir()) == []
