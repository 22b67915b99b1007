"""What a resumed run reports and how it calls: summary.json counts every session of the run
(calls, cache hits, replays), and a `--fresh` run stays fresh through `eval --resume RUN`.

Interrupted with a real SIGINT in a subprocess against the loopback fake server, whose request
count is the truth the summary is checked against.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from promptctl.evals import runs
from tests.conftest import FAKE_KEY
from tests.fakes.llm_server import FakeLLMServer
from tests.integration.test_runner import REPO, N, setup_project, wait_for_lines


def _eval(project: Any, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "FAKE_API_KEY": FAKE_KEY, "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen(
        [sys.executable, "-m", "promptctl", "eval", "--concurrency", "2", *args],
        cwd=project.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _interrupt_after(project: Any, lines: int, *args: str) -> Path:
    """`eval ARGS` in a subprocess, SIGINT once its run has `lines` results lines; the run."""
    runs_dir = project.root / ".promptctl" / "runs"
    existing = set(runs_dir.iterdir()) if runs_dir.exists() else set()
    resumed = [runs_dir / a for a in args if (runs_dir / a).is_dir()]
    proc = _eval(project, *args)
    try:
        deadline = time.monotonic() + 20
        while not resumed:  # a new run: the directory the subprocess creates
            resumed = list(set(runs_dir.iterdir()) - existing) if runs_dir.exists() else []
            assert time.monotonic() < deadline, "no run directory"
            time.sleep(0.01)
        (path,) = resumed
        wait_for_lines(path / "results.jsonl", lines)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert f"promptctl eval --resume {path.name}" in err
    return path


def _summary(path: Path) -> dict[str, Any]:
    return json.loads((path / "summary.json").read_text())


def test_a_run_resumed_twice_counts_every_call_of_every_session(
    project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    setup_project(project, llm_server)
    llm_server.latency_s = 0.2
    path = _interrupt_after(project, 4, "--fresh")
    first = _summary(path)
    # the interrupted session's own summary holds its calls: the next session adds to them
    assert first["status"] == "interrupted" and first["calls"] == llm_server.total

    done = len(runs.latest_lines(path))
    again = _interrupt_after(project, done + 3, "--resume", path.name)
    assert again == path
    second = _summary(path)
    assert second["status"] == "interrupted"
    assert second["calls"] == llm_server.total == second["pairs_done"]

    r = project.run("eval", "--resume", path.name)
    assert r.code == 0, r.err
    final = _summary(path)
    assert final["status"] == "complete"
    assert final["calls"] == llm_server.total == N
    assert final["cache_hits"] == 0 and final["replayed"] == 0


def test_cache_hits_of_an_interrupted_session_stay_counted_after_resume(
    project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    setup_project(project, llm_server)
    # t-000..t-009 answered once, so the cache holds them for the run below
    assert project.run("eval", "--filter", "t-00*").code == 0
    assert llm_server.total == 10
    llm_server.latency_s = 0.2
    before = llm_server.total
    # the cached cases come first in the dataset: they are all done before the interrupt
    path = _interrupt_after(project, 13)
    assert _summary(path)["cache_hits"] == 10
    r = project.run("eval", "--resume", path.name)
    assert r.code == 0, r.err
    final = _summary(path)
    assert final["status"] == "complete"
    assert final["cache_hits"] == 10 and final["cached"] == 10
    assert final["calls"] == llm_server.total - before == N - 10


def test_replays_of_an_interrupted_session_stay_counted_after_resume(
    git_project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = git_project
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    setup_project(p, llm_server)
    p.write(".gitignore", ".promptctl/\n")
    assert p.run("eval").code == 0
    assert p.run("baseline", "update", "s").code == 0
    # cases t-010..t-019 change: their requests are new; t-000..t-009 replay from the baseline
    rows = [
        {"id": f"t-{i:03d}", "vars": {"text": f"case {i:03d}" + (" v2" if i >= 10 else "")}}
        for i in range(N)
    ]
    p.write("evals/data/d.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    p.commit("baseline, then ten cases changed")
    shutil.rmtree(p.root / ".promptctl")  # no cache and no runs: a CI checkout's state
    llm_server.latency_s = 0.2
    before = llm_server.total
    path = _interrupt_after(p, 13)
    assert _summary(path)["replayed"] == 10
    p.run("eval", "--resume", path.name)
    final = _summary(path)
    assert final["status"] == "complete"
    assert final["replayed"] == 10
    assert final["calls"] == llm_server.total - before == N - 10


def test_a_fresh_run_stays_fresh_when_resumed_by_the_printed_hint(
    project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    setup_project(project, llm_server)
    # every case is in the cache: a resume that looked there would make no call at all
    assert project.run("eval").code == 0
    assert llm_server.total == N
    llm_server.latency_s = 0.2
    before = llm_server.total
    path = _interrupt_after(project, 4, "--fresh")
    assert json.loads((path / "run.json").read_text())["fresh"] is True
    done = len(runs.latest_lines(path))
    assert llm_server.total - before == done

    r = project.run("eval", "--resume", path.name)
    assert r.code == 0, r.err
    assert llm_server.total - before == N  # the remaining pairs were asked live
    final = _summary(path)
    assert final["calls"] == N and final["cache_hits"] == 0 and final["cached"] == 0
    assert final["replayed"] == 0


def test_resume_fresh_makes_a_run_fresh_from_then_on(project: Any) -> None:
    from promptctl.errors import RunInterruptedError
    from promptctl.evals import runner, suites
    from promptctl.project import config
    from tests.integration.test_runner import _InterruptAfter

    project.write(
        "prompts/p.yaml",
        "model: mock/echo\nparams: {latency_ms: 5}\ninput:\n"
        "  text: {type: string}\ntemplate: '{{ text }}'\n",
    )
    cases = "".join(f"  - {{id: c{i}, vars: {{text: t{i}}}}}\n" for i in range(12))
    project.write(
        "evals/a.yaml", f"prompt: p\ncases:\n{cases}scorers: [{{type: regex, value: '.'}}]\n"
    )
    proj = config.load_project(root=project.root)
    with pytest.raises(RunInterruptedError):
        runner.run_eval(
            proj, suites.select(proj), runner.EvalOptions(concurrency=2), _InterruptAfter(3)
        )
    (path,) = runs.run_dirs(proj)
    assert "fresh" not in json.loads((path / "run.json").read_text())  # as earlier versions
    assert runs.read_header(path).fresh is False
    mtime = (path / "run.json").stat().st_mtime_ns
    r = project.run("eval", "--resume", "--fresh")
    assert r.code == 0, r.err
    assert runs.read_header(path).fresh is True
    assert (path / "run.json").stat().st_mtime_ns == mtime  # run_dirs' order is kept
