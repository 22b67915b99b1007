"""The promotion policy: promote, rollout and `policy check` in real temporary git repositories."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from promptctl.labels import serving
from tests.integration.test_git_history import PROMPT, seed, version_of

POLICY = """\
policy:
  labels:
    staging: {from: null}
    production:
      {from: staging, min_soak: 24h, protected: true, require_suites: [summarize], force: false}
    canary: {rollout: {steps: [5, 25, 100]}}
"""


def _evidence(p) -> str:
    r = p.run("eval", "--update-baseline")
    assert r.code == 0, r.err
    p.commit("baseline")
    return version_of(p)


@pytest.fixture
def governed(git_project, monkeypatch):
    p = git_project
    p.write("promptctl.yaml", POLICY, dedent=False)
    seed(p)
    v = _evidence(p)
    serving.clear()
    return p, v


def test_promote_to_production_needs_staging_first(governed):
    p, _v = governed
    r = p.run("promote", "summarize", "--to", "production")
    assert r.code == 1, r.err
    assert "promotion refused" in r.err
    assert "takes only versions that held staging" in r.err
    assert not (p.root / "labels.yaml").exists()


def test_promote_after_the_soak_passes(governed, monkeypatch):
    p, v = governed
    assert p.run("promote", "summarize", "--to", "staging").code == 0
    # staging took the version two days ago (the commit's date is what counts)
    when = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)).isoformat()
    monkeypatch.setenv("GIT_COMMITTER_DATE", when)
    monkeypatch.setenv("GIT_AUTHOR_DATE", when)
    p.commit("staging")
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    monkeypatch.delenv("GIT_AUTHOR_DATE")
    r = p.run("promote", "summarize", "--to", "production", "--commit")
    assert r.code == 0, r.err
    assert f"promoted summarize production: (unset) -> {v}" in r.out


def test_promote_before_the_soak_is_refused_naming_the_rule(governed):
    p, _v = governed
    assert p.run("promote", "summarize", "--to", "staging", "--commit").code == 0
    before = (p.root / "labels.yaml").read_bytes()
    r = p.run("promote", "summarize", "--to", "production")
    assert r.code == 1
    assert "less than min_soak 24.0h" in r.err
    assert (p.root / "labels.yaml").read_bytes() == before


def test_force_is_refused_where_the_policy_says_force_false(governed):
    p, _v = governed
    r = p.run("promote", "summarize", "--to", "production", "--force", "--reason", "hotfix")
    assert r.code == 1
    assert "may not be forced (force: false)" in r.err


def test_policy_check_fails_a_hand_edit_that_jumps_production_past_staging(governed):
    p, v = governed
    p.git("branch", "base")
    # the "pull request": loosen the policy AND hand-edit labels.yaml in one change
    p.write("promptctl.yaml", "policy: {labels: {}}\n", dedent=False)
    p.write("labels.yaml", f"summarize:\n  production: {{version: {v}}}\n", dedent=False)
    p.commit("hand edit")
    r = p.run("policy", "check", "--base", "base")
    assert r.code == 1, r.out + r.err
    assert f"summarize production: (unset) -> {v}" in r.out
    assert "held staging first" in r.err and "[from]" in r.err
    j = p.run("policy", "check", "--base", "base", "--format", "json")
    assert j.code == 1
    assert {x["rule"] for x in json.loads(j.out)["violations"]} == {"from"}


def test_policy_check_passes_a_move_made_by_promote_after_the_soak(governed, monkeypatch):
    p, _v = governed
    assert p.run("promote", "summarize", "--to", "staging").code == 0
    when = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)).isoformat()
    monkeypatch.setenv("GIT_COMMITTER_DATE", when)
    p.commit("staging")
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    p.git("branch", "base")
    assert p.run("promote", "summarize", "--to", "production").code == 0
    p.commit("promote production")
    r = p.run("policy", "check", "--base", "base")
    assert r.code == 0, r.err
    assert "1 label move(s) since base, 0 against the policy" in r.out


def test_policy_check_with_no_moves_passes(governed):
    p, _v = governed
    r = p.run("policy", "check")
    assert r.code == 0 and "0 label move(s) since HEAD" in r.out


def test_a_rollout_label_moves_only_through_rollout_steps(governed):
    p, v1 = governed
    p.write("labels.yaml", f"summarize:\n  canary: {{version: {v1}}}\n", dedent=False)
    p.commit("canary by hand, before the policy mattered")
    p.write("prompts/summarize.yaml", PROMPT.replace("0.2", "0.3"), dedent=False)
    p.commit("v2")
    v2 = _evidence(p)
    r = p.run("promote", "summarize", "--to", "canary")
    assert r.code == 1 and "only through a rollout" in r.err
    assert (
        p.run(
            "rollout", "start", "summarize", "--label", "canary", "--to", v2, "--percent", "5"
        ).code
        == 0
    )
    r = p.run("rollout", "step", "summarize", "--label", "canary", "--percent", "100")
    assert r.code == 2 and "widen to 25% first" in r.err
    r = p.run("rollout", "finish", "summarize", "--label", "canary")
    assert r.code == 1 and "missing 25%" in r.err
    assert p.run("rollout", "step", "summarize", "--label", "canary", "--percent", "25").code == 0
    r = p.run("rollout", "finish", "summarize", "--label", "canary")
    assert r.code == 0, r.err


def test_a_rollout_label_gets_its_first_version_by_promote(governed):
    """A rollout needs a stable arm: a label that serves nothing yet is set by promote (with
    evidence), and `policy check` agrees; from then on it moves only through rollouts."""
    p, v1 = governed
    r = p.run("promote", "summarize", "--to", "canary", "--commit")
    assert r.code == 0, r.err
    assert p.run("policy", "check", "--base", "HEAD~1").code == 0
    p.write("prompts/summarize.yaml", PROMPT.replace("0.2", "0.3"), dedent=False)
    p.commit("v2")
    v2 = _evidence(p)
    r = p.run("promote", "summarize", "--to", "canary")
    assert r.code == 1 and "only through a rollout" in r.err
    # a start that skips the first declared step could never finish: refused up front
    r = p.run("rollout", "start", "summarize", "--label", "canary", "--to", v2, "--percent", "10")
    assert r.code == 2 and "widen to 5% first" in r.err
    assert "rollout" not in (p.root / "labels.yaml").read_text()
    start = ("rollout", "start", "summarize", "--label", "canary", "--to", v2, "--percent", "5")
    assert p.run(*start).code == 0
    assert v1 != v2


def test_rollback_to_a_version_a_protected_label_never_served_is_held_to_the_policy(governed):
    """Back to a version production served is a rollback; `--to` one it never served is a
    move forward, and the policy check CI runs would reject it: refused before any commit."""
    p, v1 = governed
    p.write("labels.yaml", f"summarize:\n  production: {{version: {v1}}}\n", dedent=False)
    p.commit("production by hand")
    p.write("prompts/summarize.yaml", PROMPT.replace("0.2", "0.3"), dedent=False)
    p.commit("v2")
    v2 = _evidence(p)
    before = (p.root / "labels.yaml").read_bytes()
    r = p.run("rollback", "summarize", "--label", "production", "--to", v2, "--commit")
    assert r.code == 1, r.out + r.err
    assert "rollback refused" in r.err and f"never served {v2}" in r.err
    assert "held staging first" in r.err
    assert (p.root / "labels.yaml").read_bytes() == before


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("policy: {labels: {production: {from: stagin}}}\n", "does not declare"),
        (
            "policy: {labels: {staging: {}, production: {from: staging, min_soak: soon}}}\n",
            "is not a duration",
        ),
        ("policy: {labels: {canary: {rollout: {steps: [50, 5]}}}}\n", "rising percents"),
        ("policy: {labels: {production: {protect: true}}}\n", "did you mean 'protected'"),
    ],
)
def test_a_bad_policy_is_exit_2_at_its_line(git_project, policy, message):
    p = git_project
    p.write("promptctl.yaml", policy, dedent=False)
    seed(p)
    r = p.run("promote", "summarize", "--to", "production")
    assert r.code == 2, r.err
    assert "promptctl.yaml:1:" in r.err and message in r.err
    lint = p.run("lint")
    assert lint.code == 1 and message in lint.out + lint.err


def test_a_policy_naming_an_unknown_suite_is_exit_2(git_project):
    p = git_project
    p.write(
        "promptctl.yaml",
        "policy: {labels: {production: {require_suites: [safety]}}}\n",
        dedent=False,
    )
    seed(p)
    _evidence(p)
    r = p.run("promote", "summarize", "--to", "production")
    assert r.code == 2 and "require_suites names 'safety'" in r.err
    assert not (p.root / "labels.yaml").exists()
    lint = p.run("lint")
    assert lint.code == 1 and "PC310" in lint.out and "require_suites names 'safety'" in lint.out
