"""eval --batch against the loopback fake's OpenAI and Anthropic batch APIs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FAKE_KEY
from tests.fakes.llm_server import Scripted, write_config

PROMPT = """\
model: {model}
input:
  ticket: {{type: string}}
template: "Summarize: {{{{ ticket }}}}"
"""
SUITE = """\
prompt: summarize
dataset: data/tickets.jsonl
scorers:
  - {id: has, type: contains, value: "Summarize"}
gate: {min_pass_rate: 0.5}
"""
PRICES = "prices:\n  fake/gpt-test: {input: 1.0, output: 2.0}\n"


@pytest.fixture
def batchy(project, llm_server, monkeypatch):
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    monkeypatch.setenv("FAKE_ANTHROPIC_KEY", FAKE_KEY)
    monkeypatch.setenv("PROMPTCTL_BATCH_POLL_S", "0.01")
    monkeypatch.setenv("PROMPTCTL_BATCH_LINGER_S", "0.02")
    write_config(project.root, llm_server, extra=PRICES, batch=True, max_retries=0)
    project.write("prompts/summarize.yaml", PROMPT.format(model="fake/gpt-test"), dedent=False)
    project.write("evals/summarize.yaml", SUITE, dedent=False)
    rows = [{"id": f"t{i}", "vars": {"ticket": f"ticket number {i}"}} for i in range(6)]
    project.write(
        "evals/data/tickets.jsonl", "".join(json.dumps(r) + "\n" for r in rows), dedent=False
    )
    return project


def _results(p, run_dir: str) -> dict[tuple[str, int], tuple[str, dict]]:
    lines = (Path(run_dir) / "results.jsonl").read_text().splitlines()
    out = {}
    for line in lines:
        r = json.loads(line)
        out[(r["case_id"], r["repeat"])] = (r["output"], r["scores"])
    return out


def _run_dir(p) -> str:
    runs = sorted((p.root / ".promptctl/runs").iterdir())
    return str(runs[-1])


def test_batch_gives_the_live_results_at_half_the_price(batchy, llm_server):
    p = batchy
    r = p.run("eval", "--fresh", "--format", "json")
    assert r.code == 0, r.err
    live = json.loads(r.out)
    live_results = _results(p, live["suites"][0]["run_dir"])
    llm_server.reset()
    r = p.run("eval", "--fresh", "--batch", "--format", "json")
    assert r.code == 0, r.err
    batched = json.loads(r.out)
    assert _results(p, batched["suites"][0]["run_dir"]) == live_results
    assert llm_server.batches.submitted == 1 and llm_server.batches.lines_submitted == 6
    chat_calls = [x for x in llm_server.requests if x.path.endswith("/chat/completions")]
    assert chat_calls == []  # nothing went live
    live_cost = live["suites"][0]["summary"]["cost_usd"]
    batch_cost = batched["suites"][0]["summary"]["cost_usd"]
    assert live_cost > 0 and batch_cost == pytest.approx(live_cost / 2)
    assert batched["suites"][0]["gate"]["verdict"] == live["suites"][0]["gate"]["verdict"]
    summary = batched["suites"][0]["summary"]
    assert summary["batch_calls"] == 6 and summary["batch_saved_usd"] == pytest.approx(
        live_cost / 2
    )
    # the reports say what the discount saved
    saved = f"${live_cost / 2:.4f}"
    r = p.run("report", batched["suites"][0]["run_id"], "-o", "r.html")
    assert r.code == 0, r.err
    assert f"batch 6 calls, saved {saved}" in (p.root / "r.html").read_text()
    llm_server.reset()
    r = p.run("eval", "--fresh", "--batch")
    assert r.code == 0, r.err
    assert f"(batch 6 calls, saved {saved})" in r.out
    # the replies went into the cache like live ones: a plain eval now calls nothing
    llm_server.reset()
    assert p.run("eval").code == 0
    assert llm_server.total == 0


def test_anthropic_message_batches(batchy, llm_server):
    p = batchy
    p.write("prompts/summarize.yaml", PROMPT.format(model="fake-anthropic/claude"), dedent=False)
    r = p.run("eval", "--batch")
    assert r.code == 0, r.err
    assert llm_server.batches.submitted == 1
    paths = {x.path for x in llm_server.requests}
    assert "/v1/messages/batches" in paths and "/v1/messages" not in paths
    assert all(
        out.startswith("Summarize: ticket number") for out, _ in _results(p, _run_dir(p)).values()
    )


def test_limits_split_the_calls_into_several_batches(batchy, llm_server, project):
    write_config(project.root, llm_server, extra=PRICES, batch=True, batch_max_requests=4)
    assert project.run("eval", "--batch").code == 0
    assert llm_server.batches.submitted == 2 and llm_server.batches.lines_submitted == 6


def test_errored_and_expired_lines_are_retried_live_or_in_a_follow_up_batch(batchy, llm_server):
    p = batchy
    llm_server.batches.error_first = 2
    r = p.run("eval", "--batch", "--fresh")
    assert r.code == 0, r.err
    chat = [x for x in llm_server.requests if x.path.endswith("/chat/completions")]
    assert len(chat) == 2 and llm_server.batches.submitted == 1
    llm_server.reset()
    llm_server.batches.expire, llm_server.batches.expire_after = True, 4
    r = p.run("eval", "--batch", "--fresh", "--batch-retry", "batch")
    assert r.code == 0, r.err
    assert llm_server.batches.submitted == 2  # the 2 expired lines went in a follow-up batch


def test_no_wait_submits_then_resume_collects_without_submitting_again(batchy, llm_server):
    p = batchy
    r = p.run("eval", "--batch", "--no-wait")
    assert r.code == 0, r.err
    assert "batches submitted and recorded in run" in r.err and "eval --resume" in r.err
    assert llm_server.batches.submitted == 1
    run = Path(_run_dir(p))
    recorded = [json.loads(x) for x in (run / "batches.jsonl").read_text().splitlines()]
    assert recorded[0]["event"] == "submitted" and len(recorded[0]["custom_ids"]) == 6
    s = p.run("batch", "status", "--format", "json")
    assert s.code == 0 and json.loads(s.out)[0]["requests"] == 6
    r = p.run("eval", "--resume", run.name)
    assert r.code == 0, r.err
    assert llm_server.batches.submitted == 1  # re-attached, never submitted twice
    # collected from the batch at its price: nothing was asked again live
    assert not [x for x in llm_server.requests if x.path.endswith("/chat/completions")]
    assert len(_results(p, str(run))) == 6
    summary = json.loads((run / "summary.json").read_text())
    assert summary["batch_calls"] == 6 and summary["batch_saved_usd"] > 0  # the batch price
    assert "(batch 6 calls, saved $" in r.out


def test_ctrl_c_after_submission_then_resume_collects_the_same_batch(batchy, llm_server):
    p = batchy
    env = {**os.environ, "PROMPTCTL_BATCH_POLL_S": "30"}  # it waits on the poll when killed
    proc = subprocess.Popen(
        [sys.executable, "-m", "promptctl", "eval", "--batch"],
        cwd=p.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # the batch is created, then polled once: both logged by the fake
        assert llm_server.wait_for_requests(3, timeout=30)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert llm_server.batches.submitted == 1
    r = p.run("eval", "--resume")
    assert r.code == 0, r.err
    assert llm_server.batches.submitted == 1
    # collected from the batch: nothing was asked again live
    assert not [x for x in llm_server.requests if x.path.endswith("/chat/completions")]


@pytest.mark.parametrize(
    ("knob", "value", "message"),
    [
        ("status_override", "haunted", "unknown status 'haunted'"),
        ("poll_status", 401, "refused the key (HTTP 401)"),
        ("max_upload_bytes", 10, "refused as too large (HTTP 413)"),
    ],
)
def test_broken_batch_apis_are_exit_3_with_the_batch_kept(batchy, llm_server, knob, value, message):
    p = batchy
    setattr(llm_server.batches, knob, value)
    r = p.run("eval", "--batch")
    assert r.code == 3, r.out + r.err
    assert message in r.err and FAKE_KEY not in r.out + r.err
    assert "Traceback" not in r.err
    # the batch failed as a whole: not blamed on a case (six pairs got the same error)
    assert "(repeat 0)" not in r.err, r.err


def test_missing_lines_go_live_and_strange_lines_are_ignored(batchy, llm_server):
    p = batchy
    llm_server.batches.missing_ids = {"will-not-match"}  # harmless
    llm_server.batches.error_first = 0
    r = p.run("eval", "--batch", "--fresh")
    assert r.code == 0, r.err


def test_dry_run_with_batch_estimates_the_discount(batchy):
    p = batchy
    live = p.run("eval", "--dry-run", "--format", "json")
    batch = p.run("eval", "--dry-run", "--batch", "--format", "json")
    assert live.code == batch.code == 0
    a = json.loads(live.out)[0]["estimated_cost_usd"]
    b = json.loads(batch.out)[0]["estimated_cost_usd"]
    assert a > 0 and b == pytest.approx(a / 2)


def test_no_wait_without_batch_is_exit_2(batchy):
    r = batchy.run("eval", "--no-wait")
    assert r.code == 2 and "--no-wait goes with --batch" in r.err


def test_judge_calls_go_in_a_second_batch_after_the_first_returns(batchy, llm_server):
    p = batchy
    p.write(
        "evals/summarize.yaml",
        SUITE.replace(
            "scorers:\n",
            "scorers:\n  - {id: good, type: llm-judge, model: fake/judge, rubric: 'Is it good?', "
            "scale: [1, 5], pass: 3}\n",
        ),
        dedent=False,
    )
    llm_server.default = Scripted.text('{"reason": "fine", "score": 4}')
    r = p.run("eval", "--batch", "--format", "json")
    assert r.code in (0, 1), r.err
    assert llm_server.batches.submitted == 2
    assert llm_server.batches.lines_submitted == 12  # 6 candidates, then 6 judge calls
    results = _results(p, json.loads(r.out)["suites"][0]["run_dir"])
    assert all(scores["good"]["passed"] for _out, scores in results.values())


def test_a_provider_without_a_batch_api_is_named_and_called_live(batchy, llm_server, project):
    """--batch asks for half the price: a provider it cannot apply to is said once, not
    silently called at the full price."""
    write_config(project.root, llm_server, extra=PRICES, max_retries=0)  # no `batch: true`
    r = project.run("eval", "--batch", "--fresh")
    assert r.code == 0, r.err
    assert r.err.count("--batch: provider 'fake' has no batch API") == 1, r.err
    assert "`batch: true` in promptctl.yaml" in r.err
    assert llm_server.batches.submitted == 0
    assert len([x for x in llm_server.requests if x.path.endswith("/chat/completions")]) == 6
    project.write("prompts/summarize.yaml", PROMPT.format(model="mock/echo"), dedent=False)
    r = project.run("eval", "--batch", "--fresh")
    assert "--batch: provider 'mock' answers in this process" in r.err, r.err


def test_a_model_without_a_price_has_an_unknown_saving_not_zero(batchy, llm_server, project):
    """Cost unknown (no price) must not come with "saved $0.0000": the saving is unknown too."""
    write_config(project.root, llm_server, batch=True, max_retries=0)  # no prices: block
    project.write("prompts/summarize.yaml", PROMPT.format(model="fake/unpriced"), dedent=False)
    r = project.run("eval", "--batch", "--fresh", "--markdown", "m.md")
    assert r.code == 0, r.err
    assert "cost unknown (batch 6 calls, saved unknown)" in r.out, r.out
    summary = json.loads((Path(_run_dir(project)) / "summary.json").read_text())
    assert summary["cost_usd"] is None and summary["batch_saved_usd"] is None
    assert "saving unknown" in project.read("m.md")
