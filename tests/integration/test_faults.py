"""Fault injection through the CLI (issue 9): provider faults from the loopback fake, process
faults in real subprocesses, storage faults at the documented seam. Each asserts the SPEC §4
exit code, a message naming the problem, that nothing finished is lost or asked again, and that
the key appears nowhere."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptctl.engine import retry
from promptctl.evals import runs
from tests.conftest import FAKE_KEY, Result
from tests.fakes.llm_server import FakeLLMServer, Scripted, write_config
from tests.secrets_scan import assert_no_secret, assert_no_secret_in_dir

REPO = Path(__file__).resolve().parents[2]
QUOTA_BODY = {
    "error": {
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "type": "insufficient_quota",
        "code": "insufficient_quota",
    }
}


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    # the schedule is the engine's (tested in test_engine.py); here only its outcome matters
    monkeypatch.setattr(retry, "BACKOFF_BASE_S", 0.01)
    monkeypatch.setattr(retry, "BACKOFF_CAP_S", 0.02)
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)


def setup(project: Any, server: FakeLLMServer, n: int = 4, **provider: Any) -> None:
    write_config(project.root, server, **{"max_retries": 2, **provider})
    project.write(
        "prompts/p.yaml", "model: fake/m\ninput:\n  text: {type: string}\ntemplate: '{{ text }}'\n"
    )
    project.write(
        "evals/data/d.jsonl",
        "".join(
            json.dumps({"id": f"t-{i:03d}", "vars": {"text": f"case {i:03d}"}}) + "\n"
            for i in range(n)
        ),
    )
    project.write(
        "evals/s.yaml",
        "prompt: p\ndataset: data/d.jsonl\nscorers: [{id: ok, type: contains, value: case}]\n",
    )


def evaluate(project: Any, *args: str) -> Result:
    r = project.run("eval", "--concurrency", "1", *args)
    assert "Traceback" not in r.err and "internal error" not in r.err, r.err
    assert_no_secret(r.out, r.err)
    return r


def run_dir(project: Any) -> Path:
    (path,) = list((project.root / ".promptctl" / "runs").iterdir())
    return path


def lines(project: Any) -> list[dict[str, Any]]:
    data = (run_dir(project) / "results.jsonl").read_bytes()
    assert not data or data.endswith(b"\n"), "a torn line"
    return [json.loads(x) for x in data.splitlines()]


def ok_ids(project: Any) -> list[str]:
    return sorted(x["case_id"] for x in lines(project) if not x.get("error"))


def asked(server: FakeLLMServer, since: int = 0) -> list[str]:
    return [r.body["messages"][-1]["content"] for r in server.requests[since:]]


def resume_completes_without_asking_again(project: Any, server: FakeLLMServer, n: int) -> None:
    finished = ok_ids(project)
    before = server.total
    r = evaluate(project, "--resume")
    assert r.code == 0, r.err
    again = asked(server, before)
    assert len(again) == n - len(finished)
    assert not {f"case {cid[2:]}" for cid in finished} & set(again)
    assert ok_ids(project) == [f"t-{i:03d}" for i in range(n)]
    assert_no_secret_in_dir(project.root)


# ---------------------------------------------------------------------------- provider faults


def test_429_with_retry_after_1_s_waits_then_succeeds(
    project: Any, llm_server: FakeLLMServer
) -> None:
    setup(project, llm_server, n=1)
    llm_server.enqueue(Scripted.error(429, retry_after="1"))
    r = evaluate(project)
    assert r.code == 0, r.err
    first, second = llm_server.requests
    assert first.ended is not None and second.started - first.ended >= 0.95
    assert ok_ids(project) == ["t-000"]


def test_retry_after_ms_is_preferred_to_retry_after(
    project: Any, llm_server: FakeLLMServer
) -> None:
    setup(project, llm_server, n=1)
    llm_server.enqueue(
        Scripted(
            status=503,
            body={"error": {"message": "busy"}},
            headers={"retry-after-ms": "250", "Retry-After": "30"},
        )
    )
    start = time.monotonic()
    r = evaluate(project)
    assert r.code == 0, r.err
    first, second = llm_server.requests
    assert first.ended is not None and 0.24 <= second.started - first.ended < 5
    assert time.monotonic() - start < 10


def test_x_should_retry_false_on_a_500_is_not_retried(
    project: Any, llm_server: FakeLLMServer
) -> None:
    setup(project, llm_server, n=3)
    llm_server.enqueue(Scripted.error(500, should_retry=False))
    r = evaluate(project)
    assert r.code == 3, r.err
    assert llm_server.total == 3  # the 500 once, the two other cases once each
    # it was not retried, and the report says so (issue 20)
    assert "1 call(s) failed: fake: HTTP 500" in r.out + r.err
    assert "(not retried)" in r.out + r.err and "after retries" not in r.out + r.err
    (failed,) = [x for x in lines(project) if x.get("error")]
    assert "HTTP 500" in failed["error"] and "scripted error 500" in failed["error"]
    resume_completes_without_asking_again(project, llm_server, 3)


def test_quota_exhausted_429_stops_the_run_and_keeps_what_finished(
    project: Any, llm_server: FakeLLMServer
) -> None:
    setup(project, llm_server, n=6)
    llm_server.enqueue(
        Scripted.text("case a"), Scripted.text("case b"), Scripted.error(429, body=QUOTA_BODY)
    )
    r = evaluate(project)
    assert r.code == 3, r.err
    assert "quota or credit exhausted" in r.out + r.err
    assert llm_server.total == 3  # not retried, and no case after it was asked
    assert ok_ids(project) == ["t-000", "t-001"]
    resume_completes_without_asking_again(project, llm_server, 6)


@pytest.mark.parametrize(
    "fault",
    [
        Scripted.error(500),
        Scripted.error(502),
        Scripted.error(503),
        Scripted.error(529, body={"type": "error", "error": {"type": "overloaded_error"}}),
        Scripted.error(408),
        Scripted.error(409),
        Scripted.reset(),
        Scripted.truncated(),
        Scripted.html(502),
    ],
    ids=["500", "502", "503", "529", "408", "409", "reset", "truncated", "html-502"],
)
def test_transient_faults_are_retried_and_the_run_completes(
    project: Any, llm_server: FakeLLMServer, fault: Scripted
) -> None:
    setup(project, llm_server, n=2)
    llm_server.enqueue(fault, fault)  # a burst: twice in a row, then well again
    r = evaluate(project)
    assert r.code == 0, r.err
    assert llm_server.total == 4
    assert ok_ids(project) == ["t-000", "t-001"]
    summary = json.loads((run_dir(project) / "summary.json").read_text())
    assert summary["retries"] == 2


def test_a_trickling_body_hits_the_total_deadline(project: Any, llm_server: FakeLLMServer) -> None:
    setup(project, llm_server, n=1, timeout_s=0.5, max_retries=0)
    llm_server.enqueue(Scripted.trickle())
    start = time.monotonic()
    r = evaluate(project)
    assert time.monotonic() - start < 5
    assert r.code == 3
    (line,) = lines(project)
    assert "no complete reply within 0.5 s" in line["error"]


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (Scripted.malformed(), "reply is not JSON (HTTP 200)"),
        (Scripted.html(200), "reply is not JSON (HTTP 200): <html>"),
        (Scripted.oversize(9 * 1024 * 1024), "reply larger than 8 MiB"),
        (Scripted.no_choices(), "reply has no"),
        (Scripted(body={"choices": [{"message": {}}]}), "reply has no"),
    ],
    ids=["malformed-json", "html-200", "oversize", "no-choices", "no-content"],
)
def test_nonsense_replies_are_clear_case_errors(
    project: Any, llm_server: FakeLLMServer, fault: Scripted, message: str
) -> None:
    setup(project, llm_server, n=2, max_retries=0)
    llm_server.enqueue(fault)
    r = evaluate(project)
    assert r.code == 3, r.err
    errors = [x["error"] for x in lines(project) if x.get("error")]
    assert len(errors) == 1 and message in errors[0], errors
    assert ok_ids(project) == ["t-001"]


def test_a_key_revoked_mid_run_stops_the_run_and_names_the_variable(
    project: Any, llm_server: FakeLLMServer
) -> None:
    setup(project, llm_server, n=6)
    llm_server.enqueue(Scripted.text("case a"), Scripted.text("case b"), Scripted.error(401))
    r = evaluate(project)
    assert r.code == 3, r.err
    out = r.out + r.err
    assert "HTTP 401: the API key was refused" in out and "FAKE_API_KEY" in out
    assert llm_server.total == 3  # 401 is never retried, and nothing after it is asked
    assert ok_ids(project) == ["t-000", "t-001"]
    resume_completes_without_asking_again(project, llm_server, 6)


def test_an_outage_for_the_whole_run_trips_the_breaker_fast(
    project: Any, llm_server: FakeLLMServer
) -> None:
    n = 60
    setup(project, llm_server, n=n)
    llm_server.enqueue(Scripted.text("case a"), Scripted.text("case b"))
    llm_server.default = Scripted.error(503)
    start = time.monotonic()
    r = project.run("eval", "--concurrency", "4")
    assert time.monotonic() - start < 10
    assert r.code == 3, r.err
    assert "provider unavailable" in r.out + r.err
    assert_no_secret(r.out, r.err)
    # three calls failed after their 3 attempts, calls in flight stopped retrying: far fewer
    # requests than 60 cases x 3 attempts
    assert llm_server.total <= 2 + (retry.OUTAGE_AFTER_CALLS + 4) * 3
    assert len(ok_ids(project)) == 2  # which two depends on the order 4 workers asked in
    summary = json.loads((run_dir(project) / "summary.json").read_text())
    assert summary["status"] == "incomplete" and "gate" not in summary  # no verdict
    llm_server.default = None  # the provider is back
    resume_completes_without_asking_again(project, llm_server, n)


def test_a_reply_with_a_lone_surrogate_is_kept_not_a_crash(
    project: Any, llm_server: FakeLLMServer
) -> None:
    # JSON's "\ud800" decodes to a str that UTF-8 (the cache, results.jsonl) cannot hold
    setup(project, llm_server, n=1)
    llm_server.enqueue(Scripted.text("case \ud800 and \ud83d\ude00"))
    r = evaluate(project)
    assert r.code == 0, r.err
    (line,) = lines(project)
    assert line["output"] == "case \ufffd and \U0001f600"
    r = evaluate(project)  # and the cache serves it back
    assert r.code == 0 and llm_server.total == 1


# --------------------------------------------------------------------------- storage faults


def test_a_full_disk_while_appending_stops_with_whole_lines_and_resume_finishes(
    project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(project, llm_server, n=5)
    real_write = runs._os_write
    written = []

    def disk_fills_after_two(fd: int, data: bytes) -> int:
        if len(written) >= 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(data)
        return real_write(fd, data)

    monkeypatch.setattr(runs, "_os_write", disk_fills_after_two)
    r = evaluate(project)
    assert r.code == 3, r.err
    assert "cannot append to" in r.err and "No space left on device" in r.err
    assert f"promptctl eval --resume {run_dir(project).name}" in r.err
    assert ok_ids(project) == ["t-000", "t-001"]
    monkeypatch.setattr(runs, "_os_write", real_write)
    # the third reply was paid for but never written: the cache answers it on resume
    before = llm_server.total
    r = evaluate(project, "--resume")
    assert r.code == 0, r.err
    assert llm_server.total - before == 2
    assert ok_ids(project) == [f"t-{i:03d}" for i in range(5)]


@pytest.fixture
def read_only(project: Any) -> Iterator[Path]:
    """.promptctl/ that cannot be written: immutable for root (which ignores modes), else 0555.
    Where root cannot set the immutable flag, `runs` is made a file: mkdir fails the same way."""
    state = project.root / ".promptctl"
    state.mkdir()
    undo: list[str] = []
    if os.geteuid() != 0:
        state.chmod(0o555)
        undo.append("chmod")
    elif subprocess.run(["chattr", "+i", str(state)], capture_output=True).returncode == 0:
        undo.append("chattr")
    else:
        (state / "runs").write_text("")
    try:
        yield state
    finally:
        if "chattr" in undo:
            subprocess.run(["chattr", "-i", str(state)], check=True)
        if "chmod" in undo:
            state.chmod(0o755)


def test_a_read_only_state_directory_is_a_clear_error_before_any_call(
    project: Any, llm_server: FakeLLMServer, read_only: Path
) -> None:
    setup(project, llm_server, n=2)
    r = evaluate(project)
    assert r.code == 3, r.err
    assert "cannot create the run directory .promptctl/runs/" in r.err
    assert "make .promptctl/ writable" in r.err
    assert llm_server.total == 0
    assert not (read_only / "runs").is_dir() and not (read_only / "cache.db").exists()


@pytest.mark.filterwarnings("default::promptctl.errors.PromptctlWarning")
def test_a_corrupt_cache_is_set_aside_and_rebuilt_with_a_warning(
    project: Any, llm_server: FakeLLMServer
) -> None:
    setup(project, llm_server, n=2)
    state = project.root / ".promptctl"
    state.mkdir()
    (state / "cache.db").write_bytes(b"this is not an SQLite file" * 100)
    r = evaluate(project)
    assert r.code == 0, r.err
    assert "warning: the response cache" in r.err and "was corrupt" in r.err
    (aside,) = state.glob("cache.db.corrupt-*")
    assert aside.read_bytes().startswith(b"this is not an SQLite file")
    before = llm_server.total
    r = evaluate(project)  # the rebuilt cache answers
    assert r.code == 0 and llm_server.total == before
    assert "warning" not in r.err


# --------------------------------------------------------------------------- process faults


def start(project: Any, *args: str, new_session: bool = False) -> subprocess.Popen[str]:
    env = {**os.environ, "FAKE_API_KEY": FAKE_KEY, "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen(
        [sys.executable, "-m", "promptctl", "eval", "--concurrency", "2", *args],
        cwd=project.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_session,
    )


def wait_for_lines(project: Any, n: int, timeout_s: float = 20.0) -> None:
    """results.jsonl has no notification: poll it briefly (the line is the event)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = list((project.root / ".promptctl" / "runs").glob("*/results.jsonl"))
        if found and found[0].read_bytes().count(b"\n") >= n:
            return
        time.sleep(0.01)
    raise AssertionError(f"fewer than {n} result lines after {timeout_s} s")


@pytest.mark.parametrize("how", ["SIGTERM", "kill -9 of the process group"])
def test_ci_cancellation_keeps_whole_lines_and_resume_finishes(
    project: Any, llm_server: FakeLLMServer, how: str
) -> None:
    n = 20
    setup(project, llm_server, n=n)
    llm_server.latency_s = 0.05
    proc = start(project, new_session=True)
    try:
        wait_for_lines(project, 3)
        if how == "SIGTERM":
            proc.send_signal(signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert_no_secret(out, err)
    done = lines(project)
    assert 3 <= len(done) < n
    if how == "SIGTERM":
        # an orderly stop: calls in flight finished and were recorded, the summary says so
        assert proc.returncode == 130, err
        assert f"promptctl eval --resume {run_dir(project).name}" in err
        summary = json.loads((run_dir(project) / "summary.json").read_text())
        assert summary["status"] == "interrupted" and summary["pairs_done"] == len(done)
        assert llm_server.total == len(done)
    else:
        assert proc.returncode == -signal.SIGKILL
    llm_server.latency_s = 0.0
    resume_completes_without_asking_again(project, llm_server, n)


def test_two_evals_at_once_share_one_cache(project: Any, llm_server: FakeLLMServer) -> None:
    n = 12
    setup(project, llm_server, n=n)
    project.write("evals/t.yaml", project.read("evals/s.yaml"))  # a second suite, same calls
    llm_server.latency_s = 0.01
    procs = [start(project, "s"), start(project, "t")]
    outputs = [p.communicate(timeout=60) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err
        assert_no_secret(out, err)
    assert llm_server.total <= 2 * n  # each asked at most once per process
    before = llm_server.total
    r = evaluate(project, "s")  # every reply is now in the shared cache
    assert r.code == 0 and llm_server.total == before
    assert_no_secret_in_dir(project.root)
