"""`promptctl drift` against the loopback fake provider: the model moves, the label does not."""

from __future__ import annotations

import json

import pytest

from tests.conftest import FAKE_KEY
from tests.fakes.llm_server import Scripted, write_config
from tests.integration.test_git_history import PROMPT, SUITE, seed

CASES = "".join(f"  - {{id: c{i}, vars: {{ticket: ticket {i}}}}}\n" for i in range(20))
BIG_SUITE = (
    SUITE.split("cases:")[0]
    + "cases:\n"
    + CASES
    + SUITE.split("\nscorers:")[1].join(["scorers:", ""])
)


@pytest.fixture
def labelled(git_project, llm_server, monkeypatch):
    """summarize on the fake provider, baseline committed, production pointing at it."""
    p = git_project
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    write_config(p.root, llm_server, max_retries=0)
    seed(p, prompt=PROMPT.replace("mock/echo", "fake/gpt-test"))
    assert p.run("eval", "--update-baseline").code == 0
    p.commit("baseline")
    r = p.run("promote", "summarize", "--to", "production", "--commit")
    assert r.code == 0, r.err
    return p


def _drift(p, *argv: str) -> tuple[int, dict]:
    r = p.run("drift", "--format", "json", *argv)
    return r.code, json.loads(r.out) if r.out else {"err": r.err}


def test_an_unchanged_model_is_stable_and_every_call_is_fresh(labelled, llm_server):
    before = llm_server.total
    code, out = _drift(labelled)
    assert code == 0, out
    [s] = out["suites"]
    assert (s["suite"], s["status"]) == ("summarize", "stable")
    assert s["served_models"] == ["gpt-test"]
    assert llm_server.total - before == 2  # no replay, no cache: both cases asked again
    assert s["compared_outputs"] == 2 and s["changed_outputs"] == 0


def test_a_model_that_moved_under_the_label_is_a_regression(labelled, llm_server):
    llm_server.default = Scripted.text("I cannot help with that.")
    r = labelled.run("drift")
    assert r.code == 1, r.out + r.err
    row = next(x for x in r.out.splitlines() if x.startswith("summarize "))
    assert "REGRESSED" in row and "worse now: has, starts" in row
    assert "drift of label production:" in r.out


def test_outputs_that_moved_while_the_rates_held_are_changed(labelled, llm_server):
    llm_server.default = Scripted.text("Summarize: the same thing, worded anew")
    code, out = _drift(labelled)
    assert code == 0, out
    [s] = out["suites"]
    assert s["status"] == "changed" and s["changed_outputs"] == 2
    assert "2 of 2 outputs differ" in s["detail"]


def test_an_outage_is_unmeasured_exit_3(labelled, llm_server):
    llm_server.default = Scripted.error(503)
    code, out = _drift(labelled)
    assert code == 3, out
    [s] = out["suites"]
    assert s["status"] == "unmeasured"


def test_sample_takes_critical_cases_and_a_seeded_subset(git_project, monkeypatch):
    p = git_project
    seed(p, suite=BIG_SUITE.replace("{id: c0,", "{id: c0, critical: true,"))
    assert p.run("eval", "--update-baseline").code == 0
    p.commit("baseline")
    assert p.run("promote", "summarize", "--to", "production").code == 0
    code, out = _drift(p, "--sample", "3")
    assert code == 0, out
    [s] = out["suites"]
    assert s["status"] == "stable"
    results = (p.root / s["run"] / "results.jsonl").read_text().splitlines()
    ids = {json.loads(line)["case_id"] for line in results}
    assert len(ids) == 4 and "c0" in ids
    # the same sample all day
    _code, again = _drift(p, "--sample", "3")
    results2 = (p.root / again["suites"][0]["run"] / "results.jsonl").read_text().splitlines()
    assert {json.loads(line)["case_id"] for line in results2} == ids


def test_a_label_no_prompt_has_is_exit_2(git_project):
    p = git_project
    seed(p)
    r = p.run("drift", "--label", "production")
    assert r.code == 2 and "no prompt has the label 'production'" in r.err


def test_a_labelled_version_without_its_baseline_is_unmeasured(labelled):
    p = labelled
    p.write("prompts/summarize.yaml", PROMPT.replace("mock/echo", "fake/gpt-2"), dedent=False)
    p.commit("v2, never evaluated")
    r = p.run("promote", "summarize", "--to", "production", "--force", "--reason", "test")
    assert r.code == 0, r.err
    code, out = _drift(p)
    assert code == 3
    assert out["suites"][0]["status"] == "unmeasured"
    assert "no committed baseline of version" in out["suites"][0]["detail"]


def test_drift_batch_asks_the_model_again_through_one_batch(labelled, llm_server, monkeypatch):
    """Issue 18: `drift --batch` sends the fresh calls as a provider batch, never live, and
    reaches the same verdict."""
    monkeypatch.setenv("PROMPTCTL_BATCH_POLL_S", "0.01")
    monkeypatch.setenv("PROMPTCTL_BATCH_LINGER_S", "0.02")
    write_config(labelled.root, llm_server, max_retries=0, batch=True)
    llm_server.reset()
    code, out = _drift(labelled, "--batch")
    assert code == 0, out
    [s] = out["suites"]
    assert s["status"] == "stable" and s["compared_outputs"] == 2
    assert llm_server.batches.submitted == 1 and llm_server.batches.lines_submitted == 2
    assert not [x for x in llm_server.requests if x.path.endswith("/chat/completions")]
    llm_server.default = Scripted.text("I cannot help with that.")
    code, out = _drift(labelled, "--batch", "--batch-retry", "sometimes")
    assert code == 2 and "batch-retry" in out["err"]


def test_the_daily_workflow_reports_outputs_that_moved_while_the_rates_held(
    labelled, llm_server, tmp_path
):
    """A new model snapshot that words every reply anew passes the gate (exit 0): the generated
    workflow's own test on drift's output still opens the issue docs/models.md promises."""
    import re
    import subprocess

    from promptctl.project import scaffold

    template = scaffold.render_template("github-drift.yml")
    [test] = re.findall(r"^\s*(if grep .*drift\.txt.*)$", template, flags=re.M)
    moved = test.replace("moved=true", "echo moved")

    def workflow_says(text: str) -> str:
        (tmp_path / "drift.txt").write_text(text)
        done = subprocess.run(["bash", "-c", moved], cwd=tmp_path, capture_output=True, text=True)
        return done.stdout.strip()

    r = labelled.run("drift")
    assert r.code == 0 and workflow_says(r.out) == ""  # stable: no issue
    llm_server.default = Scripted.text("Summarize: the same thing, worded anew")
    r = labelled.run("drift")
    assert r.code == 0 and "CHANGED" in r.out, r.out
    assert workflow_says(r.out) == "moved"
