"""Runs that survive interruption: SIGINT and kill -9 in a real subprocess, then --resume.

The fake server counts requests, so "finished cases are not asked again" is checked exactly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from promptctl.evals import runs
from promptctl.evals.results import load_run
from promptctl.project import config
from tests.conftest import FAKE_KEY
from tests.fakes.llm_server import FakeLLMServer, write_config

N = 20
REPO = Path(__file__).resolve().parents[2]


def setup_project(project: Any, server: FakeLLMServer) -> None:
    write_config(project.root, server)
    project.write(
        "prompts/p.yaml", "model: fake/m\ninput:\n  text: {type: string}\ntemplate: '{{ text }}'\n"
    )
    project.write(
        "evals/data/d.jsonl",
        "".join(
            json.dumps({"id": f"t-{i:03d}", "vars": {"text": f"case {i:03d}"}}) + "\n"
            for i in range(N)
        ),
    )
    project.write(
        "evals/s.yaml",
        "prompt: p\ndataset: data/d.jsonl\nscorers: [{id: ok, type: contains, value: case}]\n",
    )


def start(project: Any, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "FAKE_API_KEY": FAKE_KEY, "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen(
        [sys.executable, "-m", "promptctl", "eval", "--fresh", "--concurrency", "2", *args],
        cwd=project.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_dir(project: Any) -> Path:
    (path,) = list((project.root / ".promptctl" / "runs").iterdir())
    return path


def wait_for_lines(path: Path, n: int, timeout_s: float = 20.0) -> int:
    """Results lines are the event; the file has no notification, so poll it briefly."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists():
            count = path.read_bytes().count(b"\n")
            if count >= n:
                return count
        time.sleep(0.01)
    raise AssertionError(f"fewer than {n} results lines after {timeout_s} s")


def asked(server: FakeLLMServer, start: int = 0) -> list[str]:
    return [r.body["messages"][-1]["content"] for r in server.requests[start:]]


def test_sigint_keeps_finished_results_and_resume_does_not_ask_them_again(
    project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    setup_project(project, llm_server)
    llm_server.latency_s = 0.1
    proc = start(project)
    try:
        assert llm_server.wait_for_requests(1, timeout=20)
        deadline = time.monotonic() + 20
        while not (project.root / ".promptctl" / "runs").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        results = run_dir(project) / "results.jsonl"
        wait_for_lines(results, 4)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    path = run_dir(project)
    assert f"promptctl eval --resume {path.name}" in err
    done = runs.latest_lines(path)
    assert 4 <= len(done) < N
    # In-flight calls finished and were recorded: every request asked has its line.
    assert llm_server.total == len(done)
    partial = json.loads((path / "summary.json").read_text())
    assert partial["status"] == "interrupted" and partial["pairs_done"] == len(done)
    proj = config.load_project(root=project.root)
    assert runs.latest_run(proj, complete=False) == path

    before = llm_server.total
    r = project.run("eval", "--resume", "--fresh")
    assert r.code == 0, r.err
    again = asked(llm_server, before)
    assert len(again) == N - len(done)
    assert not {f"case {cid[2:]}" for cid, _ in done} & set(again)
    final = runs.latest_lines(path)
    assert sorted(final) == [(f"t-{i:03d}", 0) for i in range(N)]
    assert json.loads((path / "summary.json").read_text())["status"] == "complete"
    assert load_run(path).complete and len(load_run(path).outcomes) == N


def test_kill_9_leaves_whole_lines_and_resume_finishes_the_run(
    project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    setup_project(project, llm_server)
    llm_server.latency_s = 0.05
    proc = start(project)
    try:
        deadline = time.monotonic() + 20
        while not (project.root / ".promptctl" / "runs").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        results = run_dir(project) / "results.jsonl"
        wait_for_lines(results, 3)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    data = results.read_bytes()
    assert data.endswith(b"\n")
    lines = [json.loads(line) for line in data.splitlines()]  # every line whole
    path = run_dir(project)
    assert not (path / "summary.json").exists()
    before = llm_server.total
    r = project.run("eval", "--resume", path.name, "--fresh")
    assert r.code == 0, r.err
    assert llm_server.total - before == N - len(lines)
    assert not {x["case_id"].replace("t-", "case ") for x in lines} & set(asked(llm_server, before))
    assert len(runs.latest_lines(path)) == N


def test_a_torn_last_line_is_ignored_and_repaired(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    project = config.load_project(root=root)
    writer = runs.RunWriter.create(project, runs.RunHeader(run_id=runs.new_run_id("s"), suite="s"))
    writer.append(runs.ResultLine(suite="s", case_id="a"))
    writer.close()
    with open(writer.path / runs.RESULTS, "ab") as fh:
        fh.write(b'{"case_id": "b", "rep')
    assert list(runs.latest_lines(writer.path)) == [("a", 0)]
    again = runs.RunWriter(writer.path, root=project.root)
    again.append(runs.ResultLine(suite="s", case_id="c"))
    again.close()
    assert list(runs.latest_lines(writer.path)) == [("a", 0), ("c", 0)]


def test_run_ids_sort_by_time_and_latest_run_filters(tmp_path: Path) -> None:
    import datetime as dt

    a = runs.new_run_id("sum/marize", dt.datetime(2026, 11, 25, 12, 5, 1, tzinfo=dt.timezone.utc))
    assert a.startswith("20261125T120501Z-sum_marize-") and len(a.rsplit("-", 1)[1]) == 4
    root = tmp_path / "p"
    root.mkdir()
    project = config.load_project(root=root)
    w1 = runs.RunWriter.create(project, runs.RunHeader(run_id="20260101T000000Z-a-0001", suite="a"))
    w1.write_summary(runs.Summary(run_id=w1.run_id, suite="a", status="complete"))
    w1.close()
    w2 = runs.RunWriter.create(project, runs.RunHeader(run_id="20260102T000000Z-b-0001", suite="b"))
    w2.close()
    assert runs.latest_run(project) == w2.path
    assert runs.latest_run(project, suite="a") == w1.path
    assert runs.latest_run(project, complete=True) == w1.path
    assert runs.latest_run(project, complete=False) == w2.path
    assert runs.latest_run(project, suite="c") is None


def _prompt(**schemas: Any) -> Any:
    from promptctl.errors import Location
    from promptctl.model import Message, OutputSpec
    from promptctl.prompts.prompt import Prompt

    return Prompt(
        name="p",
        version="0" * 12,
        model="mock/echo",
        messages=(Message(role="user", content="x"),),
        params={},
        input=schemas,
        output=OutputSpec(),
        source=Location("prompts/p.yaml", 1, 1),
    )


@pytest.mark.parametrize(
    ("schemas", "values", "plain"),
    [
        ({"t": {"type": "string"}}, {"t": "x"}, True),
        ({"t": {"type": "string", "description": "d"}}, {"t": "x"}, True),
        ({"t": {"type": "string"}}, {"t": 5}, False),
        ({"t": {"type": "integer"}}, {"t": True}, False),
        ({"t": {"type": "number"}}, {"t": 2}, True),
        ({"t": {"type": "string", "minLength": 1}}, {"t": "x"}, False),
        ({"t": {"type": ["string", "null"]}}, {"t": None}, False),
        ({"t": {"type": "string"}}, {}, False),
        ({"t": {"type": "string", "default": "d"}}, {}, True),
        ({"t": {}}, {"t": [1]}, True),
    ],
)
def test_plain_schemas_are_checked_without_jsonschema(
    schemas: dict[str, Any], values: dict[str, Any], plain: bool
) -> None:
    from promptctl.prompts import rendering

    assert rendering.plainly_valid(_prompt(**schemas), values) is plain


class _InterruptAfter:
    """A Progress that delivers a real SIGINT to this process after `n` results."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.seen = 0

    def start(self, suite: str, total: int, done: int) -> None:
        pass

    def advance(self, suite: str, record: Any) -> None:
        self.seen += 1
        if self.seen == self.n:
            os.kill(os.getpid(), signal.SIGINT)

    def finish(self, suite: str) -> None:
        pass


def test_interrupting_the_first_suite_leaves_every_suite_to_resume(project: Any) -> None:
    from promptctl.errors import RunInterruptedError
    from promptctl.evals import runner, suites

    project.write(
        "prompts/p.yaml",
        "model: mock/echo\nparams: {latency_ms: 5}\ninput:\n"
        "  text: {type: string}\ntemplate: '{{ text }}'\n",
    )
    cases = "".join(f"  - {{id: c{i}, vars: {{text: t{i}}}}}\n" for i in range(12))
    for name in ("a", "b"):
        project.write(
            f"evals/{name}.yaml",
            f"prompt: p\ncases:\n{cases}scorers: [{{type: regex, value: '.'}}]\n",
        )
    proj = config.load_project(root=project.root)
    with pytest.raises(RunInterruptedError, match="1 more suite") as e:
        runner.run_eval(
            proj, suites.select(proj), runner.EvalOptions(concurrency=2), _InterruptAfter(3)
        )
    assert e.value.exit_code == 130
    first, second = runs.run_dirs(proj)
    assert 3 <= len(runs.latest_lines(first)) < 12 and not runs.latest_lines(second)
    r = project.run("eval", "--resume")
    assert r.code == 0, r.err
    assert len(runs.latest_lines(first)) == 12 and len(runs.latest_lines(second)) == 12
    assert runs.is_complete(first) and runs.is_complete(second)


def test_a_resumed_runs_outputs_are_its_latest_lines_in_case_order(
    project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """load_run reads outputs from results.jsonl when iterated (issue 18): a pair asked again on
    resume supersedes its earlier line, and outputs come in (case, repeat) order."""
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    setup_project(project, llm_server)
    proc = start(project)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    path = run_dir(project)
    results = path / "results.jsonl"
    lines = results.read_text().splitlines()
    # a stale duplicate of t-003 after the real one, then the real one again: the last wins
    (real,) = [line for line in lines if json.loads(line)["case_id"] == "t-003"]
    stale = json.loads(real)
    stale_copy = {**stale, "output": "stale"}
    results.write_text("\n".join([*lines[::-1], json.dumps(stale_copy), real]) + "\n")
    run = load_run(path)
    outs = list(run.outputs)
    assert [o.case_id for o in outs] == [f"t-{i:03d}" for i in range(N)]
    assert len(run.outputs) == N
    assert "stale" not in {o.output for o in outs}
    assert outs[3].output == stale["output"]
